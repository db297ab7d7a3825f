#pragma once

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

struct LSTMOptions {
  int64_t input_size = 0;         // E
  int64_t units = 0;              // U
  bool return_sequences = false;  // forward(x) returns (N,T,U) instead of the last h (N,U)
  RecurrentActivation recurrent_activation = RecurrentActivation::sigmoid;
  bool unit_forget_bias = true;  // forget-gate bias starts at 1, as Keras
};

// Keras's LSTM: parameters "kernel" (E,4U) glorot-uniform, "recurrent_kernel" (U,4U) orthogonal, "bias" (4U)
// zeros (ones in the forget block with unit_forget_bias); gate order i, f, c, o.
class LSTM : public Layer {
 public:
  explicit LSTM(const LSTMOptions& options, Generator& gen = default_generator());
  // x (N,T,E) without a mask.
  Tensor forward(const Tensor& x) override;
  // x (N,T,E), mask (N,T) (undefined: no mask): every step's output and the last state.
  LstmResult forward(const Tensor& x, const Tensor& mask, const Tensor& initial_h = {}, const Tensor& initial_c = {});
  std::string to_string() const override;

  const LSTMOptions& options() const { return options_; }
  LstmWeights weights() const { return {kernel_, recurrent_kernel_, bias_}; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<LSTM>(options_, scratch_generator());
  }
  LSTMOptions options_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

}  // namespace nn
