// Loss functions with torch.nn.functional's semantics: each returns the per-element (or per-position) losses, their
// sum or their mean, and records its backward. Shapes follow libnn's channels-last layout: the class axis of the
// classification losses is the LAST axis of the input (PyTorch puts it second, (N, C, ...)).
#pragma once

#include <cstdint>

#include "nn/core/tensor.h"

namespace nn {

/// How a loss reduces its per-element values: `none` returns them (the input's shape, or the positions' shape for
/// the classification losses), `sum` their sum and `mean` their mean as a scalar (shape []).
enum class Reduction { none, mean, sum };

/// The name of a reduction, as PyTorch spells it ("none", "mean", "sum").
const char* to_string(Reduction reduction);

/// Mean squared error: l = (input − target)², input and target of one shape (any). Both may require grad.
/// Throws nn::Error naming both shapes when they differ (PyTorch would broadcast with a warning).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

/// Mean absolute error: l = |input − target|; the gradient is sign(input − target), 0 where they are equal.
/// Shapes as mse_loss.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

/// Huber loss with d = input − target: 0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta).
/// Shapes as mse_loss; throws nn::Error for delta ≤ 0 (or not finite).
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, float delta = 1.0f);

/// Smooth L1 loss: huber_loss(delta = beta) / beta, and l1_loss for beta = 0 (PyTorch's definition; at a zero
/// difference its gradient is then 0 as l1_loss's, where PyTorch's smooth_l1 kernel gives −1).
/// Throws nn::Error for beta < 0 (or not finite).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      float beta = 1.0f);

/// Options of binary_cross_entropy_with_logits and binary_cross_entropy.
struct BinaryCrossEntropyOptions {
  Reduction reduction = Reduction::mean;  ///< how the per-element losses are combined
  /// Per-element weights, broadcast to the input's shape; undefined = 1. Must be ≥ 0; takes no gradient. The mean is
  /// the plain mean of the weighted losses (PyTorch's: not divided by Σ weight).
  Tensor weight;
  /// With logits only: the weight of the positive term, broadcast to the input's shape — typically (C), one per
  /// class on the last axis; undefined = 1. Must be ≥ 0.
  Tensor pos_weight;
};

/// Binary cross-entropy on logits x against targets y in [0, 1] (same shape), in the stable form
///   l = w·[(1 − y)·x + (1 + (p − 1)·y)·(log(1 + e^−|x|) + max(−x, 0))],   p = pos_weight,
/// which is −w·[p·y·log σ(x) + (1 − y)·log(1 − σ(x))] without overflow. The logits and the targets may require
/// grad; weight and pos_weight take none (as PyTorch's). Throws nn::Error naming the argument and shapes for a target
/// of another shape, a weight or pos_weight that does not broadcast to the input, or negative weights.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const BinaryCrossEntropyOptions& options = {});

/// Binary cross-entropy on probabilities p in [0, 1] against targets y (same shape):
///   l = −w·[y·log p + (1 − y)·log(1 − p)], each log clamped at −100 as PyTorch's, so p = 0 or 1 gives a finite loss.
/// The gradient in p is w·(p − y) / max(p·(1 − p), 1e-12); in y, the clamped log(1 − p) − log(p) (PyTorch's is
/// ±inf at p = 0 or 1: it differentiates the unclamped logs). options.pos_weight must be undefined (use the logits
/// form); throws nn::Error for a probability outside [0, 1], mismatched shapes or negative weights.
Tensor binary_cross_entropy(const Tensor& probabilities, const Tensor& target,
                            const BinaryCrossEntropyOptions& options = {});

/// Options of nll_loss and cross_entropy.
struct ClassificationLossOptions {
  Reduction reduction = Reduction::mean;  ///< how the per-element losses are combined
  /// Class weights (C), each ≥ 0; undefined = 1. They take no gradient. The mean of a weighted loss is
  /// Σ w[t]·l / Σ w[t] over the positions not ignored, as PyTorch's.
  Tensor weight;
  /// Positions whose target equals this take no part (loss 0, no gradient, not counted in the mean).
  int32_t ignore_index = -100;
  /// cross_entropy only: ε in [0, 1]; the target becomes (1 − ε)·onehot + ε/C (see cross_entropy for the exact
  /// weighted form). nll_loss throws nn::Error when it is not 0.
  float label_smoothing = 0.0f;
};

/// Negative log-likelihood: log_probs (..., C) — the classes on the LAST axis, unlike PyTorch's (N, C, ...) —
/// targets (...) in [0, C) or ignore_index. l = −w[t]·log_probs[..., t]; the mean is Σ l / Σ w[t] over the
/// positions not ignored (NaN when every position is ignored, as PyTorch). Throws nn::Error naming the argument and
/// shapes for targets of the wrong shape, a target out of range, or class weights that are not (C) or negative.
Tensor nll_loss(const Tensor& log_probs, const Indices& targets, const ClassificationLossOptions& options = {});

/// Softmax cross-entropy of logits (..., C) (classes on the last axis) against class indices (...), fused and stable
/// (only each position's log-sum-exp is kept for the backward); the same value and gradient as
/// torch.nn.functional.cross_entropy (PyTorch 1.13), including label smoothing with class weights:
///   nll_i    = −w[t_i]·log p_i[t_i],      smooth_i = −Σ_c w_c·log p_i[c]   (both 0 at ignored positions)
///   none: (1 − ε)·nll_i + ε/C·smooth_i
///   sum:  Σ of the above
///   mean: Σ of the above / Σ w[t_i]  (Σ of ones, the count of positions, without class weights)
/// Sums run over the positions not ignored. Errors as nll_loss, and for ε outside [0, 1].
/// nn::softmax_cross_entropy (nn/ops/ops.h) is the masked mean used by the captioner.
Tensor cross_entropy(const Tensor& logits, const Indices& targets, const ClassificationLossOptions& options = {});

}  // namespace nn
