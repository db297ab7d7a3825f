// Losses (nn/ops/losses.h). The regression losses are composed of ops, so their gradients are those ops'; the binary
// cross-entropies are fused elementwise ops (stable forms, one pass forward and one backward); nll_loss and
// cross_entropy are fused over rows of (R, C), R the positions, C the classes on the last axis.
#include "nn/ops/losses.h"

#include <cmath>
#include <string>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

const char* to_string(Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return "none";
    case Reduction::mean:
      return "mean";
    case Reduction::sum:
      return "sum";
  }
  return "?";
}

namespace {

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return losses;
    case Reduction::sum:
      return sum(losses);
    case Reduction::mean:
      return mean(losses);
  }
  return losses;
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  if (target.shape() != input.shape()) {
    fail_expected(op, "a target of the input's shape " + to_string(input.shape()),
                  "target " + to_string(target.shape()));
  }
}

// `what` (a weight) holds no negative, NaN or infinite value.
void check_weights(const char* op, const char* what, const Tensor& w) {
  const float* p = w.data();
  for (int64_t i = 0; i < w.numel(); ++i) {
    if (!(p[i] >= 0.0f) || std::isinf(p[i])) {
      fail_expected(op, std::string(what) + " ≥ 0 and finite", std::to_string(p[i]) + " at index " + std::to_string(i));
    }
  }
}

// An optional per-element weight that must broadcast to `shape` without growing it.
void check_broadcast_weight(const char* op, const char* what, const Tensor& w, const Shape& shape) {
  if (!w.defined()) return;
  bool fits = w.rank() <= static_cast<int>(shape.size());
  for (int a = 1; fits && a <= w.rank(); ++a) {
    int64_t d = w.shape()[w.rank() - a];
    fits = d == 1 || d == shape[shape.size() - a];
  }
  if (!fits) {
    fail_expected(op, std::string(what) + " that broadcasts to the input " + to_string(shape), to_string(w.shape()));
  }
  if (w.requires_grad()) fail(op, std::string(what) + " takes no gradient (as PyTorch's): pass it detached");
  check_weights(op, what, w);
}

// The unweighted elements l = (1 − y)·x + (1 + (p − 1)·y)·softplus(−x) of x, y, p (one shape; p undefined = 1,
// taking no gradient).
Tensor bce_logits_elements(const Tensor& x, const Tensor& y, const Tensor& p) {
  Tensor out = Tensor::empty(x.shape());
  backend_for(x).binary_cross_entropy(kernels::BinaryLoss::logits, x.numel(), x.data(), y.data(),
                                      p.defined() ? p.data() : nullptr, out.data());
  record("binary_cross_entropy_with_logits", {x, y}, out,
         [x = x.detach(), y = y.detach(), p = p, want_y = y.requires_grad()](const Tensor& g) {
           Tensor gx = Tensor::empty(x.shape());
           Tensor gy = want_y ? Tensor::empty(x.shape()) : Tensor();
           backend_for(x).binary_cross_entropy_backward(kernels::BinaryLoss::logits, x.numel(), g.data(), x.data(),
                                                        y.data(), p.defined() ? p.data() : nullptr, gx.data(),
                                                        want_y ? gy.data() : nullptr);
           return std::vector<Tensor>{gx, gy};
         });
  return out;
}

// The rows of a classification loss: x (R, C) as the input (..., C) flattened, targets (R).
struct ClassRows {
  int64_t rows = 0, classes = 0;
  std::vector<float> target_weight;  // (R): w[t_i], or 0 where the target is ignore_index
  std::vector<uint8_t> ignored;      // (R): 1 where the target is ignore_index
  double total_weight = 0;           // Σ target_weight
  double class_weight_sum = 0;       // Σ_c w_c (C without class weights)
};

ClassRows check_classification(const char* op, const Tensor& x, const Indices& targets,
                               const ClassificationLossOptions& options) {
  if (x.rank() < 1 || x.dim(-1) < 1) {
    fail_expected(op, "an input (..., C) with C ≥ 1 classes on the last axis", "shape " + to_string(x.shape()));
  }
  Shape positions(x.shape().begin(), x.shape().end() - 1);
  if (targets.shape != positions) {
    fail_expected(op, "targets of shape " + to_string(positions) + " (input " + to_string(x.shape()) + ")",
                  to_string(targets.shape));
  }
  ClassRows r;
  r.classes = x.dim(-1);
  r.rows = static_cast<int64_t>(targets.values.size());
  const Tensor& w = options.weight;
  if (w.defined()) {
    if (w.shape() != Shape{r.classes}) {
      fail_expected(op,
                    "class weights of shape [" + std::to_string(r.classes) + "] (input " + to_string(x.shape()) + ")",
                    to_string(w.shape()));
    }
    if (w.requires_grad()) fail(op, "class weights take no gradient (as PyTorch's): pass them detached");
    check_weights(op, "class weights", w);
  }
  if (!(options.label_smoothing >= 0.0f && options.label_smoothing <= 1.0f)) {
    fail_expected(op, "label_smoothing in [0, 1]", std::to_string(options.label_smoothing));
  }
  for (int64_t c = 0; c < r.classes; ++c) r.class_weight_sum += w.defined() ? w.data()[c] : 1.0;
  r.target_weight.resize(r.rows);
  r.ignored.resize(r.rows);
  for (int64_t i = 0; i < r.rows; ++i) {
    int32_t t = targets.values[i];
    r.ignored[i] = t == options.ignore_index;
    if (!r.ignored[i] && (t < 0 || t >= r.classes)) {
      fail_expected(
          op,
          "targets in [0, " + std::to_string(r.classes) + ") or ignore_index " + std::to_string(options.ignore_index),
          std::to_string(t) + " at flat position " + std::to_string(i));
    }
    r.target_weight[i] = r.ignored[i] ? 0.0f : (w.defined() ? w.data()[t] : 1.0f);
    r.total_weight += r.target_weight[i];
  }
  return r;
}

// The loss of reduction `reduction` from per-row values (R), already divided for the mean: (R) reshaped to
// `positions`, or their sum as a scalar — NaN for a mean over no weight (every position ignored), as PyTorch's 0/0.
Tensor rows_to_loss(const std::vector<double>& per_row, Reduction reduction, const Shape& positions,
                    const ClassRows& r) {
  if (reduction == Reduction::none) {
    std::vector<float> values(per_row.begin(), per_row.end());
    return Tensor::from_data(positions, values);
  }
  if (reduction == Reduction::mean && r.total_weight == 0) return Tensor::scalar(std::nanf(""));
  double total = 0;
  for (double v : per_row) total += v;
  return Tensor::scalar(static_cast<float>(total));
}

// The primitives' view of the rows, with the loss's coefficients a and b.
kernels::ClassLoss class_loss(const ClassRows& r, bool logits, const Indices& targets, const Tensor& class_weights,
                              double a, double b) {
  return {.rows = r.rows,
          .classes = r.classes,
          .logits = logits,
          .targets = targets.values.data(),
          .ignored = r.ignored.data(),
          .target_weight = r.target_weight.data(),
          .class_weights = class_weights.defined() ? class_weights.data() : nullptr,
          .class_weight_sum = r.class_weight_sum,
          .a = a,
          .b = b};
}

// The stride of the upstream gradient over rows: g (R) for reduction none, the scalar g for every row otherwise.
int64_t row_grad_stride(Reduction reduction) {
  return reduction == Reduction::none ? 1 : 0;
}

// The options with their weights in f32: the conversion path.
BinaryCrossEntropyOptions in_f32(BinaryCrossEntropyOptions o) {
  o.weight = detail::to_f32(o.weight);
  o.pos_weight = detail::to_f32(o.pos_weight);
  return o;
}
ClassificationLossOptions in_f32(ClassificationLossOptions o) {
  o.weight = detail::to_f32(o.weight);
  return o;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  if (detail::any_low_precision({input, target})) {
    return mse_loss(detail::to_f32(input), detail::to_f32(target), reduction).to(detail::result_dtype({input, target}));
  }
  check_same_shape("mse_loss", input, target);
  Tensor d = sub(input, target);
  return reduce(mul(d, d), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  if (detail::any_low_precision({input, target})) {
    return l1_loss(detail::to_f32(input), detail::to_f32(target), reduction).to(detail::result_dtype({input, target}));
  }
  check_same_shape("l1_loss", input, target);
  return reduce(abs(sub(input, target)), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, float delta) {
  if (detail::any_low_precision({input, target})) {
    return huber_loss(detail::to_f32(input), detail::to_f32(target), reduction, delta)
        .to(detail::result_dtype({input, target}));
  }
  if (!(delta > 0.0f) || std::isinf(delta)) fail_expected("huber_loss", "delta > 0 and finite", std::to_string(delta));
  check_same_shape("huber_loss", input, target);
  Tensor d = sub(input, target);
  Tensor a = abs(d);
  Tensor losses = where(lt(a.detach(), delta), mul(mul(d, d), 0.5f), mul(add(a, -0.5f * delta), delta));
  return reduce(losses, reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, float beta) {
  if (detail::any_low_precision({input, target})) {
    return smooth_l1_loss(detail::to_f32(input), detail::to_f32(target), reduction, beta)
        .to(detail::result_dtype({input, target}));
  }
  if (!(beta >= 0.0f) || std::isinf(beta)) {
    fail_expected("smooth_l1_loss", "beta ≥ 0 and finite", std::to_string(beta));
  }
  if (beta == 0.0f) return l1_loss(input, target, reduction);
  check_same_shape("smooth_l1_loss", input, target);
  return mul(huber_loss(input, target, reduction, beta), 1.0f / beta);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const BinaryCrossEntropyOptions& options) {
  if (detail::any_low_precision({logits, target, options.weight, options.pos_weight})) {
    return binary_cross_entropy_with_logits(detail::to_f32(logits), detail::to_f32(target), in_f32(options))
        .to(detail::result_dtype({logits, target}));
  }
  const char* op = "binary_cross_entropy_with_logits";
  check_same_shape(op, logits, target);
  check_broadcast_weight(op, "weight", options.weight, logits.shape());
  check_broadcast_weight(op, "pos_weight", options.pos_weight, logits.shape());
  Tensor pos_weight;
  if (options.pos_weight.defined()) {
    NoGradGuard no_grad;  // a broadcast copy, read by the backward
    pos_weight = broadcast_to(options.pos_weight, logits.shape());
  }
  Tensor losses = bce_logits_elements(logits, target, pos_weight);
  if (options.weight.defined()) losses = mul(losses, options.weight);
  return reduce(losses, options.reduction);
}

Tensor binary_cross_entropy(const Tensor& probabilities, const Tensor& target,
                            const BinaryCrossEntropyOptions& options) {
  if (detail::any_low_precision({probabilities, target, options.weight, options.pos_weight})) {
    return binary_cross_entropy(detail::to_f32(probabilities), detail::to_f32(target), in_f32(options))
        .to(detail::result_dtype({probabilities, target}));
  }
  const char* op = "binary_cross_entropy";
  check_same_shape(op, probabilities, target);
  if (options.pos_weight.defined()) fail(op, "pos_weight is only taken by binary_cross_entropy_with_logits");
  check_broadcast_weight(op, "weight", options.weight, probabilities.shape());
  const float* pp = probabilities.data();
  for (int64_t i = 0; i < probabilities.numel(); ++i) {
    if (!(pp[i] >= 0.0f && pp[i] <= 1.0f)) {
      fail_expected(op, "probabilities in [0, 1]", std::to_string(pp[i]) + " at index " + std::to_string(i));
    }
  }
  Tensor losses = Tensor::empty(probabilities.shape());
  backend_for(probabilities)
      .binary_cross_entropy(kernels::BinaryLoss::probabilities, probabilities.numel(), pp, target.data(), nullptr,
                            losses.data());
  record(op, {probabilities, target}, losses,
         [p = probabilities.detach(), y = target.detach(), want_y = target.requires_grad()](const Tensor& g) {
           Tensor gp = Tensor::empty(p.shape());
           Tensor gy = want_y ? Tensor::empty(p.shape()) : Tensor();
           backend_for(p).binary_cross_entropy_backward(kernels::BinaryLoss::probabilities, p.numel(), g.data(),
                                                        p.data(), y.data(), nullptr, gp.data(),
                                                        want_y ? gy.data() : nullptr);
           return std::vector<Tensor>{gp, gy};
         });
  if (options.weight.defined()) losses = mul(losses, options.weight);
  return reduce(losses, options.reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Indices& targets, const ClassificationLossOptions& options) {
  if (detail::any_low_precision({log_probs, options.weight})) {
    return nll_loss(detail::to_f32(log_probs), targets, in_f32(options)).to(detail::result_dtype({log_probs}));
  }
  const char* op = "nll_loss";
  if (options.label_smoothing != 0.0f) fail(op, "label_smoothing is only taken by cross_entropy");
  ClassRows r = check_classification(op, log_probs, targets, options);
  // l_i = −w[t_i]·x_i[t_i], scaled by 1 / Σ w[t_i] for the mean (0/0 = NaN when every position is ignored).
  double scale = options.reduction == Reduction::mean ? 1.0 / r.total_weight : 1.0;
  const kernels::ClassLoss rows = class_loss(r, false, targets, Tensor(), scale, 0.0);
  std::vector<double> per_row(r.rows, 0.0);
  backend_for(log_probs).class_loss_rows(rows, log_probs.data(), nullptr, per_row.data());
  Shape positions(log_probs.shape().begin(), log_probs.shape().end() - 1);
  Tensor loss = rows_to_loss(per_row, options.reduction, positions, r);
  record(op, {log_probs}, loss,
         [shape = log_probs.shape(), targets, r, scale, reduction = options.reduction](const Tensor& g) {
           Tensor gx = Tensor::empty(shape);
           const kernels::ClassLoss rows = class_loss(r, false, targets, Tensor(), scale, 0.0);
           backend_for(g).class_loss_rows_backward(rows, g.data(), row_grad_stride(reduction), nullptr, nullptr,
                                                   gx.data());
           return std::vector<Tensor>{gx};
         });
  return loss;
}

// Fused over rows with log p_i = x_i − lse_i (ε label smoothing, w class weights, W = Σ_c w_c, C classes):
//   loss = Σ_i a·nll_i + b·smooth_i,  nll_i = −w[t_i]·log p_i[t_i],  smooth_i = W·lse_i − Σ_c w_c·x_ic
//   a = (1 − ε), b = ε/C, both divided by Σ_i w[t_i] for the mean;
//   ∂loss/∂x_ic = a·w[t_i]·(p_ic − [c = t_i]) + b·(W·p_ic − w_c), 0 on ignored rows.
Tensor cross_entropy(const Tensor& logits, const Indices& targets, const ClassificationLossOptions& options) {
  if (detail::any_low_precision({logits, options.weight})) {
    return cross_entropy(detail::to_f32(logits), targets, in_f32(options)).to(detail::result_dtype({logits}));
  }
  const char* op = "cross_entropy";
  ClassRows r = check_classification(op, logits, targets, options);
  const double epsilon = options.label_smoothing;
  double a = 1 - epsilon, b = epsilon / static_cast<double>(r.classes);
  if (options.reduction == Reduction::mean) {
    a /= r.total_weight;
    b /= r.total_weight;
  }
  Tensor lse = Tensor::empty({r.rows});  // each row's log-sum-exp, kept for the backward
  std::vector<double> per_row(r.rows, 0.0);
  backend_for(logits).class_loss_rows(class_loss(r, true, targets, options.weight, a, b), logits.data(), lse.data(),
                                      per_row.data());
  Shape positions(logits.shape().begin(), logits.shape().end() - 1);
  Tensor loss = rows_to_loss(per_row, options.reduction, positions, r);
  record(op, {logits}, loss,
         [x = logits.detach(), weight = options.weight, targets, r, lse, a, b,
          reduction = options.reduction](const Tensor& g) {
           Tensor gx = Tensor::empty(x.shape());
           backend_for(x).class_loss_rows_backward(class_loss(r, true, targets, weight, a, b), g.data(),
                                                   row_grad_stride(reduction), x.data(), lse.data(), gx.data());
           return std::vector<Tensor>{gx};
         });
  return loss;
}

}  // namespace nn
