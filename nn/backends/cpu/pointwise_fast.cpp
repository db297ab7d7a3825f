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

template <>
void channel_sums_rows<kCompiledIsa>(int64_t r0, int64_t r1, int64_t c, const float* x, const double* mean,
                                     double* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * c;
    if (mean == nullptr) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) out[j] += row[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const double d = row[j] - mean[j];
        out[j] += d * d;
      }
    }
  }
}

template <>
void batch_norm_grad_sums_rows<kCompiledIsa>(int64_t r0, int64_t r1, int64_t c, const float* x, const float* dy,
                                             const float* mean, const float* inv_std, double* out) {
  double* const sum_dy = out;
  double* const sum_dy_xhat = out + c;
  for (int64_t r = r0; r < r1; ++r) {
    const float *xr = x + r * c, *g = dy + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      const double gj = g[j];
      sum_dy[j] += gj;
      sum_dy_xhat[j] += gj * (xr[j] - mean[j]) * inv_std[j];
    }
  }
}

template <>
void batch_norm_input_grad<kCompiledIsa>(const BatchNormBackward& p, const float* x, const float* dy,
                                         const float* dgamma, const float* dbeta, float* dx) {
  const int64_t rows = p.rows, c = p.channels;
  const float *mean = p.mean, *inv_std = p.inv_std, *gamma = p.gamma;
  const float inv_rows = 1.0f / static_cast<float>(rows);
#pragma omp parallel for if (rows * c > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const float *xr = x + i * c, *g = dy + i * c;
    float* out = dx + i * c;
    if (p.training) {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const float xhat = (xr[j] - mean[j]) * inv_std[j];
        out[j] = gamma[j] * inv_std[j] * (g[j] - (dbeta[j] + xhat * dgamma[j]) * inv_rows);
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) out[j] = gamma[j] * inv_std[j] * g[j];
    }
  }
}

}  // namespace nn::kernels
