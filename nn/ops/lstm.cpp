// The masked LSTM over a whole sequence, fused (DESIGN.md item 7; Keras gate order i, f, c, o).
//   forward, per step t:  z = x_t·W + b + h_{t-1}·R;  i,f,o = σ(z);  g = tanh(z_c);
//                         c_t = f⊙c_{t-1} + i⊙g;  h_t = o⊙tanh(c_t);  masked rows keep (h, c).
// x·W + b for all steps is one sgemm up front; each step adds h_{t-1}·R in place. The backward walks the steps in
// reverse with the pointwise kernel, then forms dx, dW, dR and db as four whole-sequence products.
#include <cstring>

#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/gemm.h"
#include "nn/backends/cpu/lstm_cell.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct Dims {
  int64_t n, t, e, u;
};

Dims check_lstm(const Tensor& x, const LstmWeights& w, const LstmOptions& o) {
  if (x.rank() != 3) fail_expected("lstm", "an input of shape (N,T,E)", to_string(x.shape()));
  if (w.recurrent_kernel.rank() != 2) {
    fail_expected("lstm", "a recurrent kernel of shape (U,4U)", to_string(w.recurrent_kernel.shape()));
  }
  Dims d{x.dim(0), x.dim(1), x.dim(2), w.recurrent_kernel.dim(0)};
  auto expect = [](const Tensor& t, const Shape& shape, const char* what) {
    if (!t.defined() || t.shape() != shape) {
      fail_expected("lstm", std::string(what) + " of shape " + to_string(shape),
                    t.defined() ? to_string(t.shape()) : std::string("an undefined tensor"));
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

}  // namespace

LstmResult lstm(const Tensor& x, const LstmWeights& w, const LstmOptions& o) {
  const Dims d = check_lstm(x, w, o);
  const int64_t g4 = 4 * d.u;
  const bool hard = o.recurrent_activation == RecurrentActivation::hard_sigmoid;
  Saved s{Tensor::empty({d.n, d.t, g4}), Tensor::empty({d.n, d.t, d.u}), Tensor::empty({d.n, d.t, d.u}),
          o.initial_c.defined() ? o.initial_c.detach() : Tensor::zeros({d.n, d.u}), Tensor()};
  Tensor h0 = o.initial_h.defined() ? o.initial_h.detach() : Tensor::zeros({d.n, d.u});
  if (o.mask.defined()) {
    s.mask_tn = Tensor::empty({d.t, d.n});
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t t = 0; t < d.t; ++t) s.mask_tn.data()[t * d.n + n] = o.mask.data()[n * d.t + t];
  }
  Tensor outputs = Tensor::empty({d.n, d.t, d.u});
  float* z = s.gates.data();
  for (int64_t r = 0; r < d.n * d.t; ++r) std::memcpy(z + r * g4, w.bias.data(), sizeof(float) * g4);
  kernels::gemm({.m = as_int(d.n * d.t), .n = as_int(g4), .k = as_int(d.e)}, 1.0f, x.data(), w.kernel.data(), 1.0f, z);

  kernels::LstmStep step{.rows = d.n,
                         .units = d.u,
                         .gate_stride = d.t * g4,
                         .state_stride = d.t * d.u,
                         .prev_stride = d.t * d.u,
                         .hard_sigmoid = hard};
  for (int64_t t = 0; t < d.t; ++t) {
    float* hp = s.h_prev.data() + t * d.u;  // rows strided by T·U
    const float* h_src = t == 0 ? h0.data() : outputs.data() + (t - 1) * d.u;
    int64_t src_stride = t == 0 ? d.u : d.t * d.u;
    for (int64_t n = 0; n < d.n; ++n) std::memcpy(hp + n * d.t * d.u, h_src + n * src_stride, sizeof(float) * d.u);
    kernels::gemm(
        {.m = as_int(d.n), .n = as_int(g4), .k = as_int(d.u), .lda = as_int(d.t * d.u), .ldc = as_int(d.t * g4)}, 1.0f,
        hp, w.recurrent_kernel.data(), 1.0f, z + t * g4);
    // h_{t-1} and c_{t-1} are (N,U) packed at t = 0 (the initial state), rows of (N,T,U) afterwards.
    kernels::LstmStep this_step = step;
    if (t == 0) this_step.prev_stride = d.u;
    const float* cp = t == 0 ? s.c0.data() : s.cells.data() + (t - 1) * d.u;
    kernels::lstm_step_forward(this_step, s.mask_tn.defined() ? s.mask_tn.data() + t * d.n : nullptr, z + t * g4, cp,
                               t == 0 ? h0.data() : outputs.data() + (t - 1) * d.u, s.cells.data() + t * d.u,
                               outputs.data() + t * d.u);
  }

  LstmResult result{outputs, Tensor::empty({d.n, d.u}), Tensor::empty({d.n, d.u})};
  for (int64_t n = 0; n < d.n; ++n) {
    const float* h_last = d.t ? outputs.data() + (n * d.t + d.t - 1) * d.u : h0.data() + n * d.u;
    const float* c_last = d.t ? s.cells.data() + (n * d.t + d.t - 1) * d.u : s.c0.data() + n * d.u;
    std::memcpy(result.h.data() + n * d.u, h_last, sizeof(float) * d.u);
    std::memcpy(result.c.data() + n * d.u, c_last, sizeof(float) * d.u);
  }

  std::vector<Tensor> inputs{x, w.kernel, w.recurrent_kernel, w.bias, o.initial_h, o.initial_c};
  record("lstm", inputs, {&result.outputs, &result.h, &result.c}, [x, w, s, d, step](std::span<const Tensor> grads) {
    const int64_t g4 = 4 * d.u;
    Tensor dh = grads[1].detach().clone(), dc = grads[2].detach().clone();  // (N,U), updated step by step
    Tensor dz = Tensor::empty({d.n, d.t, g4});
    const float* g_out = grads[0].data();
    for (int64_t t = d.t; t-- > 0;) {
      for (int64_t n = 0; n < d.n; ++n) {
        float* dhn = dh.data() + n * d.u;
        const float* go = g_out + (n * d.t + t) * d.u;
        for (int64_t j = 0; j < d.u; ++j) dhn[j] += go[j];
      }
      kernels::LstmStep back = step;
      back.prev_stride = t == 0 ? d.u : d.t * d.u;
      const float* cp = t == 0 ? s.c0.data() : s.cells.data() + (t - 1) * d.u;
      kernels::lstm_step_backward(back, s.mask_tn.defined() ? s.mask_tn.data() + t * d.n : nullptr,
                                  s.gates.data() + t * g4, s.cells.data() + t * d.u, cp, dh.data(), dc.data(),
                                  dz.data() + t * g4);
      // dh_{t-1} += dz_t · Rᵀ (masked rows have dz = 0 and kept their dh).
      kernels::gemm({.m = as_int(d.n), .n = as_int(d.u), .k = as_int(g4), .transpose_b = true, .lda = as_int(d.t * g4)},
                    1.0f, dz.data() + t * g4, w.recurrent_kernel.data(), 1.0f, dh.data());
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
