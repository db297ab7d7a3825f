// The one function that does the padding and output-size arithmetic for convolution, depthwise convolution and
// pooling (DESIGN.md item 5), with TensorFlow's semantics (nn/core/padding.h). Internal: not installed.
#pragma once

#include "nn/backends/primitives.h"
#include "nn/core/padding.h"
#include "nn/core/shape.h"

namespace nn {

struct WindowSpec {
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  Padding padding = Padding::valid;
};

// Checks an NHWC input against a window and returns the geometry; `out_channels` is stored as oc.
// Throws nn::Error naming `op` for a non-4-D input, a non-positive kernel or stride, or a valid window larger than
// the input.
kernels::Window2D plan_window(const char* op, const Shape& input, const WindowSpec& spec, int64_t out_channels);

}  // namespace nn
