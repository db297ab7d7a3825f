// The masked LSTM over a whole sequence, fused (DESIGN.md item 7; Keras gate order i, f, c, o).
//   forward, per step t:  z = x_t·W + b + h_{t-1}·R;  i,f,o = σ(z);  g = tanh(z_c);
//                         c_t = f⊙c_{t-1} + i⊙g;  h_t = o⊙tanh(c_t);  masked rows keep (h, c).
// x·W + b for all steps is one sgemm up front; each step adds h_{t-1}·R in place. The backward walks the steps in
// reverse with the pointwise kernel, then forms dx, dW, dR and db as four whole-sequence products.
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct LstmDims {
  int64_t n, t, e, u;
};

LstmDims check_lstm(const Tensor& x, const LstmWeights& w, const LstmOptions& o) {
  if (x.rank() != 3) fail_expected("lstm", "an input of shape (N,T,E)", to_string(x.shape()));
  if (w.recurrent_kernel.rank() != 2) {
    fail_expected("lstm", "a recurrent kernel of shape (U,4U)", to_string(w.recurrent_kernel.shape()));
  }
  LstmDims d{x.dim(0), x.dim(1), x.dim(2), w.recurrent_kernel.dim(0)};
  auto expect = [](const Tensor& t, const Shape& shape, const char* what) {
    if (!t.defined() || t.shape() != shape) {
      fail_expected("lstm", std::string(what) + " of shape " + to_string(shape), shape_text(t));
    }
  };
  expect(w.recurrent_kernel, {d.u, 4 * d.u}, "a recurrent kernel");
  expect(w.kernel, {d.e, 4 * d.u}, "a kernel");
  expect(w.bias, {4 * d.u}, "a bias");
  if (o.mask.defined()) expect(o.mask, {d.n, d.t}, "a mask");
  if (o.initial_h.defined()) expect(o.initial_h, {d.n, d.u}, "an initial h");
  if (o.initial_c.defined()) expect(o.initial_c, {d.n, d.u}, "an initial c");
  return d;
}

// What the backward needs besides the inputs.
struct Saved {
  Tensor gates;    // (N,T,4U) activations
  Tensor cells;    // (N,T,U) c_t
  Tensor h_prev;   // (N,T,U) h_{t-1}
  Tensor c0;       // (N,U)
  Tensor mask_tn;  // (T,N) or undefined
};

int as_int(int64_t v) {
  return static_cast<int>(v);
}

// C (M,N) += A (M,K)·B (K,N) with the flags and leading dimensions of `shape`, f32.
void gemm_add(const Backend& be, const kernels::GemmShape& shape, const float* a, const float* b, float* c) {
  be.gemm({.shape = shape, .beta = 1.0f, .a = a, .b = b, .c = c});
}

// y rows (rows, width) with row stride y_stride = x rows with row stride x_stride.
void copy_rows(const Backend& be, int64_t rows, int64_t width, const float* x, int64_t x_stride, float* y,
               int64_t y_stride) {
  for (int64_t n = 0; n < rows; ++n) be.copy(DType::f32, width, x + n * x_stride, y + n * y_stride);
}

// The conversion path: every floating input in f32, the results in the inputs' dtype.
LstmResult lstm_in_f32(const Tensor& x, const LstmWeights& w, const LstmOptions& o) {
  using detail::to_f32;
  LstmOptions o32 = o;
  o32.mask = to_f32(o.mask);
  o32.initial_h = to_f32(o.initial_h);
  o32.initial_c = to_f32(o.initial_c);
  LstmResult r = lstm(to_f32(x), {to_f32(w.kernel), to_f32(w.recurrent_kernel), to_f32(w.bias)}, o32);
  const DType dtype = detail::result_dtype({x, w.kernel, w.recurrent_kernel, w.bias, o.initial_h, o.initial_c});
  return {r.outputs.to(dtype), r.h.to(dtype), r.c.to(dtype)};
}

}  // namespace

LstmResult lstm(const Tensor& x, const LstmWeights& w, const LstmOptions& o) {
  if (detail::any_low_precision({x, w.kernel, w.recurrent_kernel, w.bias, o.mask, o.initial_h, o.initial_c})) {
    return lstm_in_f32(x, w, o);
  }
  const LstmDims d = check_lstm(x, w, o);
  const int64_t g4 = 4 * d.u;
  const bool hard = o.recurrent_activation == RecurrentActivation::hard_sigmoid;
  const Backend& be = backend_for(x);
  Saved s{Tensor::empty({d.n, d.t, g4}), Tensor::empty({d.n, d.t, d.u}), Tensor::empty({d.n, d.t, d.u}),
          o.initial_c.defined() ? o.initial_c.detach() : Tensor::zeros({d.n, d.u}), Tensor()};
  Tensor h0 = o.initial_h.defined() ? o.initial_h.detach() : Tensor::zeros({d.n, d.u});
  if (o.mask.defined()) s.mask_tn = transpose(o.mask.detach(), 0, 1);  // (T,N): a step's mask is contiguous
  Tensor outputs = Tensor::empty({d.n, d.t, d.u});
  float* z = s.gates.data();
  copy_rows(be, d.n * d.t, g4, w.bias.data(), 0, z, g4);  // z = b, then += x·W
  gemm_add(be, {.m = as_int(d.n * d.t), .n = as_int(g4), .k = as_int(d.e)}, x.data(), w.kernel.data(), z);

  kernels::LstmStep step{.rows = d.n,
                         .units = d.u,
                         .gate_stride = d.t * g4,
                         .state_stride = d.t * d.u,
                         .prev_stride = d.t * d.u,
                         .hard_sigmoid = hard};
  for (int64_t t = 0; t < d.t; ++t) {
    // h_{t-1} and c_{t-1} are (N,U) packed at t = 0 (the initial state), rows of (N,T,U) afterwards.
    kernels::LstmStep this_step = step;
    if (t == 0) this_step.prev_stride = d.u;
    const float* h_src = t == 0 ? h0.data() : outputs.data() + (t - 1) * d.u;
    const float* c_src = t == 0 ? s.c0.data() : s.cells.data() + (t - 1) * d.u;
    float* hp = s.h_prev.data() + t * d.u;  // rows strided by T·U
    copy_rows(be, d.n, d.u, h_src, this_step.prev_stride, hp, d.t * d.u);
    gemm_add(be,
             {.m = as_int(d.n), .n = as_int(g4), .k = as_int(d.u), .lda = as_int(d.t * d.u), .ldc = as_int(d.t * g4)},
             hp, w.recurrent_kernel.data(), z + t * g4);
    be.lstm_step_forward(this_step, s.mask_tn.defined() ? s.mask_tn.data() + t * d.n : nullptr, z + t * g4, c_src,
                         h_src, s.cells.data() + t * d.u, outputs.data() + t * d.u);
  }

  LstmResult result{outputs, Tensor::empty({d.n, d.u}), Tensor::empty({d.n, d.u})};
  const int64_t last = d.t ? (d.t - 1) * d.u : 0;  // the last step's rows, or the initial state's
  const int64_t stride = d.t ? d.t * d.u : d.u;
  copy_rows(be, d.n, d.u, d.t ? outputs.data() + last : h0.data(), stride, result.h.data(), d.u);
  copy_rows(be, d.n, d.u, d.t ? s.cells.data() + last : s.c0.data(), stride, result.c.data(), d.u);

  std::vector<Tensor> inputs{x, w.kernel, w.recurrent_kernel, w.bias, o.initial_h, o.initial_c};
  record("lstm", inputs, {&result.outputs, &result.h, &result.c}, [x, w, s, d, step](std::span<const Tensor> grads) {
    const int64_t g4 = 4 * d.u;
    const Backend& be = backend_for(x);
    Tensor dh = grads[1].detach().clone(), dc = grads[2].detach().clone();  // (N,U), updated step by step
    Tensor dz = Tensor::empty({d.n, d.t, g4});
    const float* g_out = grads[0].data();
    // Rᵀ (4U,U) written out once: each step's dz_t·Rᵀ then reads it in place instead of transposing R again.
    const Tensor rt = transpose(w.recurrent_kernel.detach(), 0, 1);
    for (int64_t t = d.t; t-- > 0;) {
      for (int64_t n = 0; n < d.n; ++n) be.axpy(d.u, 1.0f, g_out + (n * d.t + t) * d.u, dh.data() + n * d.u);
      kernels::LstmStep back = step;
      back.prev_stride = t == 0 ? d.u : d.t * d.u;
      const float* cp = t == 0 ? s.c0.data() : s.cells.data() + (t - 1) * d.u;
      be.lstm_step_backward(back, s.mask_tn.defined() ? s.mask_tn.data() + t * d.n : nullptr, s.gates.data() + t * g4,
                            s.cells.data() + t * d.u, cp, dh.data(), dc.data(), dz.data() + t * g4);
      // dh_{t-1} += dz_t · Rᵀ (masked rows have dz = 0 and kept their dh).
      gemm_add(be, {.m = as_int(d.n), .n = as_int(d.u), .k = as_int(g4), .lda = as_int(d.t * g4)}, dz.data() + t * g4,
               rt.data(), dh.data());
    }
    const int m = as_int(d.n * d.t);
    Tensor dz2 = dz.reshape({d.n * d.t, g4});
    Tensor gx, gw, gr, gb;
    if (x.requires_grad()) gx = matmul(dz2, w.kernel, false, true).reshape({d.n, d.t, d.e});
    if (w.kernel.requires_grad()) gw = matmul(x.reshape({m, d.e}), dz2, true, false);
    if (w.recurrent_kernel.requires_grad()) gr = matmul(s.h_prev.reshape({m, d.u}), dz2, true, false);
    if (w.bias.requires_grad()) gb = sum(dz2, {0});
    return std::vector<Tensor>{gx, gw, gr, gb, dh, dc};
  });
  return result;
}

}  // namespace nn
