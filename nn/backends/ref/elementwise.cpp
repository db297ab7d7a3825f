// The reference backend's elementwise, broadcast, reduction and row-softmax primitives: one element at a time, the
// function evaluated in double and rounded once, sums in double, no threads — the oracle the cpu backend is checked
// against (tests/test_backend_elementwise.cpp).
#include <cmath>
#include <cstring>
#include <vector>

#include "nn/backends/ref/ref.h"

namespace nn::ref {

namespace {

using kernels::Binary;
using kernels::Unary;

// Element i of an f32 or bf16 array, and a value stored into one: rounded to f32 first, then (bf16) once more, as
// the cpu backend computes bf16 in f32 and rounds its result.
double load(DType dtype, const void* p, int64_t i) {
  return dtype == DType::bf16 ? to_float(static_cast<const bfloat16*>(p)[i]) : static_cast<const float*>(p)[i];
}

void store(DType dtype, void* p, int64_t i, double v) {
  const auto f = static_cast<float>(v);
  if (dtype == DType::bf16) {
    static_cast<bfloat16*>(p)[i] = to_bfloat16(f);
  } else {
    static_cast<float*>(p)[i] = f;
  }
}

// f(v) for one element.
double unary_value(const kernels::UnaryCall& f, double v) {
  const double p0 = f.p0, p1 = f.p1;
  switch (f.op) {
    case Unary::neg:
      return -v;
    case Unary::exp:
      return std::exp(v);
    case Unary::log:
      return std::log(v);
    case Unary::sqrt:
      return std::sqrt(v);
    case Unary::rsqrt:
      return 1.0 / std::sqrt(v);
    case Unary::abs:
      return std::fabs(v);
    case Unary::pow:
      return std::pow(v, p0);
    case Unary::clamp:
      return v < p0 ? p0 : (v > p1 ? p1 : v);
    case Unary::add_scalar:
      return v + p0;
    case Unary::mul_scalar:
      return v * p0;
    case Unary::div_scalar_by:
      return p0 / v;
    case Unary::relu:
      return v > 0 ? v : 0.0;
    case Unary::sigmoid:
      return logistic(v);
    case Unary::hard_sigmoid:
      return std::fmin(1.0, std::fmax(0.0, 0.2 * v + 0.5));
    case Unary::tanh:
      return std::tanh(v);
    case Unary::leaky_relu:
      return v > 0 ? v : p0 * v;
    case Unary::elu:
      return v > 0 ? v : p0 * std::expm1(v);
    case Unary::gelu:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Unary::silu:
      return v * logistic(v);
  }
  return v;
}

// f′ at x (and y = f(x), as the forward computed it) for one element.
double unary_derivative(const kernels::UnaryCall& f, double x, double y) {
  const double p0 = f.p0, p1 = f.p1;
  switch (f.op) {
    case Unary::neg:
      return -1.0;
    case Unary::exp:
      return y;
    case Unary::log:
      return 1.0 / x;
    case Unary::sqrt:
      return 0.5 / y;
    case Unary::rsqrt:
      return -0.5 * y * y * y;
    case Unary::abs:
      return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case Unary::pow:
      return p0 == 0 ? 0.0 : p0 * std::pow(x, p0 - 1);
    case Unary::clamp:
      return x >= p0 && x <= p1 ? 1.0 : 0.0;
    case Unary::add_scalar:
      return 1.0;
    case Unary::mul_scalar:
      return p0;
    case Unary::div_scalar_by:
      return -y / x;
    case Unary::relu:
      return y > 0 ? 1.0 : 0.0;
    case Unary::sigmoid:
      return y * (1 - y);
    case Unary::hard_sigmoid:
      return y > 0 && y < 1 ? 0.2 : 0.0;
    case Unary::tanh:
      return 1 - y * y;
    case Unary::leaky_relu:
      return x > 0 ? 1.0 : p0;
    case Unary::elu:
      return x > 0 ? 1.0 : p0 * std::exp(x);
    case Unary::gelu: {
      const double pi = 3.14159265358979323846;
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * pi);
    }
    case Unary::silu: {
      double s = logistic(x);
      return s * (1 + x * (1 - s));
    }
  }
  return 0.0;
}

double binary_value(Binary op, double a, double b) {
  switch (op) {
    case Binary::add:
      return a + b;
    case Binary::sub:
      return a - b;
    case Binary::mul:
      return a * b;
    case Binary::div:
      return a / b;
    case Binary::pow:
      return std::pow(a, b);
    case Binary::minimum:
      return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
    case Binary::maximum:
      return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
    case Binary::eq:
      return a == b;
    case Binary::ne:
      return a != b;
    case Binary::lt:
      return a < b;
    case Binary::le:
      return a <= b;
    case Binary::gt:
      return a > b;
    case Binary::ge:
      return a >= b;
  }
  return 0.0;
}

}  // namespace

void fill(DType dtype, int64_t n, float value, void* y) {
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::bf16) {
      static_cast<bfloat16*>(y)[i] = to_bfloat16(value);
    } else {
      static_cast<float*>(y)[i] = value;
    }
  }
}

void copy(DType dtype, int64_t n, const void* x, void* y) {
  // Through a temporary, so that overlapping ranges (views of one storage) copy as if they did not overlap.
  const auto* from = static_cast<const unsigned char*>(x);
  const std::vector<unsigned char> bytes(from, from + n * static_cast<int64_t>(dtype_size(dtype)));
  auto* to = static_cast<unsigned char*>(y);
  for (size_t i = 0; i < bytes.size(); ++i) to[i] = bytes[i];
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(y[i] + static_cast<double>(alpha) * x[i]);
}

void map(const kernels::UnaryCall& f, DType dtype, int64_t n, const void* x, void* y) {
  for (int64_t i = 0; i < n; ++i) store(dtype, y, i, unary_value(f, load(dtype, x, i)));
}

void map_backward(const kernels::UnaryCall& f, int64_t n, const float* x, const float* y, const float* g, float* gx) {
  const bool with_x = kernels::derivative_reads_x(f.op);
  for (int64_t i = 0; i < n; ++i) {
    double d = unary_derivative(f, with_x ? x[i] : 0.0, y[i]);
    gx[i] = static_cast<float>(g[i] * d);
  }
}

void zip(Binary op, DType dtype, const kernels::Broadcast& shape, const void* a, const void* b, void* y) {
  int64_t total = 1;
  for (int k = 0; k < shape.rank; ++k) total *= shape.shape[k];
  for (int64_t i = 0; i < total; ++i) {
    int64_t ia = 0, ib = 0, rest = i;  // i unravelled over y's shape, innermost axis first
    for (int k = shape.rank - 1; k >= 0; --k) {
      int64_t index = rest % shape.shape[k];
      rest /= shape.shape[k];
      ia += index * shape.stride_a[k];
      ib += index * shape.stride_b[k];
    }
    store(dtype, y, i, binary_value(op, load(dtype, a, ia), load(dtype, b, ib)));
  }
}

void select(int64_t n, const float* mask, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    if (mask[i] != 0.0f) {
      y[i] = a[i];
    } else {
      y[i] = b[i];
    }
  }
}

void reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double acc = op == kernels::Reduce::sum ? 0.0 : (op == kernels::Reduce::max ? -INFINITY : INFINITY);
      for (int64_t e = 0; e < extent; ++e) {
        double v = x[(o * extent + e) * inner + i];
        if (op == kernels::Reduce::sum) {
          acc += v;
        } else if (std::isnan(v) || std::isnan(acc)) {
          acc = NAN;
        } else {
          acc = op == kernels::Reduce::max ? std::fmax(acc, v) : std::fmin(acc, v);
        }
      }
      y[o * inner + i] = static_cast<float>(acc);
    }
  }
}

void arg_reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, int64_t* index) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double best_value = x[o * extent * inner + i];
      for (int64_t d = 1; d < extent; ++d) {
        if (std::isnan(best_value)) break;  // the first NaN is the answer
        double v = x[(o * extent + d) * inner + i];
        bool better = op == kernels::Reduce::min ? v < best_value : v > best_value;
        if (std::isnan(v) || better) {
          best = d;
          best_value = v;
        }
      }
      index[o * inner + i] = best;
    }
  }
}

void softmax_rows(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    double max = -INFINITY;
    for (int64_t j = 0; j < width; ++j) max = std::fmax(max, xr[j]);
    double total = 0;
    for (int64_t j = 0; j < width; ++j) total += std::exp(xr[j] - max);
    double log_total = std::log(total);
    if (kind == kernels::RowSoftmax::logsumexp) {
      y[r] = width == 0 ? -INFINITY : static_cast<float>(max + log_total);
      continue;
    }
    for (int64_t j = 0; j < width; ++j) {
      double shifted = xr[j] - max;
      y[r * width + j] = static_cast<float>(kind == kernels::RowSoftmax::log_softmax ? shifted - log_total
                                                                                     : std::exp(shifted) / total);
    }
  }
}

void softmax_rows_backward(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* y, const float* g,
                           float* gx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * width;
    const float* gr = g + r * width;
    double total = 0;
    for (int64_t j = 0; j < width; ++j) total += kind == kernels::RowSoftmax::softmax ? double{gr[j]} * yr[j] : gr[j];
    for (int64_t j = 0; j < width; ++j) {
      gx[r * width + j] = static_cast<float>(
          kind == kernels::RowSoftmax::softmax ? yr[j] * (gr[j] - total) : gr[j] - std::exp(double{yr[j]}) * total);
    }
  }
}

}  // namespace nn::ref
