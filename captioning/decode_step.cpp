#include "captioning/decode_step.h"

#include <algorithm>

#include <nn/autograd/autograd.h>
#include <nn/backends/backend.h>
#include <nn/core/error.h>
#include <nn/ops/ops.h>

namespace captioning {

namespace {

// t's data, or a fresh (rows, width) of zeros when t is undefined (the state before the first step).
nn::Tensor or_zeros(const nn::Tensor& t, int64_t rows, int64_t width) {
  return t.defined() ? t : nn::Tensor::zeros({rows, width});
}

}  // namespace

bool step_rows_apply(int64_t rows, std::initializer_list<nn::Tensor> tensors) {
  if (nn::grad_mode_enabled() || rows < 1 || rows > kMaxStepRows) return false;
  return std::all_of(tensors.begin(), tensors.end(),
                     [](const nn::Tensor& t) { return !t.defined() || t.dtype() == nn::DType::f32; });
}

nn::Tensor dense_rows(const nn::Dense& dense, const nn::Tensor& x) {
  const int64_t rows = x.dim(0), in = dense.options().in, out = dense.options().out;
  nn::Tensor y =
      dense.bias().defined() ? nn::broadcast_to(dense.bias(), {rows, out}).clone() : nn::Tensor::zeros({rows, out});
  rows_gemm_add(rows, out, in, x.data(), dense.kernel().data(), y.data());
  return nn::activate(y, dense.options().activation);
}

std::vector<float> log_sum_exp_rows(const nn::Tensor& logits) {
  if (logits.dtype() != nn::DType::f32 || logits.rank() != 2) {
    nn::fail_expected("log_sum_exp_rows", "f32 logits (B, V)",
                      nn::to_string(logits.shape()) + " " + nn::dtype_name(logits.dtype()));
  }
  std::vector<float> lse(static_cast<size_t>(logits.dim(0)));
  nn::backend_for(logits).softmax_rows(nn::kernels::RowSoftmax::logsumexp, logits.dim(0), logits.dim(1), logits.data(),
                                       lse.data());
  return lse;
}

StepScores step_scores(const nn::Tensor& logits) {
  return {.logits = logits, .log_sum_exp = log_sum_exp_rows(logits.to(nn::DType::f32))};
}

nn::Tensor lstm_input_gates(const nn::LSTM& lstm, const nn::Tensor& x) {
  const int64_t rows = x.dim(0), u = lstm.options().units, e = lstm.options().input_size;
  const nn::LstmWeights w = lstm.weights();
  // Pre-activations z (B, 4U) = b + x·W + h·R, in the order the LSTM op adds them: b and x·W here.
  nn::Tensor z = nn::broadcast_to(w.bias, {rows, 4 * u}).clone();
  rows_gemm_add(rows, 4 * u, e, x.data(), w.kernel.data(), z.data());
  return z;
}

void lstm_advance(const nn::LSTM& lstm, nn::Tensor& gates, nn::Tensor& h, nn::Tensor& c) {
  const int64_t rows = gates.dim(0), u = lstm.options().units;
  if (gates.dtype() != nn::DType::f32 || gates.rank() != 2 || gates.dim(1) != 4 * u) {
    nn::fail_expected("lstm_advance", "f32 gates of shape (B," + std::to_string(4 * u) + ")",
                      nn::to_string(gates.shape()) + " " + nn::dtype_name(gates.dtype()));
  }
  const nn::Tensor h_prev = or_zeros(h, rows, u), c_prev = or_zeros(c, rows, u);
  rows_gemm_add(rows, 4 * u, u, h_prev.data(), lstm.weights().recurrent_kernel.data(), gates.data());  // … + h·R
  h = nn::Tensor::empty({rows, u});
  c = nn::Tensor::empty({rows, u});
  const nn::kernels::LstmStep step{
      .rows = rows,
      .units = u,
      .gate_stride = 4 * u,
      .state_stride = u,
      .prev_stride = u,
      .hard_sigmoid = lstm.options().recurrent_activation == nn::RecurrentActivation::hard_sigmoid};
  nn::backend_for(gates).lstm_step_forward(step, nullptr, gates.data(), c_prev.data(), h_prev.data(), c.data(),
                                           h.data());
}

void lstm_rows(const nn::LSTM& lstm, const nn::Tensor& x, nn::Tensor& h, nn::Tensor& c) {
  nn::Tensor gates = lstm_input_gates(lstm, x);
  lstm_advance(lstm, gates, h, c);
}

}  // namespace captioning
