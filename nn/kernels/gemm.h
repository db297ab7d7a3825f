// GEMM: C (M,N) = alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ. The fast one calls OpenBLAS
// sgemm; gemm_ref is the frozen naive version tests and benchmarks compare against.
#pragma once

namespace nn::kernels {

struct GemmShape {
  int m = 0, n = 0, k = 0;
  bool transpose_a = false;  // A stored (K,M) instead of (M,K)
  bool transpose_b = false;  // B stored (N,K) instead of (K,N)
  int lda = 0, ldb = 0, ldc = 0;  // leading dimensions (row strides) as stored; 0 = packed. lda and ldb may be
                                  // shorter than a row (overlapping rows, as implicit GEMMs read an image)
};

void gemm(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);
void gemm_ref(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);

}  // namespace nn::kernels
