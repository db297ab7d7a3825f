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

void channel_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const double* mean, double* out) {
  with_active_isa([&]<Isa isa> { channel_sums_rows<isa>(r0, r1, c, x, mean, out); });
}

void batch_norm_grad_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const float* dy, const float* mean,
                               const float* inv_std, double* out) {
  with_active_isa([&]<Isa isa> { batch_norm_grad_sums_rows<isa>(r0, r1, c, x, dy, mean, inv_std, out); });
}

void batch_norm_input_grad(const BatchNormBackward& p, const float* x, const float* dy, const float* dgamma,
                           const float* dbeta, float* dx) {
  with_active_isa([&]<Isa isa> { batch_norm_input_grad<isa>(p, x, dy, dgamma, dbeta, dx); });
}

}  // namespace nn::kernels
