// The fast row kernels (rows_fast.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this copy's.
#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/backends/cpu/rows_fast.h"
#include "nn/backends/cpu/simd.h"

#if defined(__SSE__)
#include <xmmintrin.h>  // _mm_getcsr/_mm_setcsr (baseline x86-64)
#endif

namespace nn::kernels {
namespace {

constexpr int64_t kLanes = 16;

// Denormal floats flushed to zero (MXCSR's FTZ and DAZ) in the calling thread while it lives. Late in training the
// output layer's columns of rare words get gradients near 1e-20, whose squares (1e-40) are denormal, and every
// operation on a denormal costs a micro-code assist: on the Flickr8k captioner Adam's share of an epoch grew from 5 %
// to 18 % and epochs from 95 to 119 s. Values below 1.2e-38 have no effect on a step, so they are taken as zero.
struct FlushDenormals {
#if defined(__SSE__)
  unsigned saved = _mm_getcsr();
  FlushDenormals() {
    _mm_setcsr(saved | 0x8040);
  }  // FTZ (bit 15) | DAZ (bit 6)
  ~FlushDenormals() {
    _mm_setcsr(saved);
  }
#endif
};

float row_max(int64_t v, const float* x) {
  v16 best = splat16(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + kLanes <= v; j += kLanes) best = max16(best, load16(x + j));
  if (j < v) best = max16(best, load16_partial(x + j, v - j, -std::numeric_limits<float>::infinity()));
  float m = best[0];
  for (int k = 1; k < kLanes; ++k) m = std::max(m, best[k]);
  return m;
}

// Σ e^(x − shift) over a row: each vector of 16 e^x widened into double accumulators (V = 7,579 terms in float lanes
// would round away up to ~1e-5 of the sum).
double row_exp_sum(int64_t v, const float* x, float shift) {
  Wide<double> low{}, high{};
  auto add = [&](v16 e) {
    const Doubles16 d = to_doubles(e);
    low += d.low;
    high += d.high;
  };
  int64_t j = 0;
  for (; j + kLanes <= v; j += kLanes) add(exp16(load16(x + j) - shift));
  if (j < v) add(exp16(load16_partial(x + j, v - j, -std::numeric_limits<float>::infinity()) - shift));
  double total = 0;
  for (int k = 0; k < 8; ++k) total += low[k] + high[k];
  return total;
}

}  // namespace

template <>
void cross_entropy_rows<kCompiledIsa>(const TargetRows& r, const float* x, float* lse, double* sums) {
  const int64_t v = r.classes;
  const float* w = r.weights;
  double weighted = 0, weight_total = 0;
#pragma omp parallel for reduction(+ : weighted, weight_total) if (r.rows * v > (1 << 15))
  for (int64_t i = 0; i < r.rows; ++i) {
    const float* xr = x + i * v;
    const float max = row_max(v, xr);
    lse[i] = max + static_cast<float>(std::log(row_exp_sum(v, xr, max)));
    const double wr = w ? w[i] : 1.0;
    weighted += wr * (lse[i] - xr[r.targets[i]]);
    weight_total += wr;
  }
  sums[0] = weighted;
  sums[1] = weight_total;
}

template <>
void cross_entropy_rows_backward<kCompiledIsa>(const TargetRows& r, float scale, const float* x, const float* lse,
                                               float* gx) {
  const int64_t v = r.classes;
#pragma omp parallel for if (r.rows * v > (1 << 15))
  for (int64_t i = 0; i < r.rows; ++i) {
    const float s = scale * (r.weights ? r.weights[i] : 1.0f);
    const float* xr = x + i * v;
    float* gr = gx + i * v;
    int64_t j = 0;
    for (; j + kLanes <= v; j += kLanes) store16(gr + j, s * exp16(load16(xr + j) - lse[i]));
    if (j < v) store16_partial(gr + j, s * exp16(load16_partial(xr + j, v - j, 0.0f) - lse[i]), v - j);
    gr[r.targets[i]] -= s;
  }
}

template <>
void softmax_rows<kCompiledIsa>(RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) {
#pragma omp parallel for if (rows * width > (1 << 15))
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * width;
    const float max = row_max(width, xr);
    const double total = row_exp_sum(width, xr, max);
    if (kind == RowSoftmax::logsumexp) {
      y[i] = max + static_cast<float>(std::log(total));
      continue;
    }
    float* yr = y + i * width;
    // log-softmax: (x − max) − log Σ, two roundings as the reference takes them (x − (max + log Σ) would lose the
    // small differences to ulp(max)); softmax: e^(x − max) / Σ.
    const bool log_softmax = kind == RowSoftmax::log_softmax;
    const float log_total = static_cast<float>(std::log(total)), scale = static_cast<float>(1.0 / total);
    int64_t j = 0;
    for (; j + kLanes <= width; j += kLanes) {
      const v16 shifted = load16(xr + j) - max;
      store16(yr + j, log_softmax ? shifted - log_total : exp16(shifted) * scale);
    }
    if (j < width) {
      const v16 shifted = load16_partial(xr + j, width - j, 0.0f) - max;
      store16_partial(yr + j, log_softmax ? shifted - log_total : exp16(shifted) * scale, width - j);
    }
  }
}

template <>
void adam_update<kCompiledIsa>(const AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g) {
  const bool shrink = s.shrink != 1.0f, decay = s.coupled_decay != 0.0f;
#pragma omp parallel if (n > (1 << 16))
  {
    FlushDenormals flush;
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      float t = shrink ? theta[i] * s.shrink : theta[i];
      const float gi = decay ? g[i] + s.coupled_decay * t : g[i];
      const float mi = s.b1 * m[i] + (1.0f - s.b1) * gi;
      const float vi = s.b2 * v[i] + (1.0f - s.b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      theta[i] = t - s.step_size * mi / (__builtin_sqrtf(vi) / s.sqrt_bc2 + s.eps);
    }
  }
}

}  // namespace nn::kernels
