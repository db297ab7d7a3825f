// depthwise_conv2d: each channel of x (N,H,W,C) convolved with its own filter of weight (KH,KW,C,1);
// separable_conv2d composes it with a pointwise conv2d. bf16 x and weight run the backend's bf16 kernel; other mixes,
// and bf16 inputs that need a gradient, take the conversion path (nn/ops/convert.h): the backward is f32 only.
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/window.h"

namespace nn {

Tensor depthwise_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options) {
  if (weight.rank() != 4 || weight.dim(3) != 1) {
    fail_expected("depthwise_conv2d", "a weight of shape (KH,KW,C,1) (depth multiplier 1)", to_string(weight.shape()));
  }
  if (x.rank() == 4 && x.dim(3) != weight.dim(2)) {
    fail_expected("depthwise_conv2d",
                  "input channels " + std::to_string(weight.dim(2)) + " (weight " + to_string(weight.shape()) + ")",
                  std::to_string(x.dim(3)) + " (input " + to_string(x.shape()) + ")");
  }
  if (bias.defined() && bias.shape() != Shape{weight.dim(2)}) {
    fail_expected("depthwise_conv2d", "a bias of shape [" + std::to_string(weight.dim(2)) + "]",
                  to_string(bias.shape()));
  }
  if (options.relu_input && needs_grad({&x, &weight, &bias})) {  // relu recorded as its own op, then the convolution
    ConvOptions plain = options;
    plain.relu_input = false;
    return depthwise_conv2d(relu(x), weight, bias, plain);
  }
  const DType dtype = detail::result_dtype({x, weight});
  if (detail::any_low_precision({x, weight, bias}) && (dtype != DType::bf16 || needs_grad({&x, &weight, &bias}))) {
    return depthwise_conv2d(detail::to_f32(x), detail::to_f32(weight), detail::to_f32(bias), options).to(dtype);
  }
  kernels::Window2D g = plan_window(
      "depthwise_conv2d", x.shape(),
      {weight.dim(0), weight.dim(1), options.strides[0], options.strides[1], options.padding}, weight.dim(2));
  g.relu_input = options.relu_input;  // only without a gradient (above): the backward never sees it
  const Backend& be = backend_for(x);
  const Tensor bias_f32 = detail::to_f32(bias);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c}, dtype);
  be.depthwise_forward(g, dtype, x.raw_data(), weight.raw_data(), bias_f32.defined() ? bias_f32.data() : nullptr,
                       y.raw_data());
  record("depthwise_conv2d", {x, weight, bias}, y, [g, x, weight, bias](const Tensor& dy) {
    const Backend& be = backend_for(dy);
    Tensor dx, dw, db;
    Tensor workspace = Tensor::empty({be.depthwise_workspace(g)});
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      be.depthwise_backward_input(g, dy.data(), weight.data(), dx.data(), workspace.data());
    }
    if (weight.requires_grad()) {
      dw = Tensor::empty(weight.shape());
      be.depthwise_backward_weight(g, x.data(), dy.data(), dw.data(), workspace.data());
    }
    if (bias.defined() && bias.requires_grad()) {
      db = Tensor::empty(bias.shape());
      be.bias_backward(g.n * g.oh * g.ow, g.c, dy.data(), db.data());
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

Tensor separable_conv2d(const Tensor& x, const Tensor& depthwise_weight, const Tensor& pointwise_weight,
                        const Tensor& bias, const ConvOptions& options) {
  if (pointwise_weight.rank() != 4 || pointwise_weight.dim(0) != 1 || pointwise_weight.dim(1) != 1) {
    fail_expected("separable_conv2d", "a pointwise weight of shape (1,1,C,OC)", to_string(pointwise_weight.shape()));
  }
  return conv2d(depthwise_conv2d(x, depthwise_weight, Tensor(), options), pointwise_weight, bias);  // 1×1, plain
}

}  // namespace nn
