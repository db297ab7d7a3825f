// The frozen naive loops of the convolution, GEMM, pooling and Xception's pointwise kernels: one output element at
// a time in the obvious order, sums in double where there is a sum. They are the reference backend's (ref_backend.cpp
// puts them in its table) and the oracle the cpu backend's fast kernels (nn/backends/cpu/) are tested and benchmarked
// against; they do not change when those do. The cpu GEMM also falls back on gemm_ref where it has neither AVX-512
// nor a BLAS that takes the leading dimensions (rows shorter than a row's stride).
#pragma once

#include <cstdint>

#include "nn/backends/primitives.h"

namespace nn::kernels {

// ---- GEMM: C (M,N) = alpha · op(A) · op(B) + beta · C, row-major (GemmShape's transposes and leading dimensions) ----
void gemm_ref(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);

// ---- Conv2D: x (N,H,W,C), w (KH,KW,C,OC), y (N,OH,OW,OC) ----
// y = conv(x, w) + bias (bias (OC) may be null).
void conv2d_forward_ref(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
// dx = conv_transpose(dy, w), overwritten.
void conv2d_backward_input_ref(const Window2D& g, const float* dy, const float* w, float* dx);
// dw = Σ x ⊗ dy, overwritten.
void conv2d_backward_weight_ref(const Window2D& g, const float* x, const float* dy, float* dw);

// ---- depthwise convolution (depth multiplier 1): x (N,H,W,C), w (KH,KW,C), y (N,OH,OW,C) ----
// y = depthwise(x, w) + bias (bias (C) may be null); x read as max(x, 0) with g.relu_input.
void depthwise_forward_ref(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
void depthwise_backward_input_ref(const Window2D& g, const float* dy, const float* w, float* dx);
void depthwise_backward_weight_ref(const Window2D& g, const float* x, const float* dy, float* dw);

// ---- pooling over NHWC windows; padding never takes part (nn/backends/cpu/pool.h) ----
void max_pool_forward_ref(const Window2D& g, const float* x, float* y);
// dx += dy at the first element of each window (in scan order) that equals the window's maximum.
void max_pool_backward_ref(const Window2D& g, const float* x, const float* dy, float* dx);
void avg_pool_forward_ref(const Window2D& g, const float* x, float* y);

// ---- Xception's memory-bound steps ----
// y (N) = max(x, 0).
void relu_forward_ref(int64_t n, const float* x, float* y);
// gx (N) = g · (y > 0 ? 1 : 0).
void relu_backward_ref(int64_t n, const float* y, const float* g, float* gx);
// y (N) = a + b.
void add_forward_ref(int64_t n, const float* a, const float* b, float* y);
// Per channel of x (rows, C): y = gamma·(x − mean)·inv_std + beta.
void channel_affine_ref(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y);

}  // namespace nn::kernels
