/// @file
/// Embedding, Keras's lookup table of vectors for integer ids.
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// Embedding's configuration: `Embedding({.vocab = 5000, .dim = 256, .mask_zero = true})`.
struct EmbeddingOptions {
  int64_t vocab = 0;       ///< V: ids in [0, V)
  int64_t dim = 0;         ///< E
  bool mask_zero = false;  ///< id 0 is padding: mask() marks it 0
};

/// ids (N, T) → (N, T, E). Parameter "embeddings" (V, E), uniform(−0.05, 0.05) as Keras.
class Embedding : public Module {
 public:
  /// Draws the table from `gen`; throws nn::Error unless vocab > 0 and dim > 0.
  explicit Embedding(const EmbeddingOptions& options, Generator& gen = default_generator());
  /// ids of any shape S → S + [E]; an id outside [0, V) is an nn::Error naming it.
  Tensor forward(const Indices& ids);
  /// forward(ids).
  Tensor operator()(const Indices& ids) { return forward(ids); }
  /// (ids' shape) with 1 where the id is not 0, 0 where it is; all ones unless mask_zero.
  Tensor mask(const Indices& ids) const;
  /// "Embedding(vocab=5000, dim=256, mask_zero=true)".
  std::string to_string() const override;

  const EmbeddingOptions& options() const { return options_; }  ///< as constructed
  Tensor weight() const { return weight_; }                     ///< (V, E), registered as "embeddings"

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<Embedding>(options_, scratch_generator());
  }
  EmbeddingOptions options_;
  Tensor weight_;
};

}  // namespace nn
