#include "nn/layers/lstm.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

LSTM::LSTM(const LSTMOptions& options, Generator& gen) : options_(options) {
  if (options.input_size <= 0 || options.units <= 0) {
    fail_expected("LSTM", "input_size > 0 and units > 0",
                  "input_size=" + std::to_string(options.input_size) + ", units=" + std::to_string(options.units));
  }
  int64_t u = options.units;
  kernel_ = register_parameter("kernel", init::glorot_uniform({options.input_size, 4 * u}, gen));
  recurrent_kernel_ = register_parameter("recurrent_kernel", init::orthogonal({u, 4 * u}, gen));
  Tensor bias = Tensor::zeros({4 * u});
  if (options.unit_forget_bias) {
    for (int64_t j = u; j < 2 * u; ++j) bias.data()[j] = 1.0f;
  }
  bias_ = register_parameter("bias", bias);
}

Tensor LSTM::forward(const Tensor& x) {
  LstmResult r = forward(x, Tensor());
  return options_.return_sequences ? r.outputs : r.h;
}

LstmResult LSTM::forward(const Tensor& x, const Tensor& mask, const Tensor& initial_h, const Tensor& initial_c) {
  return lstm(x, weights(),
              {.mask = mask,
               .initial_h = initial_h,
               .initial_c = initial_c,
               .recurrent_activation = options_.recurrent_activation});
}

std::string LSTM::to_string() const {
  return "LSTM(input_size=" + std::to_string(options_.input_size) + ", units=" + std::to_string(options_.units) +
         (options_.return_sequences ? ", return_sequences=true" : "") +
         (options_.recurrent_activation == RecurrentActivation::hard_sigmoid ? ", recurrent_activation=hard_sigmoid"
                                                                             : "") +
         ")";
}

}  // namespace nn
