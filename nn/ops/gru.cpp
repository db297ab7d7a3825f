// The masked GRU over a whole sequence, composed of differentiable ops step by step (one implementation for
// Keras's gate order z, r, h and PyTorch's r, z, n, with the reset gate after or before the recurrent product).
//   per step:  z = σ(x_t·W_z + b_z + h·R_z + b'_z),  r = σ(x_t·W_r + b_r + h·R_r + b'_r)
//              reset_after:  h̃ = tanh(x_t·W_h + b_h + r ⊙ (h·R_h + b'_h))     (b' = the recurrent bias row)
//              reset before: h̃ = tanh(x_t·W_h + b_h + (r ⊙ h)·R_h)
//              h_t = z ⊙ h + (1 − z) ⊙ h̃;  a masked row keeps h.
// Speed: x·W + b for all steps is one product up front, cut into steps by halving (unstack, so the slices'
// gradients add up to O(T log T) steps' worth, not the O(T²) of T slices of the whole); each step then records
// about a dozen small ops (one or three (N,U)×(U,·) products). Measured here (N=64, E=U=256, T=20…80, one thread,
// a busy machine): the forward takes about as long as the fused LSTM's (nn/ops/lstm.cpp), forward + backward 1.1–1.7×
// the LSTM's. A fused kernel like the LSTM's is the way if training time matters.
#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct GruDims {
  int64_t n, t, e, u;
};

// "WHERE: expected WHAT of shape SHAPE NOTE, got …"
void expect_shape(const Tensor& t, const Shape& shape, const std::string& what, const std::string& note = "",
                  const char* where = "gru") {
  if (!t.defined() || t.shape() != shape) {
    fail_expected(where, what + " of shape " + to_string(shape) + note, shape_text(t));
  }
}

GruDims check_gru(const Tensor& x, const GruWeights& w, const GruOptions& o) {
  if (!x.defined() || x.rank() != 3) {
    fail_expected("gru", "an input of shape (N,T,E)", shape_text(x));
  }
  if (!w.recurrent_kernel.defined() || w.recurrent_kernel.rank() != 2) {
    fail_expected("gru", "a recurrent kernel of shape (U,3U)", shape_text(w.recurrent_kernel));
  }
  GruDims d{x.dim(0), x.dim(1), x.dim(2), w.recurrent_kernel.dim(0)};
  expect_shape(w.recurrent_kernel, {d.u, 3 * d.u}, "a recurrent kernel");
  expect_shape(w.kernel, {d.e, 3 * d.u}, "a kernel", " (input " + to_string(x.shape()) + ")");
  if (w.bias.defined()) {
    if (o.reset_after) {
      expect_shape(w.bias, {2, 3 * d.u}, "a bias", " (reset_after: input and recurrent rows)");
    } else {
      expect_shape(w.bias, {3 * d.u}, "a bias", " (reset_after=false)");
    }
  }
  if (o.mask.defined()) expect_shape(o.mask, {d.n, d.t}, "a mask", " (input " + to_string(x.shape()) + ")");
  if (o.initial_h.defined()) expect_shape(o.initial_h, {d.n, d.u}, "an initial h");
  return d;
}

// Where z, r and the candidate sit among the three blocks.
struct Blocks {
  int z, r, h;
};

Blocks blocks_of(GruGateOrder order) {
  return order == GruGateOrder::keras ? Blocks{0, 1, 2} : Blocks{1, 0, 2};
}

// x (T,…) as T pieces (1,…), halved recursively: each slice's gradient is as large as the piece it was cut from,
// so the backward adds O(T log T) pieces' worth instead of the O(T²) of T slices of the whole.
void unstack(const Tensor& x, std::vector<Tensor>& pieces) {
  const int64_t t = x.dim(0);
  if (t == 1) {
    pieces.push_back(x);
    return;
  }
  unstack(slice(x, 0, 0, t / 2), pieces);
  unstack(slice(x, 0, t / 2, t), pieces);
}

Tensor gate(const Tensor& x, RecurrentActivation a) {
  return a == RecurrentActivation::hard_sigmoid ? hard_sigmoid(x) : sigmoid(x);
}

}  // namespace

GruResult gru(const Tensor& x, const GruWeights& w, const GruOptions& o) {
  if (detail::any_low_precision({x, w.kernel, w.recurrent_kernel, w.bias, o.mask, o.initial_h})) {
    using detail::to_f32;
    GruOptions o32 = o;
    o32.mask = to_f32(o.mask);
    o32.initial_h = to_f32(o.initial_h);
    GruResult r = gru(to_f32(x), {to_f32(w.kernel), to_f32(w.recurrent_kernel), to_f32(w.bias)}, o32);
    const DType dtype = detail::result_dtype({x, w.kernel, w.recurrent_kernel, w.bias, o.initial_h});
    return {r.outputs.to(dtype), r.h.to(dtype)};
  }
  const GruDims d = check_gru(x, w, o);
  const Blocks b = blocks_of(o.gate_order);
  const std::vector<int64_t> thirds{d.u, d.u, d.u};
  Tensor input_bias, recurrent_bias;  // (3U) each, or undefined
  if (w.bias.defined() && o.reset_after) {
    std::vector<Tensor> rows = split(w.bias, {1, 1}, 0);
    input_bias = rows[0].reshape({3 * d.u});
    recurrent_bias = rows[1].reshape({3 * d.u});
  } else if (w.bias.defined()) {
    input_bias = w.bias;
  }
  Tensor h = o.initial_h.defined() ? o.initial_h : Tensor::zeros({d.n, d.u});
  if (d.t == 0) return {Tensor::zeros({d.n, 0, d.u}), h};

  // x·W + b for every step at once, time-major (T,N,3U) so that a step is one piece of a split along axis 0.
  Tensor xw = matmul(x.reshape({d.n * d.t, d.e}), w.kernel);
  if (input_bias.defined()) xw = add(xw, input_bias);
  std::vector<Tensor> steps;
  unstack(transpose(xw.reshape({d.n, d.t, 3 * d.u}), 0, 1), steps);
  // Without reset_after the candidate's product needs R_h alone: (U,U) each.
  std::vector<Tensor> r_blocks = o.reset_after ? std::vector<Tensor>{} : split(w.recurrent_kernel, thirds, 1);

  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < d.t; ++t) {
    std::vector<Tensor> xs = split(steps[t].reshape({d.n, 3 * d.u}), thirds, 1);  // (N,U) each
    Tensor z, r, candidate;
    if (o.reset_after) {
      Tensor hr = matmul(h, w.recurrent_kernel);  // (N,3U)
      if (recurrent_bias.defined()) hr = add(hr, recurrent_bias);
      std::vector<Tensor> hs = split(hr, thirds, 1);
      z = gate(add(xs[b.z], hs[b.z]), o.recurrent_activation);
      r = gate(add(xs[b.r], hs[b.r]), o.recurrent_activation);
      candidate = tanh(add(xs[b.h], mul(r, hs[b.h])));
    } else {
      z = gate(add(xs[b.z], matmul(h, r_blocks[b.z])), o.recurrent_activation);
      r = gate(add(xs[b.r], matmul(h, r_blocks[b.r])), o.recurrent_activation);
      candidate = tanh(add(xs[b.h], matmul(mul(r, h), r_blocks[b.h])));
    }
    Tensor next = add(candidate, mul(z, sub(h, candidate)));                  // z ⊙ h + (1 − z) ⊙ h̃
    if (o.mask.defined()) next = where(slice(o.mask, 1, t, t + 1), next, h);  // mask (N,1) broadcast over U
    h = next;
    outputs.push_back(h);
  }
  return {stack(outputs, 1), h};
}

GruWeights gru_weights_from_torch(const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& b_ih,
                                  const Tensor& b_hh, GruGateOrder order) {
  const char* where = "gru_weights_from_torch";
  if (!weight_hh.defined() || weight_hh.rank() != 2 || weight_hh.dim(0) != 3 * weight_hh.dim(1)) {
    fail_expected(where, "weight_hh of shape (3U,U)", shape_text(weight_hh));
  }
  const int64_t u = weight_hh.dim(1);
  if (!weight_ih.defined() || weight_ih.rank() != 2 || weight_ih.dim(0) != 3 * u) {
    fail_expected(
        where,
        "weight_ih of shape (3U,E) with U = " + std::to_string(u) + " (weight_hh " + to_string(weight_hh.shape()) + ")",
        shape_text(weight_ih));
  }
  expect_shape(b_ih, {3 * u}, "b_ih", "", where);
  expect_shape(b_hh, {3 * u}, "b_hh", "", where);
  NoGradGuard no_grad;
  // torch's blocks r, z, n → Keras's z, r, h along `axis`.
  auto reorder = [&](const Tensor& t, int axis) {
    if (order == GruGateOrder::torch) return t.detach().clone();
    std::vector<Tensor> p = split(t.detach(), {u, u, u}, axis);
    return concat({p[1], p[0], p[2]}, axis);
  };
  return {reorder(transpose(weight_ih.detach(), 0, 1), 1), reorder(transpose(weight_hh.detach(), 0, 1), 1),
          reorder(stack({b_ih.detach(), b_hh.detach()}, 0), 1)};
}

}  // namespace nn
