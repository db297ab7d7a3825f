/// @file
/// MultiHeadAttention: projections, scaled dot-product attention per head with masks, output projection.
#pragma once

#include <memory>

#include "nn/layers/dense.h"
#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// A MultiHeadAttention's configuration; 0 means the default written beside each field.
struct MultiHeadAttentionOptions {
  int64_t embed_dim = 0;       ///< E: the query's features
  int64_t num_heads = 0;       ///< H
  int64_t key_dim = 0;         ///< D: per-head size of the query and key projections; 0: E / H (E must divide)
  int64_t value_dim = 0;       ///< Dv: per-head size of the value projection; 0: key_dim
  int64_t key_features = 0;    ///< the key's features; 0: E
  int64_t value_features = 0;  ///< the value's features; 0: key_features
  int64_t output_dim = 0;      ///< the output's features; 0: E
  bool bias = true;            ///< biases in all four projections
  float dropout = 0.0f;        ///< dropout on the attention weights in training mode (Keras's and torch's dropout)
  uint64_t seed = 0;           ///< the layer's own generator for that dropout, so runs are reproducible
};

/// Multi-head attention, Keras's MultiHeadAttention and torch.nn.MultiheadAttention(batch_first=True):
///   q = query·Wq + bq, k = key·Wk + bk, v = value·Wv + bv, split into H heads of D (Dv) features,
///   scaled_dot_product_attention per head, heads joined, then output = context·Wo + bo.
/// Children (Dense, so parameters "query.kernel" (E,H·D), "query.bias" (H·D), "key.kernel", "key.bias",
/// "value.kernel" (Ev,H·Dv), "value.bias", "attention_output.kernel" (H·Dv,output), "attention_output.bias"),
/// glorot-uniform kernels and zero biases. Keras's kernels (E,H,D) and (H,Dv,output) load by reshaping; PyTorch's
/// in_proj_weight (3E,E) splits into three (E,E) blocks q, k, v whose transposes are the kernels (with kdim/vdim:
/// q_proj_weight, k_proj_weight, v_proj_weight transposed), in_proj_bias into the three biases, and out_proj.weight
/// transposed is the output kernel.
class MultiHeadAttention : public Layer {
 public:
  /// Throws nn::Error unless embed_dim, num_heads (and the sizes given) are positive, without key_dim E is a
  /// multiple of H, and dropout is in [0, 1).
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen = default_generator());
  /// Self-attention without a mask: x (N,T,E) → (N,T,output).
  Tensor forward(const Tensor& x) override;
  /// query (N,Tq,E), key (N,Tk,Ek) (undefined: the query), value (N,Tk,Ev) (undefined: the key) →
  /// output (N,Tq,output) and the attention weights (N,H,Tq,Tk). See AttentionMask for the masks; a query with
  /// every key masked gets zero weights, so its output is the output projection's bias. Throws nn::Error with the
  /// shapes when an input does not fit.
  AttentionResult forward(const Tensor& query, const Tensor& key, const Tensor& value = {},
                          const AttentionMask& mask = {});
  std::string to_string() const override;

  const MultiHeadAttentionOptions& options() const { return options_; }  ///< with the defaults filled in
  Dense& query_projection() { return *query_; }    ///< the Dense layer that projects the query into the heads
  Dense& key_projection() { return *key_; }        ///< the Dense layer that projects the key into the heads
  Dense& value_projection() { return *value_; }    ///< the Dense layer that projects the value into the heads
  Dense& output_projection() { return *output_; }  ///< the Dense layer that maps the joined heads to the output
  /// Restarts the dropout stream (as Dropout::reseed).
  void reseed(uint64_t seed) { gen_ = Generator(seed); }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<MultiHeadAttention>(options_, scratch_generator());
  }
  MultiHeadAttentionOptions options_;
  std::shared_ptr<Dense> query_, key_, value_, output_;
  Generator gen_;
};

}  // namespace nn
