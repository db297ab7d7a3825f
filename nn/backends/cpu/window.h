// The geometry of a sliding 2-D window over an NHWC image: convolution, depthwise convolution and pooling all
// take one of these. It is computed in exactly one place, nn::plan_window (nn/ops/window.h).
#pragma once

#include <cstdint>

namespace nn::kernels {

struct Window2D {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input (N, H, W, C)
  int64_t kh = 1, kw = 1;              // window extent
  int64_t sh = 1, sw = 1;              // strides
  int64_t oh = 0, ow = 0;              // output extent
  int64_t pad_top = 0, pad_left = 0;   // padding before; the rest (bottom/right) is implied by oh, ow
  int64_t oc = 0;                      // output channels (conv2d); c for depthwise and pooling

  int64_t input_size() const { return n * h * w * c; }
  int64_t output_size() const { return n * oh * ow * oc; }
  bool is_pointwise() const { return kh == 1 && kw == 1 && pad_top == 0 && pad_left == 0; }
};

}  // namespace nn::kernels
