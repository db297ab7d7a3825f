#include "nn/backends/cpu/lstm_cell.h"

#include <cmath>
#include <cstring>

namespace nn::kernels {
namespace {

inline float recurrent_act(float z, bool hard) {
  return hard ? std::fmin(1.0f, std::fmax(0.0f, 0.2f * z + 0.5f)) : 1.0f / (1.0f + std::exp(-z));
}

// Derivative of the recurrent activation from its output a.
inline float recurrent_act_grad(float a, bool hard) {
  return hard ? ((a > 0.0f && a < 1.0f) ? 0.2f : 0.0f) : a * (1.0f - a);
}

}  // namespace

void lstm_step_forward(const LstmStep& s, const float* mask, float* gates, const float* c_prev, const float* h_prev,
                       float* c, float* h) {
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
    for (int64_t j = 0; j < u; ++j) {
      float i = recurrent_act(gi[j], s.hard_sigmoid);
      float f = recurrent_act(gf[j], s.hard_sigmoid);
      float g = std::tanh(gg[j]);
      float o = recurrent_act(go[j], s.hard_sigmoid);
      float cell = f * cp[j] + i * g;
      gi[j] = i;
      gf[j] = f;
      gg[j] = g;
      go[j] = o;
      cn[j] = cell;
      hn[j] = o * std::tanh(cell);
    }
  }
}

void lstm_step_backward(const LstmStep& s, const float* mask, const float* gates, const float* c, const float* c_prev,
                        float* dh, float* dc, float* d_gates) {
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
    for (int64_t j = 0; j < u; ++j) {
      float i = gi[j], f = gi[u + j], g = gi[2 * u + j], o = gi[3 * u + j];
      float tc = std::tanh(cn[j]);
      float dcell = dcn[j] + dhn[j] * o * (1.0f - tc * tc);
      dgi[j] = dcell * g * recurrent_act_grad(i, s.hard_sigmoid);
      dgi[u + j] = dcell * cp[j] * recurrent_act_grad(f, s.hard_sigmoid);
      dgi[2 * u + j] = dcell * i * (1.0f - g * g);
      dgi[3 * u + j] = dhn[j] * tc * recurrent_act_grad(o, s.hard_sigmoid);
      dcn[j] = dcell * f;
      dhn[j] = 0.0f;
    }
  }
}

}  // namespace nn::kernels
