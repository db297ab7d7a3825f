// softmax and log_softmax over the last axis, computed stably (max subtracted) row by row; another axis is moved
// last (transpose, a copy), computed there and moved back, so its gradient is composed.
//   softmax backward:     gx = y ⊙ (g − Σ g⊙y)
//   log_softmax backward: gx = g − softmax(x) · Σ g
#include <cmath>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct Rows {
  int64_t count, width;
};

Rows rows_of(const Tensor& x, const char* op) {
  if (x.rank() == 0) fail_expected(op, "a tensor of rank ≥ 1", "a scalar");
  int64_t width = x.dim(-1);
  return {width == 0 ? 0 : x.numel() / width, width};
}

// out[r] = log_softmax (log = true) or softmax (log = false) of row r.
void softmax_rows(const float* x, float* out, Rows rows, bool log) {
#pragma omp parallel for if (rows.count * rows.width > (1 << 15))
  for (int64_t r = 0; r < rows.count; ++r) {
    const float* xr = x + r * rows.width;
    float* yr = out + r * rows.width;
    float max = xr[0];
    for (int64_t j = 1; j < rows.width; ++j) max = std::fmax(max, xr[j]);
    double total = 0;
    for (int64_t j = 0; j < rows.width; ++j) total += std::exp(xr[j] - max);  // float exp, double sum
    if (log) {
      float log_total = static_cast<float>(std::log(total));
      for (int64_t j = 0; j < rows.width; ++j) yr[j] = xr[j] - max - log_total;
    } else {
      float inv = static_cast<float>(1.0 / total);
      for (int64_t j = 0; j < rows.width; ++j) yr[j] = std::exp(xr[j] - max) * inv;
    }
  }
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  if (x.rank() > 0) {
    int a = normalize_axis(axis, x.rank(), "softmax");
    if (a != x.rank() - 1) return transpose(softmax(transpose(x, a, -1)), a, -1);
  }
  Rows rows = rows_of(x, "softmax");
  Tensor y = Tensor::empty(x.shape());
  softmax_rows(x.data(), y.data(), rows, false);
  record("softmax", {x}, y, [y = y.detach(), rows](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* py = y.data();
    float* pgx = gx.data();
    for (int64_t r = 0; r < rows.count; ++r) {
      int64_t o = r * rows.width;
      double dot = 0;
      for (int64_t j = 0; j < rows.width; ++j) dot += static_cast<double>(pg[o + j]) * py[o + j];
      for (int64_t j = 0; j < rows.width; ++j) pgx[o + j] = py[o + j] * (pg[o + j] - static_cast<float>(dot));
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor log_softmax(const Tensor& x, int axis) {
  if (x.rank() > 0) {
    int a = normalize_axis(axis, x.rank(), "log_softmax");
    if (a != x.rank() - 1) return transpose(log_softmax(transpose(x, a, -1)), a, -1);
  }
  Rows rows = rows_of(x, "log_softmax");
  Tensor y = Tensor::empty(x.shape());
  softmax_rows(x.data(), y.data(), rows, true);
  record("log_softmax", {x}, y, [y = y.detach(), rows](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* py = y.data();
    float* pgx = gx.data();
    for (int64_t r = 0; r < rows.count; ++r) {
      int64_t o = r * rows.width;
      double total = 0;
      for (int64_t j = 0; j < rows.width; ++j) total += pg[o + j];
      for (int64_t j = 0; j < rows.width; ++j) pgx[o + j] = pg[o + j] - std::exp(py[o + j]) * static_cast<float>(total);
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace nn
