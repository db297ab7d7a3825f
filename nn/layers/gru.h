/// @file
/// GRU, Keras's gated recurrent unit (masked, either gate convention) as a layer over nn::gru.
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// A GRU layer's configuration. The defaults are Keras's TF2 GRU; PyTorch's nn.GRU is
/// {.gate_order = GruGateOrder::torch} (reset_after is its semantics too).
struct GRUOptions {
  int64_t input_size = 0;         ///< E
  int64_t units = 0;              ///< U
  bool return_sequences = false;  ///< forward(x) returns (N,T,U) instead of the last h (N,U)
  bool reset_after = true;        ///< false: Keras 2.0's GRU, bias (3U), reset applied before the recurrent product
  GruGateOrder gate_order = GruGateOrder::keras;                            ///< the gate blocks' order in the weights
  RecurrentActivation recurrent_activation = RecurrentActivation::sigmoid;  ///< of the z and r gates
  bool bias = true;                                                         ///< false: no "bias" parameter
};

/// Keras's GRU (nn::gru, masked like the LSTM): parameters "kernel" (E,3U) glorot-uniform, "recurrent_kernel" (U,3U)
/// orthogonal and "bias" zeros — (2,3U) with reset_after (input row, recurrent row), (3U) without.
///
/// PyTorch weights load with gru_weights_from_torch(weight_ih, weight_hh, b_ih, b_hh, order) and copy_from into
/// kernel(), recurrent_kernel() and bias(), `order` being this layer's gate_order (either works: keras reorders the
/// blocks r, z, n to z, r, h).
class GRU : public Layer {
 public:
  /// Throws nn::Error unless input_size > 0 and units > 0.
  explicit GRU(const GRUOptions& options, Generator& gen = default_generator());
  /// x (N,T,E) without a mask → (N,T,U) with return_sequences, else the last h (N,U).
  Tensor forward(const Tensor& x) override;
  /// x (N,T,E), mask (N,T) (undefined: no mask), initial_h (N,U) (undefined: zeros): every step's output and the
  /// last state.
  GruResult forward(const Tensor& x, const Tensor& mask, const Tensor& initial_h = {});
  std::string to_string() const override;

  /// The configuration it was built with.
  const GRUOptions& options() const { return options_; }
  /// The three parameters, as nn::gru takes them.
  GruWeights weights() const { return {kernel_, recurrent_kernel_, bias_}; }
  /// The "kernel" parameter (E,3U).
  Tensor kernel() const { return kernel_; }
  /// The "recurrent_kernel" parameter (U,3U).
  Tensor recurrent_kernel() const { return recurrent_kernel_; }
  Tensor bias() const { return bias_; }  ///< undefined without bias

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<GRU>(options_, scratch_generator()); }
  GRUOptions options_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

}  // namespace nn
