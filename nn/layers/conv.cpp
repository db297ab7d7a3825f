#include "nn/layers/conv.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

namespace {

void check_positive(const char* layer, const char* what, int64_t value) {
  if (value <= 0) fail_expected(layer, std::string(what) + " > 0", std::to_string(value));
}

std::string describe(std::array<int64_t, 2> kernel, std::array<int64_t, 2> strides, Padding padding) {
  return "kernel=" + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) +
         ", strides=" + std::to_string(strides[0]) + "x" + std::to_string(strides[1]) +
         ", padding=" + to_string(padding);
}

}  // namespace

Conv2D::Conv2D(const Conv2DOptions& o, Generator& gen) : options_(o) {
  check_positive("Conv2D", "in_channels", o.in_channels);
  check_positive("Conv2D", "filters", o.filters);
  kernel_ = register_parameter(
      "kernel", init::glorot_uniform({o.kernel_size[0], o.kernel_size[1], o.in_channels, o.filters}, gen));
  if (o.use_bias) bias_ = register_parameter("bias", Tensor::zeros({o.filters}));
}

Tensor Conv2D::forward(const Tensor& x) {
  return activate(conv2d(x, kernel_, bias_, {options_.strides, options_.padding}), options_.activation);
}

std::string Conv2D::to_string() const {
  return "Conv2D(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.filters) + ", " +
         describe(options_.kernel_size, options_.strides, options_.padding) +
         (options_.use_bias ? "" : ", use_bias=false") +
         (options_.activation == Activation::linear
              ? ""
              : std::string(", activation=") + nn::to_string(options_.activation)) +
         ")";
}

DepthwiseConv2D::DepthwiseConv2D(const DepthwiseConv2DOptions& o, Generator& gen) : options_(o) {
  check_positive("DepthwiseConv2D", "channels", o.channels);
  kernel_ = register_parameter("depthwise_kernel",
                               init::glorot_uniform({o.kernel_size[0], o.kernel_size[1], o.channels, 1}, gen));
  if (o.use_bias) bias_ = register_parameter("bias", Tensor::zeros({o.channels}));
}

Tensor DepthwiseConv2D::forward(const Tensor& x) {
  return depthwise_conv2d(x, kernel_, bias_, {options_.strides, options_.padding});
}

std::string DepthwiseConv2D::to_string() const {
  return "DepthwiseConv2D(" + std::to_string(options_.channels) + ", " +
         describe(options_.kernel_size, options_.strides, options_.padding) +
         (options_.use_bias ? "" : ", use_bias=false") + ")";
}

SeparableConv2D::SeparableConv2D(const SeparableConv2DOptions& o, Generator& gen) : options_(o) {
  check_positive("SeparableConv2D", "in_channels", o.in_channels);
  check_positive("SeparableConv2D", "filters", o.filters);
  depthwise_ = register_parameter("depthwise_kernel",
                                  init::glorot_uniform({o.kernel_size[0], o.kernel_size[1], o.in_channels, 1}, gen));
  pointwise_ = register_parameter("pointwise_kernel", init::glorot_uniform({1, 1, o.in_channels, o.filters}, gen));
  if (o.use_bias) bias_ = register_parameter("bias", Tensor::zeros({o.filters}));
}

Tensor SeparableConv2D::forward(const Tensor& x) {
  return separable_conv2d(
      x, depthwise_, pointwise_, bias_,
      {.strides = options_.strides, .padding = options_.padding, .relu_input = options_.relu_input});
}

std::string SeparableConv2D::to_string() const {
  return "SeparableConv2D(" + std::to_string(options_.in_channels) + "->" + std::to_string(options_.filters) + ", " +
         describe(options_.kernel_size, options_.strides, options_.padding) +
         (options_.use_bias ? "" : ", use_bias=false") + (options_.relu_input ? ", relu_input" : "") + ")";
}

}  // namespace nn
