// max / min along one axis and their positions. A tensor seen around `axis` is (outer, D, inner); the backend's
// arg_reduce finds each output's position among its D values at stride `inner`, gather_rows (rows of width 1) reads
// the values there, and the backward of max / min scatters g to the same positions (scatter_add_rows).
#include <climits>
#include <string>
#include <utility>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct Scan {
  int axis;
  int64_t outer = 1, extent = 1, inner = 1;
  Shape result;  // without the axis, or with extent 1 there (keepdim)
};

Scan plan_scan(const Tensor& x, int axis, bool keepdim, const char* op) {
  Scan s{normalize_axis(axis, x.rank(), op)};
  for (int a = 0; a < x.rank(); ++a) {
    if (a < s.axis) s.outer *= x.dim(a);
    if (a > s.axis) s.inner *= x.dim(a);
    if (a != s.axis) s.result.push_back(x.dim(a));
    if (a == s.axis && keepdim) s.result.push_back(1);
  }
  s.extent = x.dim(s.axis);
  if (s.extent == 0) fail_expected(op, "a non-empty axis " + std::to_string(s.axis), "shape " + to_string(x.shape()));
  return s;
}

// The position along the axis of the first largest (larger = true) or smallest value, or of the first NaN, per
// output element (backend arg_reduce).
std::vector<int64_t> positions(const Tensor& x, const Scan& s, bool larger) {
  std::vector<int64_t> best(static_cast<size_t>(s.outer * s.inner), 0);
  backend_for(x).arg_reduce(larger ? kernels::Reduce::max : kernels::Reduce::min, s.outer, s.extent, s.inner, x.data(),
                            best.data());
  return best;
}

// The flat index into x of each chosen element: ids for gather_rows / scatter_add_rows with rows of width 1.
std::vector<int32_t> flat_ids(const Scan& s, const std::vector<int64_t>& best) {
  std::vector<int32_t> ids(best.size());
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      ids[o * s.inner + i] = static_cast<int32_t>((o * s.extent + best[o * s.inner + i]) * s.inner + i);
    }
  }
  return ids;
}

Tensor extreme_along(const char* op, const Tensor& x, int axis, bool keepdim, bool larger) {
  Scan s = plan_scan(x, axis, keepdim, op);
  if (x.numel() > INT32_MAX) fail_expected(op, "at most 2147483647 elements", "shape " + to_string(x.shape()));
  std::vector<int32_t> ids = flat_ids(s, positions(x, s, larger));
  const int64_t count = static_cast<int64_t>(ids.size());
  Tensor out = Tensor::empty(s.result);
  backend_for(x).gather_rows(count, ids.data(), 1, x.data(), out.data());
  Shape input_shape = x.shape();
  record(op, {x}, out, [ids = std::move(ids), count, input_shape](const Tensor& g) {
    Tensor gx = Tensor::zeros(input_shape);  // g lands on the chosen positions, which are distinct
    backend_for(g).scatter_add_rows(count, ids.data(), 1, g.data(), gx.data());
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor position_along(const char* op, const Tensor& x, int axis, bool keepdim, bool larger) {
  Scan s = plan_scan(x, axis, keepdim, op);
  std::vector<int64_t> best = positions(x, s, larger);
  Tensor out = Tensor::empty(s.result);
  float* po = out.data();
  for (size_t k = 0; k < best.size(); ++k) po[k] = static_cast<float>(best[k]);  // positions as values
  return out;
}

}  // namespace

Tensor max(const Tensor& x, int axis, bool keepdim) {
  if (detail::any_low_precision({x})) return max(detail::to_f32(x), axis, keepdim).to(detail::result_dtype({x}));
  return extreme_along("max", x, axis, keepdim, true);
}
Tensor min(const Tensor& x, int axis, bool keepdim) {
  if (detail::any_low_precision({x})) return min(detail::to_f32(x), axis, keepdim).to(detail::result_dtype({x}));
  return extreme_along("min", x, axis, keepdim, false);
}
Tensor argmax(const Tensor& x, int axis, bool keepdim) {
  if (detail::any_low_precision({x})) return argmax(detail::to_f32(x), axis, keepdim);  // positions stay f32
  return position_along("argmax", x, axis, keepdim, true);
}
Tensor argmin(const Tensor& x, int axis, bool keepdim) {
  if (detail::any_low_precision({x})) return argmin(detail::to_f32(x), axis, keepdim);  // positions stay f32
  return position_along("argmin", x, axis, keepdim, false);
}

}  // namespace nn
