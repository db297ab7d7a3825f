// The pointwise part of one LSTM step for a batch of rows, Keras gate order i, f, c, o (each U wide).
// The matrix products (x·W + h·R + b) happen outside, in sgemm; these loops do what follows them.
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// gates: in, pre-activations z; out, activations (i, f, g=tanh(z_c), o).
// mask (N) or null; c_prev, h_prev (N,U) with row stride s.prev_stride; c, h out (N,U) with s.state_stride.
// Masked rows copy (h_prev, c_prev) and set their gates to 0.
void lstm_step_forward(const LstmStep& s, const float* mask, float* gates, const float* c_prev, const float* h_prev,
                       float* c, float* h);

// Given the step's saved activations `gates`, its cell state c and the previous cell state c_prev, and the
// incoming dh, dc (N,U, packed): writes d_gates (pre-activation gradients, zero for masked rows), replaces dc with
// the gradient for c_prev, and sets dh to 0 on unmasked rows (the caller then adds d_gates·Rᵀ); masked rows keep
// dh and dc, which pass through unchanged.
void lstm_step_backward(const LstmStep& s, const float* mask, const float* gates, const float* c, const float* c_prev,
                        float* dh, float* dc, float* d_gates);

// One instruction-set level of each (isa.h); the plain names above run the active one.
template <Isa>
void lstm_step_forward(const LstmStep& s, const float* mask, float* gates, const float* c_prev, const float* h_prev,
                       float* c, float* h);
template <Isa>
void lstm_step_backward(const LstmStep& s, const float* mask, const float* gates, const float* c, const float* c_prev,
                        float* dh, float* dc, float* d_gates);

}  // namespace nn::kernels
