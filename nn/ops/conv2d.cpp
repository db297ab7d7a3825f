// conv2d: x (N,H,W,C) ⊛ weight (KH,KW,C,OC) + bias → (N,OH,OW,OC); the backward gives dx, dweight and dbias.
#include "nn/backends/cpu/conv2d.h"
#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"
#include "nn/ops/window.h"

namespace nn {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options) {
  if (weight.rank() != 4) fail_expected("conv2d", "a weight of shape (KH,KW,C,OC)", to_string(weight.shape()));
  if (x.rank() == 4 && x.dim(3) != weight.dim(2)) {
    fail_expected("conv2d",
                  "input channels " + std::to_string(weight.dim(2)) + " (weight " + to_string(weight.shape()) + ")",
                  std::to_string(x.dim(3)) + " (input " + to_string(x.shape()) + ")");
  }
  if (bias.defined() && bias.shape() != Shape{weight.dim(3)}) {
    fail_expected("conv2d", "a bias of shape [" + std::to_string(weight.dim(3)) + "]", to_string(bias.shape()));
  }
  const kernels::Window2D g = plan_window(
      "conv2d", x.shape(), {weight.dim(0), weight.dim(1), options.strides[0], options.strides[1], options.padding},
      weight.dim(3));
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.oc});
  Tensor workspace = Tensor::empty({kernels::conv2d_workspace_floats(g)});
  kernels::conv2d_forward(g, x.data(), weight.data(), bias.defined() ? bias.data() : nullptr, y.data(),
                          workspace.data());
  record("conv2d", {x, weight, bias}, y, [g, x, weight, bias](const Tensor& dy) {
    Tensor dx, dw, db;
    Tensor workspace = Tensor::empty({kernels::conv2d_workspace_floats(g)});
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      kernels::conv2d_backward_input(g, dy.data(), weight.data(), dx.data(), workspace.data());
    }
    if (weight.requires_grad()) {
      dw = Tensor::empty(weight.shape());
      kernels::conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), workspace.data());
    }
    if (bias.defined() && bias.requires_grad()) {
      db = Tensor::empty(bias.shape());
      kernels::bias_backward(g.n * g.oh * g.ow, g.oc, dy.data(), db.data());
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace nn
