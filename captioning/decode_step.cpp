#include "captioning/decode_step.h"

#include <algorithm>

#include <nn/autograd/autograd.h>
#include <nn/backends/backend.h>
#include <nn/ops/ops.h>

namespace captioning {

namespace {

constexpr int64_t kBlock = 512;  // columns of b per block: a 2 KB run of each of its rows, read in order
constexpr int kRowGroup = 4;     // rows updated together from each value of b read: 4 × 2 KB of c stay in L1

// c (R, width) += a (R, K) · b (K, width) for one column block: b is streamed four rows at a time into the R rows
// of c, which stay in the L1 cache (after the first row of c, the block of b comes from L1/L2 too). Rows of a are lda
// apart, of b and c ldb and ldc apart. c[r][j] gets a[r][0]·b[0][j], then a[r][1]·b[1][j], … in that order, whatever R
// is.
template <int R>
__attribute__((always_inline)) inline void block(int64_t width, int64_t k, const float* a, int64_t lda, const float* b,
                                                 int64_t ldb, float* __restrict c, int64_t ldc) {
  int64_t kk = 0;
  for (; kk + 4 <= k; kk += 4) {  // four rows of b per pass over c: a quarter of the L1 traffic, four read streams
    const float* __restrict b0 = b + kk * ldb;
    const float* __restrict b1 = b0 + ldb;
    const float* __restrict b2 = b1 + ldb;
    const float* __restrict b3 = b2 + ldb;
    for (int r = 0; r < R; ++r) {
      const float s0 = a[r * lda + kk], s1 = a[r * lda + kk + 1], s2 = a[r * lda + kk + 2], s3 = a[r * lda + kk + 3];
      float* __restrict cr = c + r * ldc;
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) cr[j] = (((cr[j] + s0 * b0[j]) + s1 * b1[j]) + s2 * b2[j]) + s3 * b3[j];
    }
  }
  for (; kk < k; ++kk) {
    const float* __restrict row = b + kk * ldb;
    for (int r = 0; r < R; ++r) {
      const float s0 = a[r * lda + kk];
      float* __restrict cr = c + r * ldc;
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) cr[j] += s0 * row[j];
    }
  }
}

// On x86-64, compiled for AVX-512, for AVX2+FMA and for the baseline and run at the best level the processor has
// (the blocks are inlined into each clone); the library itself is built for the baseline.
#if defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void row_group(int rows, int64_t width, int64_t k, const float* a, const float* b, int64_t n, float* c) {
  switch (rows) {
    case 1:
      return block<1>(width, k, a, k, b, n, c, n);
    case 2:
      return block<2>(width, k, a, k, b, n, c, n);
    case 3:
      return block<3>(width, k, a, k, b, n, c, n);
    default:
      return block<4>(width, k, a, k, b, n, c, n);
  }
}

// t's data, or a fresh (rows, width) of zeros when t is undefined (the state before the first step).
nn::Tensor or_zeros(const nn::Tensor& t, int64_t rows, int64_t width) {
  return t.defined() ? t : nn::Tensor::zeros({rows, width});
}

}  // namespace

void rows_gemm_add(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // Only the output projection (256 × V) is split over the threads: the LSTM (1 MB) and merge (0.25 MB) matrices take
  // about as long to read as a parallel region costs to start and join, on a busy machine much longer.
#pragma omp parallel for schedule(static) if (n * k >= (1 << 20))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kBlock, width = std::min(kBlock, n - j0);
    // Every group of rows reads the same block of b; after the first group it comes from the cache.
    for (int64_t r0 = 0; r0 < m; r0 += kRowGroup) {
      const int rows = static_cast<int>(std::min<int64_t>(kRowGroup, m - r0));
      row_group(rows, width, k, a + r0 * k, b + j0, n, c + r0 * n + j0);
    }
  }
}

bool step_rows_apply(int64_t rows, std::initializer_list<nn::Tensor> tensors) {
  if (nn::grad_mode_enabled() || rows < 1 || rows > kMaxStepRows) return false;
  return std::all_of(tensors.begin(), tensors.end(),
                     [](const nn::Tensor& t) { return !t.defined() || t.dtype() == nn::DType::f32; });
}

nn::Tensor dense_rows(const nn::Dense& dense, const nn::Tensor& x) {
  const int64_t rows = x.dim(0), in = dense.options().in, out = dense.options().out;
  nn::Tensor y =
      dense.bias().defined() ? nn::broadcast_to(dense.bias(), {rows, out}).clone() : nn::Tensor::zeros({rows, out});
  rows_gemm_add(rows, out, in, x.data(), dense.kernel().data(), y.data());
  return nn::activate(y, dense.options().activation);
}

void lstm_rows(const nn::LSTM& lstm, const nn::Tensor& x, nn::Tensor& h, nn::Tensor& c) {
  const int64_t rows = x.dim(0), u = lstm.options().units, e = lstm.options().input_size;
  const nn::LstmWeights w = lstm.weights();
  const nn::Tensor h_prev = or_zeros(h, rows, u), c_prev = or_zeros(c, rows, u);
  // Pre-activations z (B, 4U) = b + x·W + h·R, in the order the LSTM op adds them.
  nn::Tensor z = nn::broadcast_to(w.bias, {rows, 4 * u}).clone();
  rows_gemm_add(rows, 4 * u, e, x.data(), w.kernel.data(), z.data());
  rows_gemm_add(rows, 4 * u, u, h_prev.data(), w.recurrent_kernel.data(), z.data());
  h = nn::Tensor::empty({rows, u});
  c = nn::Tensor::empty({rows, u});
  const nn::kernels::LstmStep step{
      .rows = rows,
      .units = u,
      .gate_stride = 4 * u,
      .state_stride = u,
      .prev_stride = u,
      .hard_sigmoid = lstm.options().recurrent_activation == nn::RecurrentActivation::hard_sigmoid};
  nn::backend_for(x).lstm_step_forward(step, nullptr, z.data(), c_prev.data(), h_prev.data(), c.data(), h.data());
}

}  // namespace captioning
