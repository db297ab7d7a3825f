// The fast pointwise kernels (pointwise.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this
// copy's. Plain loops the compiler vectorises for the level; threads only where the arrays are large.
#include "nn/backends/cpu/pointwise.h"

namespace nn::kernels {

template <>
void relu_forward<kCompiledIsa>(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
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
