// The row kernels whose work is transcendental or memory-bound — the fused softmax cross-entropy over a vocabulary
// (an e^x per logit, twice) and Adam's update (a square root and a division per parameter) — compiled once per
// instruction-set level (isa.h), so that they run 16 lanes wide where the processor has AVX-512. The contracts are
// backend.h's; nn/backends/cpu/rows.cpp dispatches to the active level. rows_fast.cpp defines them, Adam's update
// adam_fast.cpp (compiled without FMA contraction). Their naive twins are in nn/backends/ref/rows.cpp (std::exp, one
// element at a time).
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// lse (R) = each row's logsumexp (float e^(x − max), summed in double); sums = {Σ wᵢ·(lseᵢ − x[i, tᵢ]), Σ wᵢ}.
template <Isa>
void cross_entropy_rows(const TargetRows& r, const float* x, float* lse, double* sums);
// gx (R, C) = scale·wᵢ·(e^(x − lseᵢ) − [j = tᵢ]).
template <Isa>
void cross_entropy_rows_backward(const TargetRows& r, float scale, const float* x, const float* lse, float* gx);
// y = softmax, log-softmax (R, C) or logsumexp (R) of each row of x (R, C), C ≥ 1: float e^(x − max) summed in double.
template <Isa>
void softmax_rows(RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y);
// Σ e^(x − shift) over x (n), float e^x summed in double as softmax_rows sums a block of a row: for a caller that sums
// a row in pieces of its own with a shift it knows (captioning's output screen, in its pass over the vocabulary).
template <Isa>
double exp_sum(int64_t n, const float* x, float shift);
// θ, m, v (n) updated in place from g (n), denormals flushed in every thread that runs it.
template <Isa>
void adam_update(const AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g);

}  // namespace nn::kernels
