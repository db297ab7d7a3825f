// Conv2D kernels, NHWC input x (N,H,W,C), HWIO weight w (KH,KW,C,OC), output y (N,OH,OW,OC).
// The frozen naive loops the fast ones are tested and benchmarked against are in nn/backends/ref/loops.h.
// Fast versions: a pointwise (1×1, unpadded) convolution is one sgemm on [N·H·W, C] × [C, OC] (strided ones
// gather the sampled pixels first); any other is im2col on chunks of output pixels followed by sgemm.
// They need `workspace` of conv2d_workspace_floats(g) floats; nothing here allocates or throws.
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// Rows of the im2col matrix handled per GEMM by the fast convolutions (f32 and bf16): whole output rows (so that
// col2im can run rows in parallel), enough for the GEMM to run at full speed, few enough that a chunk
// (rows × KH·KW·C elements) stays around 4 M elements. Compiled once, at baseline (conv2d.cpp).
int64_t im2col_chunk_rows(const Window2D& g);

// The fast kernels: the plain names run the active instruction-set level (isa.h); <Isa> names one level.
int64_t conv2d_workspace_floats(const Window2D& g);
void conv2d_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y, float* workspace);
void conv2d_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace);
void conv2d_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace);
template <Isa>
int64_t conv2d_workspace_floats(const Window2D& g);
template <Isa>
void conv2d_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y, float* workspace);
template <Isa>
void conv2d_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace);
template <Isa>
void conv2d_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace);

// db (OC) = Σ over N·OH·OW of dy, overwritten.
void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db);
template <Isa>
void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db);

}  // namespace nn::kernels
