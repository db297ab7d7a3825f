#include "nn/layers/embedding.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

Embedding::Embedding(const EmbeddingOptions& options, Generator& gen) : options_(options) {
  if (options.vocab <= 0 || options.dim <= 0) {
    fail_expected("Embedding", "vocab > 0 and dim > 0",
                  "vocab=" + std::to_string(options.vocab) + ", dim=" + std::to_string(options.dim));
  }
  weight_ = register_parameter("embeddings", init::uniform({options.vocab, options.dim}, -0.05f, 0.05f, gen));
}

Tensor Embedding::forward(const Indices& ids) {
  return embedding(weight_, ids);
}

Tensor Embedding::mask(const Indices& ids) const {
  Tensor m = Tensor::empty(ids.shape);
  for (size_t i = 0; i < ids.values.size(); ++i) {
    m.data()[i] = (options_.mask_zero && ids.values[i] == 0) ? 0.0f : 1.0f;
  }
  return m;
}

std::string Embedding::to_string() const {
  return "Embedding(vocab=" + std::to_string(options_.vocab) + ", dim=" + std::to_string(options_.dim) +
         (options_.mask_zero ? ", mask_zero=true" : "") + ")";
}

}  // namespace nn
