#include "nn/backends/cpu/conv2d.h"

#include <algorithm>
#include <cstring>

namespace nn::kernels {

int64_t im2col_chunk_rows(const Window2D& g) {
  int64_t width = g.kh * g.kw * g.c;
  int64_t rows = g.n * g.oh * g.ow;
  int64_t wanted =
      std::clamp<int64_t>((int64_t{4} << 20) / std::max<int64_t>(width, 1), std::min<int64_t>(rows, 256), rows);
  return std::max<int64_t>(1, wanted / std::max<int64_t>(g.ow, 1)) * g.ow;
}

// ---- dispatch to the active instruction-set level (conv2d_fast.cpp) ----

int64_t conv2d_workspace_floats(const Window2D& g) {
  return with_active_isa([&]<Isa isa> { return conv2d_workspace_floats<isa>(g); });
}

void conv2d_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_forward<isa>(g, x, w, bias, y, workspace); });
}

void conv2d_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_backward_input<isa>(g, dy, w, dx, workspace); });
}

void conv2d_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_backward_weight<isa>(g, x, dy, dw, workspace); });
}

void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db) {
  with_active_isa([&]<Isa isa> { bias_backward<isa>(rows, channels, dy, db); });
}

}  // namespace nn::kernels
