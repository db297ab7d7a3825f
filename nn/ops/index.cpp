// max / min along one axis and their positions. A tensor seen around `axis` is (outer, D, inner); each output
// element scans the D values at stride `inner`. The backward of max / min scatters g to the chosen positions.
#include <cmath>
#include <string>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
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
// output element.
std::vector<int64_t> positions(const Tensor& x, const Scan& s, bool larger) {
  std::vector<int64_t> best(static_cast<size_t>(s.outer * s.inner), 0);
  const float* px = x.data();
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const float* p = px + o * s.extent * s.inner + i;
      int64_t k = 0;
      for (int64_t d = 1; d < s.extent && !std::isnan(p[k * s.inner]); ++d) {  // a NaN wins, as in PyTorch
        float v = p[d * s.inner];
        if (std::isnan(v) || (larger ? v > p[k * s.inner] : v < p[k * s.inner])) k = d;
      }
      best[o * s.inner + i] = k;
    }
  }
  return best;
}

Tensor extreme_along(const char* op, const Tensor& x, int axis, bool keepdim, bool larger) {
  Scan s = plan_scan(x, axis, keepdim, op);
  std::vector<int64_t> best = positions(x, s, larger);
  Tensor out = Tensor::empty(s.result);
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      out.data()[o * s.inner + i] = x.data()[(o * s.extent + best[o * s.inner + i]) * s.inner + i];
    }
  }
  Shape input_shape = x.shape();
  record(op, {x}, out, [s, best, input_shape](const Tensor& g) {
    Tensor gx = Tensor::zeros(input_shape);
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        gx.data()[(o * s.extent + best[o * s.inner + i]) * s.inner + i] = g.data()[o * s.inner + i];
      }
    }
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor position_along(const char* op, const Tensor& x, int axis, bool keepdim, bool larger) {
  Scan s = plan_scan(x, axis, keepdim, op);
  std::vector<int64_t> best = positions(x, s, larger);
  Tensor out = Tensor::empty(s.result);
  for (size_t k = 0; k < best.size(); ++k) out.data()[k] = static_cast<float>(best[k]);
  return out;
}

}  // namespace

Tensor max(const Tensor& x, int axis, bool keepdim) {
  return extreme_along("max", x, axis, keepdim, true);
}
Tensor min(const Tensor& x, int axis, bool keepdim) {
  return extreme_along("min", x, axis, keepdim, false);
}
Tensor argmax(const Tensor& x, int axis, bool keepdim) {
  return position_along("argmax", x, axis, keepdim, true);
}
Tensor argmin(const Tensor& x, int axis, bool keepdim) {
  return position_along("argmin", x, axis, keepdim, false);
}

}  // namespace nn
