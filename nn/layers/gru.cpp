#include "nn/layers/gru.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

GRU::GRU(const GRUOptions& options, Generator& gen) : options_(options) {
  if (options.input_size <= 0 || options.units <= 0) {
    fail_expected("GRU", "input_size > 0 and units > 0",
                  "input_size=" + std::to_string(options.input_size) + ", units=" + std::to_string(options.units));
  }
  const int64_t u = options.units;
  kernel_ = register_parameter("kernel", init::glorot_uniform({options.input_size, 3 * u}, gen));
  recurrent_kernel_ = register_parameter("recurrent_kernel", init::orthogonal({u, 3 * u}, gen));
  if (options.bias) {
    bias_ = register_parameter("bias", Tensor::zeros(options.reset_after ? Shape{2, 3 * u} : Shape{3 * u}));
  }
}

Tensor GRU::forward(const Tensor& x) {
  GruResult r = forward(x, Tensor());
  return options_.return_sequences ? r.outputs : r.h;
}

GruResult GRU::forward(const Tensor& x, const Tensor& mask, const Tensor& initial_h) {
  return gru(x, weights(),
             {.mask = mask,
              .initial_h = initial_h,
              .reset_after = options_.reset_after,
              .gate_order = options_.gate_order,
              .recurrent_activation = options_.recurrent_activation});
}

std::string GRU::to_string() const {
  std::string s = "GRU(input_size=" + std::to_string(options_.input_size) + ", units=" + std::to_string(options_.units);
  if (options_.return_sequences) s += ", return_sequences=true";
  if (!options_.reset_after) s += ", reset_after=false";
  if (options_.gate_order == GruGateOrder::torch) s += ", gate_order=torch";
  if (options_.recurrent_activation == RecurrentActivation::hard_sigmoid) s += ", recurrent_activation=hard_sigmoid";
  if (!options_.bias) s += ", bias=false";
  return s + ")";
}

}  // namespace nn
