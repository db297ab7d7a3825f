// Memory-bound elementwise kernels that Xception's inference runs between its convolutions (ReLU, the residual
// add, batch norm with fixed statistics). Compiled per instruction-set level (isa.h) like the convolutions: at
// baseline x86-64 they measured 2–3 % of a batch-1 Xception forward slower than at AVX-512. Their frozen naive twins
// are in nn/backends/ref/loops.h.
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

}  // namespace nn::kernels
