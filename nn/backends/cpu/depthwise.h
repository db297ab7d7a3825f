// Depthwise convolution kernels (depth multiplier 1): x (N,H,W,C), w (KH,KW,C) — Keras's (KH,KW,C,1) —,
// y (N,OH,OW,C): each channel convolved with its own KH×KW filter. Bound by memory, not arithmetic, so the fast
// versions run along the contiguous channel axis (vectorised) and split work so that no two threads write the
// same output. Their frozen naive twins are in nn/backends/ref/loops.h.
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// Tiles of 8 output pixels × 16 channels accumulated in registers; threads over output rows and channel blocks.
void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
// The backward kernels need `workspace` of depthwise_workspace_floats(g) floats (it depends on the thread count).
int64_t depthwise_workspace_floats(const Window2D& g);
// Stride 1: the forward kernel with the flipped filter; other strides gather, for every input pixel, the outputs
// whose windows cover it.
void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace);
// Threads over output rows, each summing into its own partial dw (in the workspace), added up at the end.
void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace);

// One instruction-set level of each fast kernel (isa.h); the plain names above run the active one.
template <Isa>
void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
template <Isa>
void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace);
template <Isa>
void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace);

}  // namespace nn::kernels
