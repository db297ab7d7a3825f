// Batch norm's backward (backend.h, batch_norm_backward): one pass of per-channel sums in double, then dx; both in
// parallel over rows.
#include <vector>

#include "nn/backends/cpu/channel_sums.h"
#include "nn/backends/cpu/cpu.h"

namespace nn::cpu {

void batch_norm_backward(const kernels::BatchNormBackward& p, const float* x, const float* dy, float* dx, float* dgamma,
                         float* dbeta) {
  const int64_t rows = p.rows, c = p.channels;
  const float *m = p.mean, *r = p.inv_std, *pg = p.gamma;
  // Σ dy and Σ dy·x̂ per channel (channel_sums.h: chunks of rows in parallel, the same bits on any thread count).
  const std::vector<double> sums = channel_sums(rows, c, 2, [&](int64_t i0, int64_t i1, double* s) {
    double* q = s + c;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < c; ++j) {
        double g = dy[i * c + j];
        s[j] += g;
        q[j] += g * (x[i * c + j] - m[j]) * r[j];
      }
  });
  const double *sum_dy = sums.data(), *sum_dy_xhat = sums.data() + c;
  for (int64_t j = 0; j < c; ++j) {
    dgamma[j] = static_cast<float>(sum_dy_xhat[j]);
    dbeta[j] = static_cast<float>(sum_dy[j]);
  }
  if (dx == nullptr) return;
  const float inv_rows = 1.0f / static_cast<float>(rows);
  const bool training = p.training;
#pragma omp parallel for if (rows * c > (1 << 16))
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < c; ++j) {
      float g = dy[i * c + j];
      if (training) {
        float xhat = (x[i * c + j] - m[j]) * r[j];
        g -= (dbeta[j] + xhat * dgamma[j]) * inv_rows;
      }
      dx[i * c + j] = pg[j] * r[j] * g;
    }
}

}  // namespace nn::cpu
