// The fast row kernels (rows_fast.h) but Adam's (adam_fast.cpp), compiled once per instruction-set level (isa.h):
// kCompiledIsa is this copy's. Products and sums contract into FMAs where the level has them (e^x's polynomial).
#include <algorithm>
#include <cmath>
#include <limits>

#include <omp.h>

#include "nn/backends/cpu/rows_fast.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Each loop below takes 16 floats at a time, the last n mod 16 through the same code (load16_partial fills the lanes
// past the end, store16_partial leaves them alone; both are a plain load or store for 16).
int64_t lanes_at(int64_t j, int64_t n) {
  return std::min(kLanes, n - j);
}

float row_max(int64_t v, const float* x) {
  v16 best = splat16(kMinusInfinity);
  for (int64_t j = 0; j < v; j += kLanes) best = max16(best, load16_partial(x + j, lanes_at(j, v), kMinusInfinity));
  float m = best[0];
  for (int k = 1; k < kLanes; ++k) m = std::max(m, best[k]);
  return m;
}

// Σ e^(x − shift) over a span of at most kSumBlock: each vector of 16 e^x widened into double accumulators (V = 7,579
// terms in float lanes would round away up to ~1e-5 of the sum).
double block_exp_sum(int64_t n, const float* x, float shift) {
  Wide<double> low{}, high{};
  auto add = [&](v16 e) {
    const Doubles16 d = to_doubles(e);
    low += d.low;
    high += d.high;
  };
  for (int64_t j = 0; j < n; j += kLanes) add(exp16(load16_partial(x + j, lanes_at(j, n), kMinusInfinity) - shift));
  double total = 0;
  for (int k = 0; k < 8; ++k) total += low[k] + high[k];
  return total;
}

// A row's sum is its blocks' sums of kSumBlock elements added in order, however the blocks are spread over threads,
// so that a row's numbers do not depend on the thread count or on how many rows run beside it.
constexpr int64_t kSumBlock = 2048;
static_assert(kSumBlock % kLanes == 0);

double row_exp_sum(int64_t v, const float* x, float shift) {
  double total = 0;
  for (int64_t j = 0; j < v; j += kSumBlock) total += block_exp_sum(std::min(kSumBlock, v - j), x + j, shift);
  return total;
}

// Softmax or log-softmax of a span of a row from its max and Σ e^(x − max).
void block_softmax(RowSoftmax kind, int64_t n, const float* x, float max, double total, float* y) {
  // log-softmax: (x − max) − log Σ, two roundings as the reference takes them (x − (max + log Σ) would lose the
  // small differences to ulp(max)); softmax: e^(x − max) / Σ.
  const bool log_softmax = kind == RowSoftmax::log_softmax;
  const float log_total = static_cast<float>(std::log(total)), scale = static_cast<float>(1.0 / total);
  for (int64_t j = 0; j < n; j += kLanes) {
    const int64_t count = lanes_at(j, n);
    const v16 shifted = load16_partial(x + j, count, 0.0f) - max;
    store16_partial(y + j, log_softmax ? shifted - log_total : exp16(shifted) * scale, count);
  }
}

// Few wide rows — a decoder's step over its vocabulary, one row per beam — share the threads by blocks of kSumBlock:
// each block's max, each row's, each block's sum, each row's in block order, then the outputs. Up to kSplitRows rows
// of kSplitBlocks blocks (the partial results live on the stack).
constexpr int64_t kSplitRows = 16, kSplitBlocks = 64;

void softmax_rows_split(RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) {
  const int64_t blocks = (width + kSumBlock - 1) / kSumBlock, tasks = rows * blocks;
  float block_max[kSplitRows * kSplitBlocks];
  double block_sum[kSplitRows * kSplitBlocks];
  auto span = [&](int64_t t) { return std::min(kSumBlock, width - t % blocks * kSumBlock); };
  auto at = [&](int64_t t) { return t / blocks * width + t % blocks * kSumBlock; };
  // Two barriers: each thread combines the blocks' results of every row itself (at most 16 × 64 of them).
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) block_max[t] = row_max(span(t), x + at(t));
    float max[kSplitRows];
    for (int64_t r = 0; r < rows; ++r) {
      max[r] = block_max[r * blocks];
      for (int64_t b = 1; b < blocks; ++b) max[r] = std::max(max[r], block_max[r * blocks + b]);
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) block_sum[t] = block_exp_sum(span(t), x + at(t), max[t / blocks]);
    double total[kSplitRows];
    for (int64_t r = 0; r < rows; ++r) {
      total[r] = 0;
      for (int64_t b = 0; b < blocks; ++b) total[r] += block_sum[r * blocks + b];
    }
    if (kind == RowSoftmax::logsumexp) {
#pragma omp for schedule(static) nowait
      for (int64_t r = 0; r < rows; ++r) y[r] = max[r] + static_cast<float>(std::log(total[r]));
    } else {
#pragma omp for schedule(static) nowait
      for (int64_t t = 0; t < tasks; ++t)
        block_softmax(kind, span(t), x + at(t), max[t / blocks], total[t / blocks], y + at(t));
    }
  }
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
    for (int64_t j = 0; j < v; j += kLanes) {
      const int64_t count = lanes_at(j, v);
      store16_partial(gr + j, s * exp16(load16_partial(xr + j, count, 0.0f) - lse[i]), count);
    }
    gr[r.targets[i]] -= s;
  }
}

template <>
double exp_sum<kCompiledIsa>(int64_t n, const float* x, float shift) {
  return block_exp_sum(n, x, shift);
}

template <>
void softmax_rows<kCompiledIsa>(RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) {
  // Blocks shared where rows alone would leave threads idle or unevenly loaded (under twice as many rows as threads)
  // and a row has two full blocks or more: greedy decoding's one row of V = 7,579 (11.0 → 5.6 µs on 2 threads of an AMD
  // EPYC, Zen 3), beam 3's three (31 → 15 µs). The same numbers either way (kSumBlock).
  const int threads = omp_get_max_threads();
  if (rows <= kSplitRows && width >= 2 * kSumBlock && width <= kSplitBlocks * kSumBlock && rows < 2 * threads &&
      threads > 1 && !omp_in_parallel()) {
    return softmax_rows_split(kind, rows, width, x, y);
  }
#pragma omp parallel for if (rows * width > (1 << 15))
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * width;
    const float max = row_max(width, xr);
    const double total = row_exp_sum(width, xr, max);
    if (kind == RowSoftmax::logsumexp) {
      y[i] = max + static_cast<float>(std::log(total));
    } else {
      block_softmax(kind, width, xr, max, total, y + i * width);
    }
  }
}

}  // namespace nn::kernels
