// conv2d: x (N,H,W,C) ⊛ weight (KH,KW,C,OC) + bias → (N,OH,OW,OC); the backward gives dx, dweight and dbias.
// bf16 x and weight (bias f32 or bf16) run the backend's bf16 kernel and give a bf16 result; other mixes of dtypes,
// and bf16 inputs that need a gradient, take the conversion path (nn/ops/convert.h): the backward is f32 only.
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/window.h"

namespace nn {

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options) {
  if (options.relu_input) {
    ConvOptions plain = options;
    plain.relu_input = false;
    return conv2d(relu(x), weight, bias, plain);
  }
  if (weight.rank() != 4) fail_expected("conv2d", "a weight of shape (KH,KW,C,OC)", to_string(weight.shape()));
  if (x.rank() == 4 && x.dim(3) != weight.dim(2)) {
    fail_expected("conv2d",
                  "input channels " + std::to_string(weight.dim(2)) + " (weight " + to_string(weight.shape()) + ")",
                  std::to_string(x.dim(3)) + " (input " + to_string(x.shape()) + ")");
  }
  if (bias.defined() && bias.shape() != Shape{weight.dim(3)}) {
    fail_expected("conv2d", "a bias of shape [" + std::to_string(weight.dim(3)) + "]", to_string(bias.shape()));
  }
  const DType dtype = detail::result_dtype({x, weight});
  if (detail::any_low_precision({x, weight, bias}) && (dtype != DType::bf16 || needs_grad({&x, &weight, &bias}))) {
    return conv2d(detail::to_f32(x), detail::to_f32(weight), detail::to_f32(bias), options).to(dtype);
  }
  const kernels::Window2D g = plan_window(
      "conv2d", x.shape(), {weight.dim(0), weight.dim(1), options.strides[0], options.strides[1], options.padding},
      weight.dim(3));
  const Backend& be = backend_for(x);
  const Tensor bias_f32 = detail::to_f32(bias);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.oc}, dtype);
  Tensor workspace = Tensor::empty({be.conv2d_workspace(g, dtype)});
  be.conv2d_forward(g, dtype, x.raw_data(), weight.raw_data(), bias_f32.defined() ? bias_f32.data() : nullptr,
                    y.raw_data(), workspace.data());
  record("conv2d", {x, weight, bias}, y, [g, x, weight, bias](const Tensor& dy) {
    const Backend& be = backend_for(dy);
    Tensor dx, dw, db;
    Tensor workspace = Tensor::empty({be.conv2d_workspace(g, DType::f32)});
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      be.conv2d_backward_input(g, dy.data(), weight.data(), dx.data(), workspace.data());
    }
    if (weight.requires_grad()) {
      dw = Tensor::empty(weight.shape());
      be.conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), workspace.data());
    }
    if (bias.defined() && bias.requires_grad()) {
      db = Tensor::empty(bias.shape());
      be.bias_backward(g.n * g.oh * g.ow, g.oc, dy.data(), db.data());
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace nn
