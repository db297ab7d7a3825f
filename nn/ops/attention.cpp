// Scaled dot-product attention over heads, composed of differentiable ops (batched matmul with broadcasting,
// where, softmax, mul), so its gradient is theirs:
//   scores  = q·kᵀ / √D                                  (N,H,Tq,Tk)
//   weights = softmax(where(keep, scores, −1e30)) ⊙ keep  (a row with no kept key: uniform × 0 = zeros, no NaN)
//   output  = dropout(weights)·v                          (N,H,Tq,Dv)
#include <cmath>

#include <algorithm>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct AttentionDims {
  int64_t n, h, tq, tk, d, dv;
};

AttentionDims check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m) {
  const char* where = "scaled_dot_product_attention";
  if (!q.defined() || q.rank() != 4) fail_expected(where, "a query of shape (N,H,Tq,D)", shape_text(q));
  AttentionDims d{q.dim(0), q.dim(1), q.dim(2), 0, q.dim(3), 0};
  if (!k.defined() || k.rank() != 4 || k.dim(0) != d.n || k.dim(1) != d.h || k.dim(3) != d.d) {
    fail_expected(where,
                  "a key of shape (N,H,Tk,D) = (" + std::to_string(d.n) + "," + std::to_string(d.h) + ",Tk," +
                      std::to_string(d.d) + ") (query " + to_string(q.shape()) + ")",
                  shape_text(k));
  }
  d.tk = k.dim(2);
  if (!v.defined() || v.rank() != 4 || v.dim(0) != d.n || v.dim(1) != d.h || v.dim(2) != d.tk) {
    fail_expected(where,
                  "a value of shape (N,H,Tk,Dv) = (" + std::to_string(d.n) + "," + std::to_string(d.h) + "," +
                      std::to_string(d.tk) + ",Dv) (key " + to_string(k.shape()) + ")",
                  shape_text(v));
  }
  d.dv = v.dim(3);
  if (m.mask.defined()) {
    Shape one{d.tq, d.tk}, per_batch{d.n, d.tq, d.tk};
    if (m.mask.shape() != one && m.mask.shape() != per_batch) {
      fail_expected(where, "an attention mask of shape " + to_string(one) + " or " + to_string(per_batch),
                    to_string(m.mask.shape()));
    }
  }
  if (m.key_padding.defined() && m.key_padding.shape() != Shape{d.n, d.tk}) {
    fail_expected(where, "a key padding mask of shape " + to_string(Shape{d.n, d.tk}),
                  to_string(m.key_padding.shape()));
  }
  return d;
}

// The product of every given mask as one 0/1 tensor broadcastable to (N,H,Tq,Tk), or undefined when none is given.
Tensor keep_mask(const AttentionMask& m, const AttentionDims& d) {
  Tensor keep;
  auto combine = [&keep](const Tensor& part) { keep = keep.defined() ? mul(keep, part) : part; };
  if (m.mask.defined()) {
    combine(m.mask.rank() == 2 ? m.mask.detach().reshape({1, 1, d.tq, d.tk})
                               : m.mask.detach().reshape({d.n, 1, d.tq, d.tk}));
  }
  if (m.key_padding.defined()) combine(m.key_padding.detach().reshape({d.n, 1, 1, d.tk}));
  if (m.causal) {
    Tensor causal = Tensor::zeros({1, 1, d.tq, d.tk});
    const Backend& be = backend_for(causal);
    for (int64_t i = 0; i < d.tq; ++i) be.fill(DType::f32, std::min(i + 1, d.tk), 1.0f, causal.data() + i * d.tk);
    combine(causal);
  }
  if (keep.defined()) keep = ne(keep, 0.0f);  // any nonzero value keeps, as in where()
  return keep;
}

}  // namespace

AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionMask& mask, float dropout_rate, Generator& gen) {
  if (detail::any_low_precision({q, k, v, mask.mask, mask.key_padding})) {
    using detail::to_f32;
    AttentionResult r = scaled_dot_product_attention(
        to_f32(q), to_f32(k), to_f32(v), {to_f32(mask.mask), to_f32(mask.key_padding), mask.causal}, dropout_rate, gen);
    const DType dtype = detail::result_dtype({q, k, v});
    return {r.output.to(dtype), r.weights.to(dtype)};
  }
  const AttentionDims d = check_attention(q, k, v, mask);
  Tensor scores = mul(matmul(q, k, false, true), 1.0f / std::sqrt(static_cast<float>(d.d)));  // (N,H,Tq,Tk)
  Tensor keep = keep_mask(mask, d);
  Tensor weights;
  if (keep.defined()) {
    // −1e30 rather than −inf: a row with every key dropped stays finite in the softmax, then × 0.
    weights = mul(softmax(where(keep, scores, Tensor::scalar(-1e30f)), -1), keep);
  } else {
    weights = softmax(scores, -1);
  }
  Tensor used = dropout_rate > 0.0f ? dropout(weights, dropout_rate, true, gen) : weights;
  return {matmul(used, v), weights};
}

}  // namespace nn
