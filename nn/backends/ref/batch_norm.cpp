// Batch norm's backward (backend.h, batch_norm_backward), naively: one channel at a time, sums in double.
#include "nn/backends/ref/ref.h"

namespace nn::ref {

void batch_norm_backward(const kernels::BatchNormBackward& p, const float* x, const float* dy, float* dx, float* dgamma,
                         float* dbeta) {
  const int64_t rows = p.rows, c = p.channels;
  for (int64_t j = 0; j < c; ++j) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double g = dy[i * c + j];
      sum_dy += g;
      sum_dy_xhat += g * (x[i * c + j] - p.mean[j]) * p.inv_std[j];
    }
    dgamma[j] = static_cast<float>(sum_dy_xhat);
    dbeta[j] = static_cast<float>(sum_dy);
    if (dx == nullptr) continue;
    for (int64_t i = 0; i < rows; ++i) {
      double g = dy[i * c + j];
      if (p.training) {
        const double xhat = (x[i * c + j] - p.mean[j]) * static_cast<double>(p.inv_std[j]);
        g -= (sum_dy + xhat * sum_dy_xhat) / static_cast<double>(rows);
      }
      dx[i * c + j] = static_cast<float>(p.gamma[j] * static_cast<double>(p.inv_std[j]) * g);
    }
  }
}

}  // namespace nn::ref
