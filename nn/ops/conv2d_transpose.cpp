// conv2d_transpose: x (N,H,W,C) ⊛ᵀ weight (KH,KW,OC,C) + bias → (N,OH,OW,OC), the gradient of conv2d with respect
// to its input. Let g be the geometry of the conv2d that maps (N,OH,OW,OC) to (N,H,W,C) with this weight read as a
// Keras conv kernel (KH,KW,in=OC,out=C); then the three computations are conv2d's with the roles exchanged:
//   forward   y = conv2d_backward_input(g; x, weight) + bias
//   backward  dx = conv2d_forward(g; dy, weight),  dweight = conv2d_backward_weight(g; dy, x),  dbias = Σ dy.
// There is no bf16 kernel: bf16 inputs take the conversion path (nn/ops/convert.h).
#include <algorithm>
#include <optional>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/window.h"

namespace nn {

namespace {

// Keras's deconv_output_length (keras/utils/conv_utils.py) without dilation.
int64_t output_length(int64_t in, int64_t k, int64_t s, Padding padding, std::optional<int64_t> output_padding) {
  if (!output_padding) return padding == Padding::valid ? in * s + std::max<int64_t>(k - s, 0) : in * s;
  const int64_t pad = padding == Padding::valid ? 0 : k / 2;
  return (in - 1) * s + k - 2 * pad + *output_padding;
}

std::string pair(int64_t a, int64_t b) {
  return std::to_string(a) + "x" + std::to_string(b);
}

// The geometry g (above) for x and weight, after checking them.
kernels::Window2D plan(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvTransposeOptions& o) {
  if (x.rank() != 4) fail_expected("conv2d_transpose", "an NHWC input of rank 4", "shape " + to_string(x.shape()));
  if (weight.rank() != 4) {
    fail_expected("conv2d_transpose", "a weight of shape (KH,KW,OC,C)", to_string(weight.shape()));
  }
  if (x.dim(3) != weight.dim(3)) {
    fail_expected("conv2d_transpose",
                  "input channels " + std::to_string(weight.dim(3)) + " (weight " + to_string(weight.shape()) + ")",
                  std::to_string(x.dim(3)) + " (input " + to_string(x.shape()) + ")");
  }
  if (bias.defined() && bias.shape() != Shape{weight.dim(2)}) {
    fail_expected("conv2d_transpose", "a bias of shape [" + std::to_string(weight.dim(2)) + "]",
                  to_string(bias.shape()));
  }
  const auto [sh, sw] = o.strides;
  if (sh < 1 || sw < 1) fail_expected("conv2d_transpose", "strides of at least 1", pair(sh, sw));
  if (weight.dim(0) < 1 || weight.dim(1) < 1 || x.dim(1) < 1 || x.dim(2) < 1) {
    fail_expected("conv2d_transpose", "a kernel and an input of at least 1×1",
                  "weight " + to_string(weight.shape()) + ", input " + to_string(x.shape()));
  }
  std::optional<int64_t> ph, pw;
  if (o.output_padding) {
    ph = (*o.output_padding)[0];
    pw = (*o.output_padding)[1];
    if (*ph < 0 || *ph >= sh || *pw < 0 || *pw >= sw) {
      fail_expected("conv2d_transpose", "an output padding in [0, stride) (strides " + pair(sh, sw) + ")",
                    pair(*ph, *pw));
    }
  }
  const int64_t oh = output_length(x.dim(1), weight.dim(0), sh, o.padding, ph);
  const int64_t ow = output_length(x.dim(2), weight.dim(1), sw, o.padding, pw);
  const Shape out{x.dim(0), oh, ow, weight.dim(2)};
  if (oh < 1 || ow < 1 || numel(out) > (int64_t{1} << 31)) {
    fail_expected("conv2d_transpose", "an output of 1 to 2^31 elements", "output " + to_string(out));
  }
  kernels::Window2D g =
      plan_window("conv2d_transpose", out, {weight.dim(0), weight.dim(1), sh, sw, o.padding}, weight.dim(3));
  if (g.oh != x.dim(1) || g.ow != x.dim(2)) {
    // Keras's rule with an even kernel, 'same' and output padding 0 gives an output that does not map back.
    fail_expected("conv2d_transpose",
                  "an output whose " + std::string(to_string(o.padding)) + " convolution gives back the input's " +
                      pair(x.dim(1), x.dim(2)) + " (use another output padding)",
                  "output " + to_string(out) + " (kernel " + pair(weight.dim(0), weight.dim(1)) + ", strides " +
                      pair(sh, sw) + ")");
  }
  return g;
}

}  // namespace

Tensor conv2d_transpose(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvTransposeOptions& o) {
  const kernels::Window2D g = plan(x, weight, bias, o);
  if (detail::any_low_precision({x, weight, bias})) {
    return conv2d_transpose(detail::to_f32(x), detail::to_f32(weight), detail::to_f32(bias), o)
        .to(detail::result_dtype({x, weight}));
  }
  const Backend& be = backend_for(x);
  Tensor y = Tensor::empty({g.n, g.h, g.w, g.c});
  Tensor workspace = Tensor::empty({be.conv2d_workspace(g, DType::f32)});
  be.conv2d_backward_input(g, x.data(), weight.data(), y.data(), workspace.data());
  if (bias.defined()) {
    // y += bias per channel, as the affine 1·(y − 0)·1 + bias (exact: the same sums as adding the bias).
    const Tensor ones = Tensor::ones({g.c}), zeros = Tensor::zeros({g.c});
    be.channel_affine(g.n * g.h * g.w, g.c,
                      {.gamma = ones.data(), .beta = bias.data(), .mean = zeros.data(), .inv_std = ones.data()},
                      DType::f32, y.data(), y.data());
  }
  record("conv2d_transpose", {x, weight, bias}, y, [g, x, weight, bias](const Tensor& dy) {
    const Backend& be = backend_for(dy);
    Tensor dx, dw, db;
    Tensor workspace = Tensor::empty({be.conv2d_workspace(g, DType::f32)});
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      be.conv2d_forward(g, DType::f32, dy.data(), weight.data(), nullptr, dx.data(), workspace.data());
    }
    if (weight.requires_grad()) {
      dw = Tensor::empty(weight.shape());
      be.conv2d_backward_weight(g, dy.data(), x.data(), dw.data(), workspace.data());
    }
    if (bias.defined() && bias.requires_grad()) {
      db = Tensor::empty(bias.shape());
      be.bias_backward(g.n * g.h * g.w, g.c, dy.data(), db.data());
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace nn
