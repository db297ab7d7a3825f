// matmul: a (M,K) × b (K,N) → (M,N), with either operand optionally stored transposed.
#include "nn/autograd.h"
#include "nn/error.h"
#include "nn/kernels/gemm.h"
#include "nn/ops.h"

namespace nn {

namespace {

// c = op(a) · op(b) with op chosen by the flags; shapes already checked.
Tensor gemm_into_new(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  int m = static_cast<int>(ta ? a.dim(1) : a.dim(0));
  int k = static_cast<int>(ta ? a.dim(0) : a.dim(1));
  int n = static_cast<int>(tb ? b.dim(0) : b.dim(1));
  Tensor c = Tensor::empty({m, n});
  if (k == 0) {
    c.fill(0.0f);
    return c;
  }
  kernels::gemm({.m = m, .n = n, .k = k, .transpose_a = ta, .transpose_b = tb}, 1.0f, a.data(), b.data(), 0.0f,
                c.data());
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  if (a.rank() != 2 || b.rank() != 2) {
    fail_expected("matmul", "two matrices", "a " + to_string(a.shape()) + " and b " + to_string(b.shape()));
  }
  int64_t ka = transpose_a ? a.dim(0) : a.dim(1);
  int64_t kb = transpose_b ? b.dim(1) : b.dim(0);
  if (ka != kb) {
    fail_expected("matmul", "inner dimensions to agree",
                  std::to_string(ka) + " (a " + to_string(a.shape()) + (transpose_a ? "ᵀ" : "") + ") vs " +
                      std::to_string(kb) + " (b " + to_string(b.shape()) + (transpose_b ? "ᵀ" : "") + ")");
  }
  Tensor c = gemm_into_new(a, b, transpose_a, transpose_b);
  record("matmul", {a, b}, c, [a, b, transpose_a, transpose_b](const Tensor& gc) {
    // C = op(A)·op(B): dop(A) = gC·op(B)ᵀ, dop(B) = op(A)ᵀ·gC, then undo the op on each side.
    Tensor ga, gb;
    if (a.requires_grad()) {
      ga = transpose_a ? gemm_into_new(b, gc, transpose_b, true) : gemm_into_new(gc, b, false, !transpose_b);
    }
    if (b.requires_grad()) {
      gb = transpose_b ? gemm_into_new(gc, a, true, transpose_a) : gemm_into_new(a, gc, !transpose_a, false);
    }
    return std::vector<Tensor>{ga, gb};
  });
  return c;
}

}  // namespace nn
