// Depthwise convolution kernels (depth multiplier 1): x (N,H,W,C), w (KH,KW,C) — Keras's (KH,KW,C,1) —,
// y (N,OH,OW,C): each channel convolved with its own KH×KW filter. Bound by memory, not arithmetic, so the fast
// versions run along the contiguous channel axis (vectorised) and split work so that no two threads write the
// same output. *_ref are the frozen naive loops.
#pragma once

#include "nn/kernels/window.h"

namespace nn::kernels {

void depthwise_forward_ref(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
void depthwise_backward_input_ref(const Window2D& g, const float* dy, const float* w, float* dx);
void depthwise_backward_weight_ref(const Window2D& g, const float* x, const float* dy, float* dw);

// Threads over output rows.
void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y);
// Gathers, for every input pixel, the outputs whose windows cover it: threads over input rows.
void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx);
// Threads over channel blocks, so each owns its slice of dw.
void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw);

}  // namespace nn::kernels
