// The LSTM step's pointwise kernels (lstm_cell.h), compiled once per instruction-set level (isa.h): kCompiledIsa is
// this copy's. Sixteen units at a time, e^x and tanh from simd.h.
#include <algorithm>
#include <cstring>

#include "nn/backends/cpu/lstm_cell.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {
namespace {

constexpr int64_t kLanes = 16;

NN_SIMD v16 recurrent_act(v16 z, bool hard) {
  if (!hard) return sigmoid16(z);
  const v16 a = 0.2f * z + 0.5f;
  return where(a > 0.0f, where(a > 1.0f, splat16(1.0f), a), v16{});  // NaN gives 0, as fmin(1, fmax(0, a))
}

// The derivative of the recurrent activation from its output a.
NN_SIMD v16 recurrent_act_grad(v16 a, bool hard) {
  if (!hard) return a * (1.0f - a);
  return where((a > 0.0f) & (a < 1.0f), splat16(0.2f), v16{});
}

// Units [j, j + count) of a row, count ≤ 16: f(load) for each input pointer, results stored through `store`.
NN_SIMD v16 load(const float* p, int64_t count) {
  return load16_partial(p, count, 0.0f);
}
NN_SIMD void store(float* p, v16 v, int64_t count) {
  store16_partial(p, v, count);
}

}  // namespace

template <>
void lstm_step_forward<kCompiledIsa>(const LstmStep& s, const float* mask, float* gates, const float* c_prev,
                                     const float* h_prev, float* c, float* h) {
  const int64_t u = s.units;
#pragma omp parallel for if (s.rows * u > 4096)
  for (int64_t n = 0; n < s.rows; ++n) {
    float* gi = gates + n * s.gate_stride;
    float* gf = gi + u;
    float* gg = gi + 2 * u;
    float* go = gi + 3 * u;
    const float* cp = c_prev + n * s.prev_stride;
    const float* hp = h_prev + n * s.prev_stride;
    float* cn = c + n * s.state_stride;
    float* hn = h + n * s.state_stride;
    if (mask != nullptr && mask[n] == 0.0f) {
      std::memcpy(cn, cp, sizeof(float) * u);
      std::memcpy(hn, hp, sizeof(float) * u);
      std::memset(gi, 0, sizeof(float) * 4 * u);
      continue;
    }
    for (int64_t j = 0; j < u; j += kLanes) {
      const int64_t k = std::min(kLanes, u - j);
      const v16 i = recurrent_act(load(gi + j, k), s.hard_sigmoid), f = recurrent_act(load(gf + j, k), s.hard_sigmoid);
      const v16 g = tanh16(load(gg + j, k)), o = recurrent_act(load(go + j, k), s.hard_sigmoid);
      const v16 cell = f * load(cp + j, k) + i * g;
      store(gi + j, i, k);
      store(gf + j, f, k);
      store(gg + j, g, k);
      store(go + j, o, k);
      store(cn + j, cell, k);
      store(hn + j, o * tanh16(cell), k);
    }
  }
}

template <>
void lstm_step_backward<kCompiledIsa>(const LstmStep& s, const float* mask, const float* gates, const float* c,
                                      const float* c_prev, float* dh, float* dc, float* d_gates) {
  const int64_t u = s.units;
#pragma omp parallel for if (s.rows * u > 4096)
  for (int64_t n = 0; n < s.rows; ++n) {
    float* dgi = d_gates + n * s.gate_stride;
    if (mask != nullptr && mask[n] == 0.0f) {
      std::memset(dgi, 0, sizeof(float) * 4 * u);
      continue;
    }
    const float* gi = gates + n * s.gate_stride;
    const float* cn = c + n * s.state_stride;
    const float* cp = c_prev + n * s.prev_stride;
    float* dhn = dh + n * u;
    float* dcn = dc + n * u;
    for (int64_t j = 0; j < u; j += kLanes) {
      const int64_t k = std::min(kLanes, u - j);
      const v16 i = load(gi + j, k), f = load(gi + u + j, k), g = load(gi + 2 * u + j, k), o = load(gi + 3 * u + j, k);
      const v16 tc = tanh16(load(cn + j, k)), dhj = load(dhn + j, k);
      const v16 dcell = load(dcn + j, k) + dhj * o * (1.0f - tc * tc);
      store(dgi + j, dcell * g * recurrent_act_grad(i, s.hard_sigmoid), k);
      store(dgi + u + j, dcell * load(cp + j, k) * recurrent_act_grad(f, s.hard_sigmoid), k);
      store(dgi + 2 * u + j, dcell * i * (1.0f - g * g), k);
      store(dgi + 3 * u + j, dhj * tc * recurrent_act_grad(o, s.hard_sigmoid), k);
      store(dcn + j, dcell * f, k);
      store(dhn + j, splat16(0.0f), k);
    }
  }
}

}  // namespace nn::kernels
