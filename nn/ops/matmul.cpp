// matmul: a (...,M,K) × b (...,K,N) → (...,M,N), with either operand's last two axes optionally stored transposed.
// The leading (batch) axes broadcast; each batch index is one sgemm on the matrices it reads from a and b. The
// backward runs the same batched products and sums a broadcast operand's gradient back to its shape. Two bf16
// operands multiply natively (products accumulated in f32, the bf16 result rounded once); other mixes, and bf16
// operands that need a gradient, take the conversion path (nn/ops/convert.h): the backward is f32 only.
#include <algorithm>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

Shape batch_of(const Tensor& t) {
  return Shape(t.shape().begin(), t.shape().end() - 2);
}

// c = op(a) · op(b) per broadcast batch index, with op chosen by the flags; shapes already checked; a and b of one
// dtype, which c gets.
Tensor batched_gemm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  int m = static_cast<int>(ta ? a.dim(-1) : a.dim(-2));
  int k = static_cast<int>(ta ? a.dim(-2) : a.dim(-1));
  int n = static_cast<int>(tb ? b.dim(-2) : b.dim(-1));
  Shape batch = broadcast_shapes(batch_of(a), batch_of(b), "matmul");
  Shape shape = batch;
  shape.push_back(m);
  shape.push_back(n);
  const DType dtype = a.dtype();
  Tensor c = Tensor::empty(shape, dtype);
  if (k == 0) {
    c.fill(0.0f);
    return c;
  }
  const int64_t size_a = int64_t{m} * k, size_b = int64_t{k} * n, size_c = int64_t{m} * n;
  if (size_c == 0) return c;
  const Backend& be = backend_for(a);
  kernels::GemmCall call{.shape = {.m = m, .n = n, .k = k, .transpose_a = ta, .transpose_b = tb},
                         .ab_type = dtype,
                         .c_type = dtype,
                         .a = a.raw_data(),
                         .b = b.raw_data(),
                         .c = c.raw_data()};
  if (b.rank() == 2 && !ta) {  // a (B...,M,K) × b (K,N): the batch's rows stacked, one (B·M,K) × (K,N) product
    call.shape.m = static_cast<int>(c.numel() / n);
    be.gemm(call);
    return c;
  }
  const size_t bytes = dtype_size(dtype);
  const auto* pa = static_cast<const char*>(call.a);
  const auto* pb = static_cast<const char*>(call.b);
  auto* pc = static_cast<char*>(call.c);
  detail::for_each_broadcast(batch, broadcast_strides(batch_of(a), batch), broadcast_strides(batch_of(b), batch),
                             [&](int64_t i, int64_t ia, int64_t ib) {
                               call.a = pa + ia * size_a * bytes;
                               call.b = pb + ib * size_b * bytes;
                               call.c = pc + i * size_c * bytes;
                               be.gemm(call);
                             });
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  if (a.rank() < 2 || b.rank() < 2) {
    fail_expected("matmul", "two matrices or batches of matrices (rank ≥ 2)",
                  "a " + to_string(a.shape()) + " and b " + to_string(b.shape()));
  }
  int64_t ka = transpose_a ? a.dim(-2) : a.dim(-1);
  int64_t kb = transpose_b ? b.dim(-1) : b.dim(-2);
  if (ka != kb) {
    fail_expected("matmul", "inner dimensions to agree",
                  std::to_string(ka) + " (a " + to_string(a.shape()) + (transpose_a ? "ᵀ" : "") + ") vs " +
                      std::to_string(kb) + " (b " + to_string(b.shape()) + (transpose_b ? "ᵀ" : "") + ")");
  }
  Shape batch_a = batch_of(a), batch_b = batch_of(b);
  try {
    broadcast_shapes(batch_a, batch_b, "matmul");
  } catch (const Error&) {
    fail_expected("matmul", "batch dimensions that broadcast",
                  to_string(batch_a) + " (a " + to_string(a.shape()) + ") and " + to_string(batch_b) + " (b " +
                      to_string(b.shape()) + ")");
  }
  const DType dtype = detail::result_dtype({a, b});
  if (detail::any_low_precision({a, b}) && (dtype != DType::bf16 || needs_grad({&a, &b}))) {
    return matmul(detail::to_f32(a), detail::to_f32(b), transpose_a, transpose_b).to(dtype);
  }
  Tensor c = batched_gemm(a, b, transpose_a, transpose_b);
  record("matmul", {a, b}, c, [a, b, transpose_a, transpose_b](const Tensor& gc) {
    // C = op(A)·op(B): dop(A) = gC·op(B)ᵀ, dop(B) = op(A)ᵀ·gC, then undo the op on each side; a broadcast batch
    // axis sums its gradient back.
    Tensor ga, gb;
    if (a.requires_grad()) {
      ga = transpose_a ? batched_gemm(b, gc, transpose_b, true) : batched_gemm(gc, b, false, !transpose_b);
      ga = detail::sum_to(ga, a.shape());
    }
    if (b.requires_grad()) {
      gb = transpose_b ? batched_gemm(gc, a, true, transpose_a) : batched_gemm(a, gc, !transpose_a, false);
      gb = detail::sum_to(gb, b.shape());
    }
    return std::vector<Tensor>{ga, gb};
  });
  return c;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  if (!x.defined() || !w.defined() || !bias.defined()) {
    fail_expected("linear", "x, w and bias all defined",
                  std::string(!x.defined()   ? "an undefined x"
                              : !w.defined() ? "an undefined w"
                                             : "an undefined bias"));
  }
  if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(0)) {
    fail_expected("linear", "x (M,K) and w (K,N)", "x " + to_string(x.shape()) + " and w " + to_string(w.shape()));
  }
  if (bias.rank() != 1 || bias.dim(0) != w.dim(1)) {
    fail_expected("linear", "a bias of shape [" + std::to_string(w.dim(1)) + "]", to_string(bias.shape()));
  }
  if (x.dtype() != DType::f32 || w.dtype() != DType::f32 || bias.dtype() != DType::f32) {
    const Tensor product = matmul(x, w);
    return add(product, bias).to(product.dtype());  // the product's dtype, whatever the bias's
  }
  const int m = static_cast<int>(x.dim(0)), k = static_cast<int>(x.dim(1)), n = static_cast<int>(w.dim(1));
  Tensor y = Tensor::empty({m, n});
  if (k == 0) {  // no products: every row is the bias (BLAS is not asked for a product of depth 0)
    for (int i = 0; i < m; ++i) std::copy_n(bias.data(), n, y.data() + int64_t{i} * n);
  } else if (m > 0 && n > 0) {
    backend_for(x).gemm(
        {.shape = {.m = m, .n = n, .k = k}, .a = x.data(), .b = w.data(), .c = y.data(), .bias = bias.data()});
  }
  record("linear", {x, w, bias}, y, [x, w, bias](const Tensor& gy) {
    // y = x·w + b: dx = gy·wᵀ, dw = xᵀ·gy, db = Σ over rows of gy.
    Tensor gx, gw, gb;
    if (x.requires_grad()) gx = batched_gemm(gy, w, false, true);
    if (w.requires_grad()) gw = batched_gemm(x, gy, true, false);
    if (bias.requires_grad()) {
      gb = Tensor::empty(bias.shape());
      backend_for(gy).bias_backward(gy.dim(0), gy.dim(1), gy.data(), gb.data());
    }
    return std::vector<Tensor>{gx, gw, gb};
  });
  return y;
}

}  // namespace nn
