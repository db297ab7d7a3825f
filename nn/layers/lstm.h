/// @file
/// LSTM, Keras's long short-term memory layer over a whole sequence (nn::lstm in nn/ops/ops.h underneath).
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// LSTM's configuration: `LSTM({.input_size = 64, .units = 128, .return_sequences = true})`.
struct LSTMOptions {
  int64_t input_size = 0;         ///< E
  int64_t units = 0;              ///< U
  bool return_sequences = false;  ///< forward(x) returns (N,T,U) instead of the last h (N,U)
  /// The gates' activation: Keras's sigmoid, or hard_sigmoid as older Keras models use.
  RecurrentActivation recurrent_activation = RecurrentActivation::sigmoid;
  bool unit_forget_bias = true;  ///< forget-gate bias starts at 1, as Keras
};

/// Keras's LSTM: parameters "kernel" (E,4U) glorot-uniform, "recurrent_kernel" (U,4U) orthogonal, "bias" (4U)
/// zeros (ones in the forget block with unit_forget_bias); gate order i, f, c, o.
class LSTM : public Layer {
 public:
  /// Draws the kernels from `gen`; throws nn::Error unless input_size > 0 and units > 0.
  explicit LSTM(const LSTMOptions& options, Generator& gen = default_generator());
  /// x (N,T,E) without a mask → (N,T,U) with return_sequences, else the last h (N,U).
  /// Another shape of x is an nn::Error with the shapes.
  Tensor forward(const Tensor& x) override;
  /// x (N,T,E), mask (N,T) (undefined: no mask): every step's output and the last state.
  /// initial_h and initial_c are (N,U), undefined for zeros; a masked step carries (h, c) unchanged.
  /// Shapes that do not fit are an nn::Error naming the tensor.
  LstmResult forward(const Tensor& x, const Tensor& mask, const Tensor& initial_h = {}, const Tensor& initial_c = {});
  /// "LSTM(input_size=64, units=128, return_sequences=true)".
  std::string to_string() const override;

  const LSTMOptions& options() const { return options_; }                      ///< as constructed
  LstmWeights weights() const { return {kernel_, recurrent_kernel_, bias_}; }  ///< the three parameters, for nn::lstm

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<LSTM>(options_, scratch_generator());
  }
  LSTMOptions options_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

}  // namespace nn
