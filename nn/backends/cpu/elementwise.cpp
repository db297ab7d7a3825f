// The cpu backend's elementwise, broadcast, reduction and row-softmax primitives (backend.h has their contracts).
// Each switches on its function once, outside the element loop, and runs a tight loop per case that the compiler
// vectorises; threads only where the arrays are large (the thresholds of the op loops these replace). ReLU and the
// same-shape add call the per-instruction-set kernels of pointwise.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "nn/backends/cpu/cpu.h"
#include "nn/backends/cpu/pointwise.h"

namespace nn::cpu {

namespace {

using kernels::Binary;
using kernels::Unary;

constexpr int64_t kUnaryThreads = int64_t{1} << 15;   // detail::unary's and the backward's threshold
constexpr int64_t kScalarThreads = int64_t{1} << 16;  // add/mul by a scalar, the same-shape binary ops
constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;

float logistic(float v) {
  return 1.0f / (1.0f + std::exp(-v));
}

// y (n) = f(x).
template <class F>
void each(int64_t n, int64_t threshold, const float* x, float* y, F f) {
#pragma omp parallel for if (n > threshold)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// gx (n) = g · d(y): derivatives from the output alone.
template <class D>
void each_from_y(int64_t n, const float* y, const float* g, float* gx, D d) {
#pragma omp parallel for if (n > kUnaryThreads)
  for (int64_t i = 0; i < n; ++i) gx[i] = g[i] * d(y[i]);
}

// gx (n) = g · d(x, y).
template <class D>
void each_from_xy(int64_t n, const float* x, const float* y, const float* g, float* gx, D d) {
#pragma omp parallel for if (n > kUnaryThreads)
  for (int64_t i = 0; i < n; ++i) gx[i] = g[i] * d(x[i], y[i]);
}

// Where row r of y's innermost axis starts in a and b (in elements) under the broadcast s.
void row_offsets(const kernels::Broadcast& s, int64_t r, int64_t& oa, int64_t& ob) {
  oa = ob = 0;
  for (int64_t k = s.rank - 2, rest = r; k >= 0; --k) {
    const int64_t index = rest % s.shape[k];
    rest /= s.shape[k];
    oa += index * s.stride_a[k];
    ob += index * s.stride_b[k];
  }
}

// y = f(a, b) over the broadcast s: one flat loop when both operands are dense, else row by row (the innermost axis
// of y) with the operands' offsets computed per row, specialised for the usual inner strides 1 and 0.
template <class F>
void zip_with(const kernels::Broadcast& s, const float* a, const float* b, float* y, F f) {
  if (s.rank == 0) {
    y[0] = f(a[0], b[0]);
    return;
  }
  int64_t total = 1;
  for (int k = 0; k < s.rank; ++k) total *= s.shape[k];
  if (total == 0) return;
  const int last = s.rank - 1;
  const int64_t inner = s.shape[last], ia = s.stride_a[last], ib = s.stride_b[last];
  if (s.rank == 1 && ia == 1 && ib == 1) {
#pragma omp parallel for if (total > kScalarThreads)
    for (int64_t i = 0; i < total; ++i) y[i] = f(a[i], b[i]);
    return;
  }
  const int64_t rows = total / inner;
#pragma omp parallel for if (total > kScalarThreads)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa, ob;
    row_offsets(s, r, oa, ob);
    const float* pa = a + oa;
    const float* pb = b + ob;
    float* py = y + r * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j], pb[j]);
    } else if (ia == 1 && ib == 0) {
      const float vb = pb[0];
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j], vb);
    } else if (ia == 0 && ib == 1) {
      const float va = pa[0];
      for (int64_t j = 0; j < inner; ++j) py[j] = f(va, pb[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j * ia], pb[j * ib]);
    }
  }
}

float nan_max(float a, float b) {  // NaN propagates, as in PyTorch (std::fmax would drop it)
  return std::isnan(a) || std::isnan(b) ? std::nanf("") : std::fmax(a, b);
}

float nan_min(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? std::nanf("") : std::fmin(a, b);
}

}  // namespace

void fill(DType dtype, int64_t n, float value, void* y) {
  if (dtype == DType::bf16) {
    std::fill_n(static_cast<bfloat16*>(y), n, to_bfloat16(value));
  } else {
    std::fill_n(static_cast<float*>(y), n, value);
  }
}

void copy(DType dtype, int64_t n, const void* x, void* y) {
  if (n > 0) std::memmove(y, x, static_cast<size_t>(n) * dtype_size(dtype));  // views of one storage may overlap
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  // Short vectors (the LSTM backward calls this once per row and step) skip OpenMP altogether: entering a parallel
  // region costs microseconds even when its `if` is false.
  if (n <= kScalarThreads) {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
    return;
  }
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

namespace {

void map_f32(const kernels::UnaryCall& f, int64_t n, const float* x, float* y) {
  const float p0 = f.p0, p1 = f.p1;
  const int64_t t = kUnaryThreads;
  switch (f.op) {
    case Unary::neg:
      return each(n, kScalarThreads, x, y, [](float v) { return -v; });
    case Unary::exp:
      return each(n, t, x, y, [](float v) { return std::exp(v); });
    case Unary::log:
      return each(n, t, x, y, [](float v) { return std::log(v); });
    case Unary::sqrt:
      return each(n, t, x, y, [](float v) { return std::sqrt(v); });
    case Unary::rsqrt:
      return each(n, t, x, y, [](float v) { return 1.0f / std::sqrt(v); });
    case Unary::abs:
      return each(n, t, x, y, [](float v) { return std::fabs(v); });
    case Unary::pow:
      return each(n, t, x, y, [p0](float v) { return std::pow(v, p0); });
    case Unary::clamp:  // NaN stays NaN
      return each(n, t, x, y, [p0, p1](float v) { return v < p0 ? p0 : (v > p1 ? p1 : v); });
    case Unary::add_scalar:
      return each(n, kScalarThreads, x, y, [p0](float v) { return v + p0; });
    case Unary::mul_scalar:
      return each(n, kScalarThreads, x, y, [p0](float v) { return v * p0; });
    case Unary::div_scalar_by:
      return each(n, t, x, y, [p0](float v) { return p0 / v; });
    case Unary::relu:
      return kernels::relu_forward(n, x, y);
    case Unary::sigmoid:
      return each(n, t, x, y, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    case Unary::hard_sigmoid:
      return each(n, t, x, y, [](float v) { return std::fmin(1.0f, std::fmax(0.0f, 0.2f * v + 0.5f)); });
    case Unary::tanh:
      return each(n, t, x, y, [](float v) { return std::tanh(v); });
    case Unary::leaky_relu:
      return each(n, t, x, y, [p0](float v) { return v > 0.0f ? v : p0 * v; });
    case Unary::elu:
      return each(n, t, x, y, [p0](float v) { return v > 0.0f ? v : p0 * std::expm1(v); });
    case Unary::gelu:
      return each(n, t, x, y, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); });
    case Unary::silu:
      return each(n, t, x, y, [](float v) { return v * logistic(v); });
  }
}

}  // namespace

void map_backward(const kernels::UnaryCall& f, int64_t n, const float* x, const float* y, const float* g, float* gx) {
  const float p0 = f.p0, p1 = f.p1;
  switch (f.op) {
    case Unary::neg:
      return each(n, kUnaryThreads, g, gx, [](float v) { return v * -1.0f; });
    case Unary::exp:
      return each_from_y(n, y, g, gx, [](float v) { return v; });
    case Unary::log:
      return each_from_xy(n, x, y, g, gx, [](float v, float) { return 1.0f / v; });
    case Unary::sqrt:
      return each_from_y(n, y, g, gx, [](float v) { return 0.5f / v; });
    case Unary::rsqrt:
      return each_from_y(n, y, g, gx, [](float v) { return -0.5f * v * v * v; });
    case Unary::abs:
      return each_from_xy(n, x, y, g, gx, [](float v, float) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); });
    case Unary::pow:
      return each_from_xy(n, x, y, g, gx,
                          [p0](float v, float) { return p0 == 0.0f ? 0.0f : p0 * std::pow(v, p0 - 1.0f); });
    case Unary::clamp:
      return each_from_xy(n, x, y, g, gx, [p0, p1](float v, float) { return (v >= p0 && v <= p1) ? 1.0f : 0.0f; });
    case Unary::add_scalar:
      return copy(DType::f32, n, g, gx);
    case Unary::mul_scalar:
      return each(n, kUnaryThreads, g, gx, [p0](float v) { return v * p0; });
    case Unary::div_scalar_by:
      return each_from_xy(n, x, y, g, gx, [](float v, float w) { return -w / v; });
    case Unary::relu:
      return kernels::relu_backward(n, y, g, gx);
    case Unary::sigmoid:
      return each_from_y(n, y, g, gx, [](float v) { return v * (1.0f - v); });
    case Unary::hard_sigmoid:
      return each_from_y(n, y, g, gx, [](float v) { return (v > 0.0f && v < 1.0f) ? 0.2f : 0.0f; });
    case Unary::tanh:
      return each_from_y(n, y, g, gx, [](float v) { return 1.0f - v * v; });
    case Unary::leaky_relu:
      return each_from_xy(n, x, y, g, gx, [p0](float v, float) { return v > 0.0f ? 1.0f : p0; });
    case Unary::elu:
      return each_from_xy(n, x, y, g, gx, [p0](float v, float) { return v > 0.0f ? 1.0f : p0 * std::exp(v); });
    case Unary::gelu:  // Φ(x) + x·φ(x)
      return each_from_xy(n, x, y, g, gx, [](float v, float) {
        return 0.5f * (1.0f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
      });
    case Unary::silu:  // s·(1 + x·(1 − s))
      return each_from_xy(n, x, y, g, gx, [](float v, float) {
        float s = logistic(v);
        return s * (1.0f + v * (1.0f - s));
      });
  }
}

namespace {

void zip_f32(Binary op, const kernels::Broadcast& s, const float* a, const float* b, float* y) {
  switch (op) {
    case Binary::add:
      if (s.rank == 1 && s.stride_a[0] == 1 && s.stride_b[0] == 1) return kernels::add_forward(s.shape[0], a, b, y);
      return zip_with(s, a, b, y, [](float u, float v) { return u + v; });
    case Binary::sub:
      return zip_with(s, a, b, y, [](float u, float v) { return u - v; });
    case Binary::mul:
      return zip_with(s, a, b, y, [](float u, float v) { return u * v; });
    case Binary::div:
      return zip_with(s, a, b, y, [](float u, float v) { return u / v; });
    case Binary::pow:
      return zip_with(s, a, b, y, [](float u, float v) { return std::pow(u, v); });
    case Binary::minimum:
      return zip_with(s, a, b, y, nan_min);
    case Binary::maximum:
      return zip_with(s, a, b, y, nan_max);
    case Binary::eq:
      return zip_with(s, a, b, y, [](float u, float v) { return u == v ? 1.0f : 0.0f; });
    case Binary::ne:
      return zip_with(s, a, b, y, [](float u, float v) { return u != v ? 1.0f : 0.0f; });
    case Binary::lt:
      return zip_with(s, a, b, y, [](float u, float v) { return u < v ? 1.0f : 0.0f; });
    case Binary::le:
      return zip_with(s, a, b, y, [](float u, float v) { return u <= v ? 1.0f : 0.0f; });
    case Binary::gt:
      return zip_with(s, a, b, y, [](float u, float v) { return u > v ? 1.0f : 0.0f; });
    case Binary::ge:
      return zip_with(s, a, b, y, [](float u, float v) { return u >= v ? 1.0f : 0.0f; });
  }
}

// bf16: runs of kRun elements widened into f32 buffers on the thread's stack, the f32 function, rounded once — the
// conversion path's numbers with bf16's memory traffic. A run is part of one row of y's innermost axis, so the
// operands' strides along it are constant (1, 0 or other).
constexpr int64_t kRun = 1024;

void widen_strided(const bfloat16* p, int64_t stride, int64_t n, float* out) {
  if (stride == 1) return widen_run(n, p, out);
  for (int64_t j = 0; j < n; ++j) out[j] = to_float(p[j * stride]);
}

void map_bf16(const kernels::UnaryCall& f, int64_t n, const bfloat16* x, bfloat16* y) {
  const int64_t runs = (n + kRun - 1) / kRun;
#pragma omp parallel for if (n > kScalarThreads)
  for (int64_t r = 0; r < runs; ++r) {
    const int64_t start = r * kRun, count = std::min(kRun, n - start);
    if (f.op == Unary::relu) {
      relu_run(count, x + start, y + start);
      continue;
    }
    float buffer[kRun];
    widen_run(count, x + start, buffer);
    map_f32(f, count, buffer, buffer);
    narrow_run(count, buffer, y + start);
  }
}

void zip_bf16(Binary op, const kernels::Broadcast& s, const bfloat16* a, const bfloat16* b, bfloat16* y) {
  int64_t total = 1;
  for (int k = 0; k < s.rank; ++k) total *= s.shape[k];
  if (total == 0) return;
  const int64_t inner = s.rank == 0 ? 1 : s.shape[s.rank - 1];
  const int64_t ia = s.rank == 0 ? 0 : s.stride_a[s.rank - 1], ib = s.rank == 0 ? 0 : s.stride_b[s.rank - 1];
  const int64_t runs_per_row = (inner + kRun - 1) / kRun, runs = total / inner * runs_per_row;
  const kernels::Broadcast dense{.rank = 1, .shape = {kRun}, .stride_a = {1}, .stride_b = {1}};
#pragma omp parallel for if (total > kScalarThreads)
  for (int64_t q = 0; q < runs; ++q) {
    const int64_t row = q / runs_per_row, j0 = q % runs_per_row * kRun, count = std::min(kRun, inner - j0);
    int64_t oa, ob;
    row_offsets(s, row, oa, ob);
    float fa[kRun], fb[kRun];
    widen_strided(a + oa + j0 * ia, ia, count, fa);
    widen_strided(b + ob + j0 * ib, ib, count, fb);
    kernels::Broadcast run = dense;
    run.shape[0] = count;
    zip_f32(op, run, fa, fb, fa);
    narrow_run(count, fa, y + row * inner + j0);
  }
}

}  // namespace

void map(const kernels::UnaryCall& f, DType dtype, int64_t n, const void* x, void* y) {
  if (dtype == DType::bf16) {
    map_bf16(f, n, static_cast<const bfloat16*>(x), static_cast<bfloat16*>(y));
  } else {
    map_f32(f, n, static_cast<const float*>(x), static_cast<float*>(y));
  }
}

void zip(Binary op, DType dtype, const kernels::Broadcast& s, const void* a, const void* b, void* y) {
  if (dtype == DType::bf16) {
    zip_bf16(op, s, static_cast<const bfloat16*>(a), static_cast<const bfloat16*>(b), static_cast<bfloat16*>(y));
  } else {
    zip_f32(op, s, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(y));
  }
}

void select(int64_t n, const float* mask, const float* a, const float* b, float* y) {
#pragma omp parallel for if (n > kScalarThreads)
  for (int64_t i = 0; i < n; ++i) y[i] = mask[i] != 0.0f ? a[i] : b[i];
}

void reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y) {
  // Each output sums (or scans) its `extent` values in order; a block of up to kBlock outputs along `inner` is
  // accumulated together so the loop over them is contiguous.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for if (outer * extent * inner > kScalarThreads)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, start = task % blocks * kBlock;
    const int64_t width = std::min(kBlock, inner - start);
    const float* xo = x + o * extent * inner + start;
    float* yo = y + o * inner + start;
    if (op == kernels::Reduce::sum) {
      float total[kBlock] = {};  // float, in element order: the sums libnn has always computed (ref: double)
      for (int64_t e = 0; e < extent; ++e) {
        const float* row = xo + e * inner;
        for (int64_t j = 0; j < width; ++j) total[j] += row[j];
      }
      for (int64_t j = 0; j < width; ++j) yo[j] = static_cast<float>(total[j]);
    } else {
      const bool larger = op == kernels::Reduce::max;
      float best[kBlock];
      std::fill_n(best, width, larger ? -INFINITY : INFINITY);
      for (int64_t e = 0; e < extent; ++e) {
        const float* row = xo + e * inner;
        if (larger) {
          for (int64_t j = 0; j < width; ++j) best[j] = nan_max(best[j], row[j]);
        } else {
          for (int64_t j = 0; j < width; ++j) best[j] = nan_min(best[j], row[j]);
        }
      }
      std::copy_n(best, width, yo);
    }
  }
}

void arg_reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, int64_t* index) {
  const bool larger = op != kernels::Reduce::min;
#pragma omp parallel for if (outer * extent * inner > kScalarThreads)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* p = x + o * extent * inner + i;
      int64_t k = 0;
      for (int64_t d = 1; d < extent && !std::isnan(p[k * inner]); ++d) {  // a NaN wins, as in PyTorch
        const float v = p[d * inner];
        if (std::isnan(v) || (larger ? v > p[k * inner] : v < p[k * inner])) k = d;
      }
      index[o * inner + i] = k;
    }
  }
}

void softmax_rows_backward(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* y, const float* g,
                           float* gx) {
#pragma omp parallel for if (rows * width > kUnaryThreads)
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * width;
    const float* gr = g + r * width;
    float* out = gx + r * width;
    double total = 0;
    if (kind == kernels::RowSoftmax::softmax) {  // y ⊙ (g − Σ g⊙y)
      for (int64_t j = 0; j < width; ++j) total += static_cast<double>(gr[j]) * yr[j];
      for (int64_t j = 0; j < width; ++j) out[j] = yr[j] * (gr[j] - static_cast<float>(total));
    } else {  // log-softmax: g − eʸ·Σ g
      for (int64_t j = 0; j < width; ++j) total += gr[j];
      for (int64_t j = 0; j < width; ++j) out[j] = gr[j] - std::exp(yr[j]) * static_cast<float>(total);
    }
  }
}

}  // namespace nn::cpu
