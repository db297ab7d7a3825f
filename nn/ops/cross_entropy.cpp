// Softmax cross-entropy fused with integer targets and a per-position mask.
//   rows r of logits (R, V); loss_r = logsumexp(x_r) − x_r[t_r]; L = Σ w_r·loss_r / Σ w_r
//   gx_r = g · w_r / Σ w · (softmax(x_r) − onehot(t_r))
// Fusing avoids materialising the (R, V) softmax in the forward: only each row's logsumexp is kept.
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
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
  if (detail::any_low_precision({logits, mask})) {
    return softmax_cross_entropy(detail::to_f32(logits), targets, detail::to_f32(mask))
        .to(detail::result_dtype({logits}));
  }
  check_inputs(logits, targets, mask);
  const kernels::TargetRows rows{.rows = static_cast<int64_t>(targets.values.size()),
                                 .classes = logits.dim(-1),
                                 .targets = targets.values.data(),
                                 .weights = mask.defined() ? mask.data() : nullptr};
  Tensor lse = Tensor::empty({rows.rows});  // logsumexp of each row, kept for the backward
  double sums[2];                           // Σ w_r·loss_r, Σ w_r
  backend_for(logits).cross_entropy_rows(rows, logits.data(), lse.data(), sums);
  float normaliser = sums[1] > 0 ? static_cast<float>(1.0 / sums[1]) : 0.0f;
  Tensor loss = Tensor::scalar(static_cast<float>(sums[0]) * normaliser);

  record("softmax_cross_entropy", {logits}, loss, [logits, targets, mask, lse, normaliser](const Tensor& g) {
    const kernels::TargetRows rows{.rows = static_cast<int64_t>(targets.values.size()),
                                   .classes = logits.dim(-1),
                                   .targets = targets.values.data(),
                                   .weights = mask.defined() ? mask.data() : nullptr};
    Tensor gx = Tensor::empty(logits.shape());
    backend_for(logits).cross_entropy_rows_backward(rows, g.item() * normaliser, logits.data(), lse.data(), gx.data());
    return std::vector<Tensor>{gx};
  });
  return loss;
}

}  // namespace nn
