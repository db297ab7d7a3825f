// The part of a pooling window that lies inside the image, shared by the reference loops (nn/backends/ref/loops.cpp)
// and the fast kernels (pool_fast.cpp, compiled once per instruction-set level): internal linkage (an unnamed
// namespace), so each level keeps its own copy, as simd.h explains.
#pragma once

#include <algorithm>
#include <cstdint>

#include "nn/backends/primitives.h"

namespace nn::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above

// The window rows/columns of output (oh, ow) that lie inside the image: [h0, h1) × [w0, w1) in input coordinates.
struct Span {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};
inline Span span_of(const Window2D& g, int64_t oh, int64_t ow) {
  int64_t top = oh * g.sh - g.pad_top, left = ow * g.sw - g.pad_left;
  return {std::max<int64_t>(top, 0), std::min(top + g.kh, g.h), std::max<int64_t>(left, 0), std::min(left + g.kw, g.w)};
}

}  // namespace
}  // namespace nn::kernels
