#include "nn/layers/conv_transpose.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

Conv2DTranspose::Conv2DTranspose(const Conv2DTransposeOptions& o, Generator& gen) : options_(o) {
  if (o.in_channels <= 0 || o.filters <= 0 || o.kernel_size[0] <= 0 || o.kernel_size[1] <= 0) {
    fail_expected("Conv2DTranspose", "in_channels, filters and kernel_size > 0",
                  "in_channels=" + std::to_string(o.in_channels) + ", filters=" + std::to_string(o.filters) +
                      ", kernel_size=" + std::to_string(o.kernel_size[0]) + "x" + std::to_string(o.kernel_size[1]));
  }
  kernel_ = register_parameter(
      "kernel", init::glorot_uniform({o.kernel_size[0], o.kernel_size[1], o.filters, o.in_channels}, gen));
  if (o.use_bias) bias_ = register_parameter("bias", Tensor::zeros({o.filters}));
}

Tensor Conv2DTranspose::forward(const Tensor& x) {
  return activate(
      conv2d_transpose(
          x, kernel_, bias_,
          {.strides = options_.strides, .padding = options_.padding, .output_padding = options_.output_padding}),
      options_.activation);
}

std::string Conv2DTranspose::to_string() const {
  const auto& o = options_;
  auto pair = [](std::array<int64_t, 2> v) { return std::to_string(v[0]) + "x" + std::to_string(v[1]); };
  return "Conv2DTranspose(" + std::to_string(o.in_channels) + "->" + std::to_string(o.filters) +
         ", kernel=" + pair(o.kernel_size) + ", strides=" + pair(o.strides) + ", padding=" + nn::to_string(o.padding) +
         (o.output_padding ? ", output_padding=" + pair(*o.output_padding) : "") +
         (o.use_bias ? "" : ", use_bias=false") +
         (o.activation == Activation::linear ? "" : std::string(", activation=") + nn::to_string(o.activation)) + ")";
}

}  // namespace nn
