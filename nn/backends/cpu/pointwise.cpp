#include "nn/backends/cpu/pointwise.h"

namespace nn::kernels {

void relu_forward_ref(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void add_forward_ref(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void channel_affine_ref(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < c; ++j) y[i * c + j] = p.gamma[j] * (x[i * c + j] - p.mean[j]) * p.inv_std[j] + p.beta[j];
}

// ---- dispatch to the active instruction-set level (pointwise_fast.cpp) ----

void relu_forward(int64_t n, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { relu_forward<isa>(n, x, y); });
}

void add_forward(int64_t n, const float* a, const float* b, float* y) {
  with_active_isa([&]<Isa isa> { add_forward<isa>(n, a, b, y); });
}

void channel_affine(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { channel_affine<isa>(rows, c, p, x, y); });
}

}  // namespace nn::kernels
