// Pooling kernels over NHWC windows, y (N,OH,OW,C). Padding never takes part: a max-pool window ignores the
// padded positions (padding never wins) and an average divides by the number of real pixels in the window, as
// TensorFlow does. Their frozen naive twins are in nn/backends/ref/loops.h.
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// The forward keeps no arg-max: the backward finds, for every output, the first element of its window (in scan
// order) that equals the output, and adds the output's gradient there.
void max_pool_forward(const Window2D& g, const float* x, float* y);
// Output rows that share no input row run in parallel (in ⌈KH/SH⌉ phases).
void max_pool_backward(const Window2D& g, const float* x, const float* y, const float* dy, float* dx);

void avg_pool_forward(const Window2D& g, const float* x, float* y);
void avg_pool_backward(const Window2D& g, const float* dy, float* dx);

// One instruction-set level of each fast kernel (isa.h); the plain names above run the active one.
template <Isa>
void max_pool_forward(const Window2D& g, const float* x, float* y);
template <Isa>
void max_pool_backward(const Window2D& g, const float* x, const float* y, const float* dy, float* dx);
template <Isa>
void avg_pool_forward(const Window2D& g, const float* x, float* y);
template <Isa>
void avg_pool_backward(const Window2D& g, const float* dy, float* dx);

}  // namespace nn::kernels
