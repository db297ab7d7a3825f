// softmax and log_softmax over the last axis, computed stably (max subtracted) row by row by the backend's
// softmax_rows; another axis is moved last (transpose, a copy), computed there and moved back, so its gradient is
// composed.
//   softmax backward:     gx = y ⊙ (g − Σ g⊙y)
//   log_softmax backward: gx = g − softmax(x) · Σ g
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
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

// y = softmax or log_softmax of x over its last axis (x of rank ≥ 1, f32), and its recorded backward.
Tensor row_softmax(const char* op, const Tensor& x, kernels::RowSoftmax kind) {
  Rows rows = rows_of(x, op);
  Tensor y = Tensor::empty(x.shape());
  backend_for(x).softmax_rows(kind, rows.count, rows.width, x.data(), y.data());
  record(op, {x}, y, [y = y.detach(), rows, kind](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape());
    backend_for(g).softmax_rows_backward(kind, rows.count, rows.width, y.data(), g.data(), gx.data());
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) {
  if (detail::any_low_precision({x})) return softmax(detail::to_f32(x), axis).to(detail::result_dtype({x}));
  if (x.rank() > 0) {
    int a = normalize_axis(axis, x.rank(), "softmax");
    if (a != x.rank() - 1) return transpose(softmax(transpose(x, a, -1)), a, -1);
  }
  return row_softmax("softmax", x, kernels::RowSoftmax::softmax);
}

Tensor log_softmax(const Tensor& x, int axis) {
  if (detail::any_low_precision({x})) return log_softmax(detail::to_f32(x), axis).to(detail::result_dtype({x}));
  if (x.rank() > 0) {
    int a = normalize_axis(axis, x.rank(), "log_softmax");
    if (a != x.rank() - 1) return transpose(log_softmax(transpose(x, a, -1)), a, -1);
  }
  return row_softmax("log_softmax", x, kernels::RowSoftmax::log_softmax);
}

}  // namespace nn
