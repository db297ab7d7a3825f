// depthwise_conv2d: each channel of x (N,H,W,C) convolved with its own filter of weight (KH,KW,C,1);
// separable_conv2d composes it with a pointwise conv2d.
#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/conv2d.h"
#include "nn/backends/cpu/depthwise.h"
#include "nn/core/error.h"
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
  const kernels::Window2D g = plan_window(
      "depthwise_conv2d", x.shape(),
      {weight.dim(0), weight.dim(1), options.strides[0], options.strides[1], options.padding}, weight.dim(2));
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c});
  kernels::depthwise_forward(g, x.data(), weight.data(), bias.defined() ? bias.data() : nullptr, y.data());
  record("depthwise_conv2d", {x, weight, bias}, y, [g, x, weight, bias](const Tensor& dy) {
    Tensor dx, dw, db;
    Tensor workspace = Tensor::empty({kernels::depthwise_workspace_floats(g)});
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      kernels::depthwise_backward_input(g, dy.data(), weight.data(), dx.data(), workspace.data());
    }
    if (weight.requires_grad()) {
      dw = Tensor::empty(weight.shape());
      kernels::depthwise_backward_weight(g, x.data(), dy.data(), dw.data(), workspace.data());
    }
    if (bias.defined() && bias.requires_grad()) {
      db = Tensor::empty(bias.shape());
      kernels::bias_backward(g.n * g.oh * g.ow, g.c, dy.data(), db.data());
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
  return conv2d(depthwise_conv2d(x, depthwise_weight, Tensor(), options), pointwise_weight, bias);
}

}  // namespace nn
