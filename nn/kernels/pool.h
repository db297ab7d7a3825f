// Pooling kernels over NHWC windows, y (N,OH,OW,C). Padding never takes part: a max-pool window ignores the
// padded positions (padding never wins) and an average divides by the number of real pixels in the window, as
// TensorFlow does. *_ref are the frozen naive loops.
#pragma once

#include <cstdint>

#include "nn/kernels/window.h"

namespace nn::kernels {

// argmax (N,OH,OW,C): flat index into x of the winning element, for the backward.
void max_pool_forward_ref(const Window2D& g, const float* x, float* y, int64_t* argmax);
void max_pool_forward(const Window2D& g, const float* x, float* y, int64_t* argmax);
// dx = 0, then dx[argmax[i]] += dy[i].
void max_pool_backward(const Window2D& g, const float* dy, const int64_t* argmax, float* dx);

void avg_pool_forward_ref(const Window2D& g, const float* x, float* y);
void avg_pool_forward(const Window2D& g, const float* x, float* y);
void avg_pool_backward(const Window2D& g, const float* dy, float* dx);

}  // namespace nn::kernels
