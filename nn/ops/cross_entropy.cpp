// Softmax cross-entropy fused with integer targets and a per-position mask.
//   rows r of logits (R, V); loss_r = logsumexp(x_r) − x_r[t_r]; L = Σ w_r·loss_r / Σ w_r
//   gx_r = g · w_r / Σ w · (softmax(x_r) − onehot(t_r))
// Fusing avoids materialising the (R, V) softmax in the forward: only each row's logsumexp is kept.
#include <cmath>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/logsumexp.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

void check_inputs(const Tensor& logits, const Indices& targets, const Tensor& mask) {
  if (logits.rank() < 1) fail_expected("softmax_cross_entropy", "logits of rank ≥ 1", "a scalar");
  Shape positions(logits.shape().begin(), logits.shape().end() - 1);
  if (targets.shape != positions) {
    fail_expected("softmax_cross_entropy",
                  "targets of shape " + to_string(positions) + " (logits " + to_string(logits.shape()) + ")",
                  to_string(targets.shape));
  }
  if (mask.defined() && mask.shape() != positions) {
    fail_expected("softmax_cross_entropy", "a mask of shape " + to_string(positions), to_string(mask.shape()));
  }
  if (mask.defined() && mask.requires_grad()) {
    throw Error("softmax_cross_entropy: the mask must not require grad");
  }
  int64_t vocab = logits.dim(-1);
  for (size_t r = 0; r < targets.values.size(); ++r) {
    if (targets.values[r] < 0 || targets.values[r] >= vocab) {
      fail_expected("softmax_cross_entropy", "targets in [0," + std::to_string(vocab) + ")",
                    std::to_string(targets.values[r]) + " at flat position " + std::to_string(r));
    }
  }
}

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Indices& targets, const Tensor& mask) {
  check_inputs(logits, targets, mask);
  int64_t vocab = logits.dim(-1);
  int64_t rows = static_cast<int64_t>(targets.values.size());
  const float* x = logits.data();
  const float* w = mask.defined() ? mask.data() : nullptr;

  Tensor lse = Tensor::empty({rows});  // logsumexp of each row, kept for the backward
  float* plse = lse.data();
  double weighted = 0, weight_total = 0;
#pragma omp parallel for reduction(+ : weighted, weight_total) if (rows * vocab > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * vocab;
    plse[r] = detail::row_logsumexp(xr, vocab);
    double wr = w ? w[r] : 1.0;
    weighted += wr * (plse[r] - xr[targets.values[r]]);
    weight_total += wr;
  }
  float normaliser = weight_total > 0 ? static_cast<float>(1.0 / weight_total) : 0.0f;
  Tensor loss = Tensor::scalar(static_cast<float>(weighted) * normaliser);

  record("softmax_cross_entropy", {logits}, loss, [logits, targets, mask, lse, normaliser](const Tensor& g) {
    int64_t v = logits.dim(-1);
    int64_t n = static_cast<int64_t>(targets.values.size());
    Tensor gx = Tensor::empty(logits.shape());
    const float* px = logits.data();
    const float* pw = mask.defined() ? mask.data() : nullptr;
    const float* pl = lse.data();
    float* pg = gx.data();
    float scale = g.item() * normaliser;
#pragma omp parallel for if (n * v > (1 << 15))
    for (int64_t r = 0; r < n; ++r) {
      float s = scale * (pw ? pw[r] : 1.0f);
      for (int64_t j = 0; j < v; ++j) pg[r * v + j] = s * std::exp(px[r * v + j] - pl[r]);
      pg[r * v + targets.values[r]] -= s;
    }
    return std::vector<Tensor>{gx};
  });
  return loss;
}

}  // namespace nn
