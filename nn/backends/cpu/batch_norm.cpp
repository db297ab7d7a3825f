// Batch norm's backward (backend.h, batch_norm_backward): one pass of per-channel sums in double, then dx; both in
// parallel over rows, each pass the active instruction-set level's loop (pointwise_fast.cpp).
#include <vector>

#include "nn/backends/cpu/channel_sums.h"
#include "nn/backends/cpu/cpu.h"
#include "nn/backends/cpu/pointwise.h"

namespace nn::cpu {

void batch_norm_backward(const kernels::BatchNormBackward& p, const float* x, const float* dy, float* dx, float* dgamma,
                         float* dbeta) {
  const int64_t rows = p.rows, c = p.channels;
  // Σ dy and Σ dy·x̂ per channel (channel_sums.h: chunks of rows in parallel, the same bits on any thread count).
  const std::vector<double> sums = channel_sums(rows, c, 2, [&](int64_t i0, int64_t i1, double* s) {
    kernels::batch_norm_grad_sums_rows(i0, i1, c, x, dy, p.mean, p.inv_std, s);
  });
  const double *sum_dy = sums.data(), *sum_dy_xhat = sums.data() + c;
  for (int64_t j = 0; j < c; ++j) {
    dgamma[j] = static_cast<float>(sum_dy_xhat[j]);
    dbeta[j] = static_cast<float>(sum_dy[j]);
  }
  if (dx != nullptr) kernels::batch_norm_input_grad(p, x, dy, dgamma, dbeta, dx);
}

}  // namespace nn::cpu
