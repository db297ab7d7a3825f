// Memory-bound elementwise kernels that Xception runs between its convolutions (ReLU, the residual add, batch norm's
// normalisation, and in training its statistics and backward). Compiled per instruction-set level (isa.h) like the
// convolutions: at baseline x86-64 they measured 2–3 % of a batch-1 Xception forward slower than at AVX-512, and the
// batch-norm sums 8.5 % of a training step. Their frozen naive twins are in nn/backends/ref/loops.h (the elementwise
// ones) and the reference backend's channel_moments and batch_norm_backward (nn/backends/ref/).
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// y (N) = max(x, 0). y may be x.
void relu_forward(int64_t n, const float* x, float* y);
template <Isa>
void relu_forward(int64_t n, const float* x, float* y);

// gx (N) = g · (y > 0 ? 1 : 0): relu's gradient from its output. gx may be g. (Written as a plain loop, GCC 12 keeps
// the compare a branch, in a scalar loop at every level: "control flow in loop", 9 % of a train_shapes step.)
void relu_backward(int64_t n, const float* y, const float* g, float* gx);
template <Isa>
void relu_backward(int64_t n, const float* y, const float* g, float* gx);

// y (N) = a + b. y may be a or b.
void add_forward(int64_t n, const float* a, const float* b, float* y);
template <Isa>
void add_forward(int64_t n, const float* a, const float* b, float* y);

// Per channel of x (rows, C): y = gamma·(x − mean)·inv_std + beta, all four (C) — batch norm's normalisation.
void channel_affine(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y);
template <Isa>
void channel_affine(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y);

// Batch norm's per-channel sums over the rows [r0, r1) of x (rows, C), added into out (C) in double, each channel in
// row order: Σ x, or with `mean` (C) Σ (x − mean)². The cpu backend's channel_moments runs them over chunks of rows.
// (At baseline x86-64 these double sums were 3.7 % of a training step of Xception at batch 8, on AVX-512.)
void channel_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const double* mean, double* out);
template <Isa>
void channel_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const double* mean, double* out);

// Batch norm backward's sums over the rows [r0, r1) of x and dy (rows, C), added into out (2C) in double: Σ dy into
// out[0, C), Σ dy·(x − mean)·inv_std into out[C, 2C) — dβ and dγ. (4.9 % of that training step at baseline.)
void batch_norm_grad_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const float* dy, const float* mean,
                               const float* inv_std, double* out);
template <Isa>
void batch_norm_grad_sums_rows(int64_t r0, int64_t r1, int64_t c, const float* x, const float* dy, const float* mean,
                               const float* inv_std, double* out);

// Batch norm backward's dx (rows, C) = gamma·inv_std·(dy − (dbeta + x̂·dgamma) / rows), x̂ = (x − mean)·inv_std, when
// the statistics came from x (p.training); gamma·inv_std·dy with the moving statistics.
void batch_norm_input_grad(const BatchNormBackward& p, const float* x, const float* dy, const float* dgamma,
                           const float* dbeta, float* dx);
template <Isa>
void batch_norm_input_grad(const BatchNormBackward& p, const float* x, const float* dy, const float* dgamma,
                           const float* dbeta, float* dx);

}  // namespace nn::kernels
