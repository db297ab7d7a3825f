#pragma once

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

struct EmbeddingOptions {
  int64_t vocab = 0;       // V: ids in [0, V)
  int64_t dim = 0;         // E
  bool mask_zero = false;  // id 0 is padding: mask() marks it 0
};

// ids (N, T) → (N, T, E). Parameter "embeddings" (V, E), uniform(−0.05, 0.05) as Keras.
class Embedding : public Module {
 public:
  explicit Embedding(const EmbeddingOptions& options, Generator& gen = default_generator());
  Tensor forward(const Indices& ids);
  Tensor operator()(const Indices& ids) { return forward(ids); }
  // (ids' shape) with 1 where the id is not 0, 0 where it is; all ones unless mask_zero.
  Tensor mask(const Indices& ids) const;
  std::string to_string() const override;

  const EmbeddingOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }

 private:
  EmbeddingOptions options_;
  Tensor weight_;
};

}  // namespace nn
