#include "nn/backends/cpu/pointwise.h"

namespace nn::kernels {

// ---- dispatch to the active instruction-set level (pointwise_fast.cpp) ----

void relu_forward(int64_t n, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { relu_forward<isa>(n, x, y); });
}

void relu_backward(int64_t n, const float* y, const float* g, float* gx) {
  with_active_isa([&]<Isa isa> { relu_backward<isa>(n, y, g, gx); });
}

void add_forward(int64_t n, const float* a, const float* b, float* y) {
  with_active_isa([&]<Isa isa> { add_forward<isa>(n, a, b, y); });
}

void channel_affine(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { channel_affine<isa>(rows, c, p, x, y); });
}

}  // namespace nn::kernels
