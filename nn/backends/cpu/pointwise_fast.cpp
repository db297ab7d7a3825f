// The fast pointwise kernels (pointwise.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this
// copy's. Plain loops the compiler vectorises for the level, except relu_backward (simd.h's mask: GCC 12 kept its
// compare a branch); threads only where the arrays are large.
#include "nn/backends/cpu/pointwise.h"

#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

template <>
void relu_forward<kCompiledIsa>(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// 16 lanes at a time through simd.h (a mask, not a branch), the last n mod 16 through the same code (partial loads
// and stores): the same products, g·1 or g·0 (so a NaN or infinite g still gives NaN where y ≤ 0, as the map's
// derivative did).
template <>
void relu_backward<kCompiledIsa>(int64_t n, const float* y, const float* g, float* gx) {
  const int64_t blocks = (n + 15) / 16;
  const v16 one = splat16(1.0f);
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = b * 16, count = n - i < 16 ? n - i : 16;
    store16_partial(gx + i,
                    load16_partial(g + i, count, 0.0f) * where(load16_partial(y + i, count, 0.0f) > 0.0f, one, v16{}),
                    count);
  }
}

template <>
void add_forward<kCompiledIsa>(int64_t n, const float* a, const float* b, float* y) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <>
void channel_affine<kCompiledIsa>(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y) {
  const float *gamma = p.gamma, *beta = p.beta, *mean = p.mean, *inv_std = p.inv_std;
#pragma omp parallel for if (rows * c > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const float* in = x + i * c;
    float* out = y + i * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) out[j] = gamma[j] * (in[j] - mean[j]) * inv_std[j] + beta[j];
  }
}

}  // namespace nn::kernels
