// The losses (nn/ops/losses.h): PyTorch's values and gradients for every reduction (fixtures written by
// tests/reference/make_loss_fixtures.py), a finite-difference row for each, stability and bad input.
#include <nn/ops/losses.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "support/check.h"
#include "support/fixtures.h"

using nn::Reduction;
using nn::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

constexpr Reduction kReductions[] = {Reduction::none, Reduction::mean, Reduction::sum};

// A loss of named fixture inputs under one reduction.
using LossOf = std::function<Tensor(const Inputs& inputs, Reduction reduction)>;

// Loads PREFIX_NAME for each of `names` (gradients wanted for those in `with_grad`), evaluates `loss` with each
// reduction and compares the value and every gradient with PyTorch's at 1e-5 relative.
void check_against_torch(const test::Fixture& f, const std::string& prefix, const std::vector<std::string>& names,
                         const std::vector<std::string>& with_grad, const LossOf& loss) {
  for (Reduction reduction : kReductions) {
    std::string key = prefix + "_" + nn::to_string(reduction);
    Inputs inputs;
    for (const std::string& name : names) {
      inputs.push_back(f[prefix + "_" + name]);
      if (std::find(with_grad.begin(), with_grad.end(), name) != with_grad.end()) inputs.back().set_requires_grad();
    }
    Tensor value = loss(inputs, reduction);
    test::check_close(value, f[key], 1e-5, 1e-6, key);
    if (reduction == Reduction::none) {
      value.backward(f[prefix + "_none_upstream"]);
    } else {
      value.backward();
    }
    for (size_t k = 0; k < names.size(); ++k) {
      if (!inputs[k].requires_grad()) continue;
      REQUIRE_MESSAGE(inputs[k].grad().defined(), key << ": no gradient for " << names[k]);
      test::check_close(inputs[k].grad(), f[key + "_grad_" + names[k]], 1e-5, 1e-6, key + " grad " + names[k]);
    }
  }
}

}  // namespace

TEST_CASE("regression losses match PyTorch for every reduction") {
  test::Fixture f("loss_regression.txt");
  const std::vector<std::string> names = {"input", "target"};
  check_against_torch(f, "mse", names, names,
                      [](const Inputs& in, Reduction r) { return nn::mse_loss(in[0], in[1], r); });
  check_against_torch(f, "l1", names, names,
                      [](const Inputs& in, Reduction r) { return nn::l1_loss(in[0], in[1], r); });
  check_against_torch(f, "huber", names, names,
                      [](const Inputs& in, Reduction r) { return nn::huber_loss(in[0], in[1], r, 0.7f); });
  check_against_torch(f, "smooth_l1", names, names,
                      [](const Inputs& in, Reduction r) { return nn::smooth_l1_loss(in[0], in[1], r, 1.3f); });
  check_against_torch(f, "smooth_l1_beta0", names, names,
                      [](const Inputs& in, Reduction r) { return nn::smooth_l1_loss(in[0], in[1], r, 0.0f); });
}

TEST_CASE("binary cross-entropies match PyTorch, with weights, pos_weight and extreme inputs") {
  test::Fixture f("loss_binary.txt");
  check_against_torch(f, "bce_logits", {"logits", "target"}, {"logits", "target"}, [](const Inputs& in, Reduction r) {
    return nn::binary_cross_entropy_with_logits(in[0], in[1], {.reduction = r});
  });
  check_against_torch(f, "bce_logits_weighted", {"logits", "target", "weight", "pos_weight"}, {"logits", "target"},
                      [](const Inputs& in, Reduction r) {
                        return nn::binary_cross_entropy_with_logits(
                            in[0], in[1], {.reduction = r, .weight = in[2], .pos_weight = in[3]});
                      });
  check_against_torch(
      f, "bce", {"probabilities", "target"}, {"probabilities", "target"},
      [](const Inputs& in, Reduction r) { return nn::binary_cross_entropy(in[0], in[1], {.reduction = r}); });
  check_against_torch(f, "bce_weighted", {"probabilities", "target", "weight"}, {"probabilities", "target"},
                      [](const Inputs& in, Reduction r) {
                        return nn::binary_cross_entropy(in[0], in[1], {.reduction = r, .weight = in[2]});
                      });
}

TEST_CASE("nll_loss and cross_entropy match PyTorch: class weights, ignore_index, label smoothing") {
  test::Fixture f("loss_classification.txt");
  const nn::Indices targets = f.indices("targets"), targets_2 = f.indices("targets_2");
  const Tensor weight = f["weight"];
  auto nll = [&](const nn::Indices& t, nn::ClassificationLossOptions o) {
    return [&t, o](const Inputs& in, Reduction r) {
      nn::ClassificationLossOptions options = o;
      options.reduction = r;
      return nn::nll_loss(in[0], t, options);
    };
  };
  check_against_torch(f, "nll", {"log_probs"}, {"log_probs"}, nll(targets, {}));
  check_against_torch(f, "nll_weighted", {"log_probs"}, {"log_probs"}, nll(targets, {.weight = weight}));
  check_against_torch(f, "nll_ignore_2", {"log_probs"}, {"log_probs"},
                      nll(targets_2, {.weight = weight, .ignore_index = 2}));

  auto ce = [&](const nn::Indices& t, nn::ClassificationLossOptions o) {
    return [&t, o](const Inputs& in, Reduction r) {
      nn::ClassificationLossOptions options = o;
      options.reduction = r;
      return nn::cross_entropy(in[0], t, options);
    };
  };
  check_against_torch(f, "ce", {"logits"}, {"logits"}, ce(targets, {}));
  check_against_torch(f, "ce_weighted", {"logits"}, {"logits"}, ce(targets, {.weight = weight}));
  check_against_torch(f, "ce_smooth", {"logits"}, {"logits"}, ce(targets, {.label_smoothing = 0.1f}));
  check_against_torch(f, "ce_smooth_weighted", {"logits"}, {"logits"},
                      ce(targets, {.weight = weight, .label_smoothing = 0.2f}));
  check_against_torch(f, "ce_smooth_weighted_ignore_2", {"logits"}, {"logits"},
                      ce(targets_2, {.weight = weight, .ignore_index = 2, .label_smoothing = 0.3f}));
  check_against_torch(f, "ce_smooth_ignore_2", {"logits"}, {"logits"},
                      ce(targets_2, {.ignore_index = 2, .label_smoothing = 0.3f}));
}

TEST_CASE("gradient check of every loss and reduction") {
  const Tensor target =
      Tensor::from_data({3, 4}, {0.3f, -0.7f, 0.1f, 0.9f, -0.2f, 0.5f, -1.0f, 0.0f, 0.6f, -0.4f, 0.2f, -0.8f});
  const Tensor weight = Tensor::from_data({3, 1}, {0.5f, 1.5f, 2.0f});
  const Tensor pos_weight = Tensor::from_data({4}, {0.5f, 1.0f, 2.0f, 3.0f});
  const Tensor class_weight = Tensor::from_data({4}, {0.5f, 2.0f, 1.0f, 0.25f});
  const nn::Indices classes({2, 3}, {3, 0, -1, 1, 2, 1});  // −1: ignored below
  std::vector<test::GradCase> table;
  for (Reduction r : kReductions) {
    std::string suffix = std::string(" (") + nn::to_string(r) + ")";
    table.push_back(
        {"mse_loss" + suffix, {{3, 4}, {3, 4}}, [r](const Inputs& in) { return nn::mse_loss(in[0], in[1], r); }});
    // The input moved 3 above the target, so that |input − target| stays away from l1's kink at 0.
    table.push_back({"l1_loss" + suffix, {{3, 4}, {3, 4}}, [r](const Inputs& in) {
                       return nn::l1_loss(nn::add(in[0], 3.0f), in[1], r);
                     }});
    table.push_back({"l1_loss vs a constant" + suffix,
                     {{3, 4}},
                     [r, target](const Inputs& in) { return nn::l1_loss(in[0], nn::mul(target, 0.0f), r); },
                     -1.0f,
                     1.0f,
                     {0.0f},
                     0.05f});
    table.push_back({"huber_loss" + suffix, {{3, 4}, {3, 4}}, [r](const Inputs& in) {
                       return nn::huber_loss(in[0], in[1], r, 0.6f);
                     }});
    table.push_back({"smooth_l1_loss" + suffix, {{3, 4}}, [r, target](const Inputs& in) {
                       return nn::smooth_l1_loss(in[0], target, r, 0.4f);
                     }});
    table.push_back({"binary_cross_entropy_with_logits" + suffix,
                     {{3, 4}, {3, 4}},
                     [r, weight, pos_weight](const Inputs& in) {
                       return nn::binary_cross_entropy_with_logits(
                           in[0], nn::sigmoid(in[1]), {.reduction = r, .weight = weight, .pos_weight = pos_weight});
                     },
                     -4.0f,
                     4.0f});
    table.push_back({"binary_cross_entropy" + suffix,
                     {{3, 4}, {3, 4}},
                     [r, weight](const Inputs& in) {
                       return nn::binary_cross_entropy(nn::sigmoid(in[0]), nn::sigmoid(in[1]),
                                                       {.reduction = r, .weight = weight});
                     },
                     -3.0f,
                     3.0f});
    table.push_back({"nll_loss" + suffix, {{2, 3, 4}}, [r, classes, class_weight](const Inputs& in) {
                       return nn::nll_loss(in[0], classes,
                                           {.reduction = r, .weight = class_weight, .ignore_index = -1});
                     }});
    table.push_back({"cross_entropy" + suffix,
                     {{2, 3, 4}},
                     [r, classes](const Inputs& in) {
                       return nn::cross_entropy(in[0], classes, {.reduction = r, .ignore_index = -1});
                     },
                     -3.0f,
                     3.0f});
    table.push_back({"cross_entropy smoothed, weighted" + suffix,
                     {{2, 3, 4}},
                     [r, classes, class_weight](const Inputs& in) {
                       return nn::cross_entropy(
                           in[0], classes,
                           {.reduction = r, .weight = class_weight, .ignore_index = -1, .label_smoothing = 0.25f});
                     },
                     -3.0f,
                     3.0f});
  }
  test::check_gradients(table);
}

TEST_CASE("the fused losses stay finite far from zero") {
  // exp(±1000) overflows float: the stable forms never compute it.
  Tensor x = Tensor::from_data({4}, {1000.0f, -1000.0f, 1000.0f, -1000.0f}).set_requires_grad();
  Tensor y = Tensor::from_data({4}, {1.0f, 0.0f, 0.0f, 1.0f});
  Tensor loss = nn::binary_cross_entropy_with_logits(x, y, {.reduction = Reduction::none});
  test::check_close(loss, {0.0f, 0.0f, 1000.0f, 1000.0f}, 1e-6, 0.0, "bce with logits at ±1000");
  nn::sum(loss).backward();
  test::check_close(x.grad(), {0.0f, 0.0f, 1.0f, -1.0f}, 1e-6, 0.0, "its gradient");

  Tensor logits = Tensor::from_data({2, 3}, {1e4f, 0.0f, -1e4f, 50.0f, 50.0f, 50.0f}).set_requires_grad();
  Tensor ce = nn::cross_entropy(logits, nn::Indices({2}, {1, 2}), {.reduction = Reduction::none});
  test::check_close(ce, {1e4f, std::log(3.0f)}, 1e-6, 1e-6, "cross_entropy with logits 1e4 apart");
  nn::sum(ce).backward();
  test::check_close(logits.grad(), {1.0f, -1.0f, 0.0f, 1.0f / 3, 1.0f / 3, -2.0f / 3}, 1e-5, 1e-7, "its gradient");
}

TEST_CASE("cross_entropy agrees with nll_loss of log_softmax and with the masked softmax_cross_entropy") {
  nn::Generator gen(3);
  Tensor logits = Tensor::uniform({2, 5, 6}, -3.0f, 3.0f, gen);
  nn::Indices targets({2, 5}, {0, 5, 2, 2, 1, 4, 3, 0, 5, 1});
  Tensor fused = nn::cross_entropy(logits, targets, {.reduction = Reduction::none});
  Tensor composed = nn::nll_loss(nn::log_softmax(logits), targets, {.reduction = Reduction::none});
  test::check_close(fused, composed, 1e-5, 1e-6, "cross_entropy vs nll_loss(log_softmax)");
  test::check_close(nn::cross_entropy(logits, targets), nn::softmax_cross_entropy(logits, targets), 1e-6, 1e-6,
                    "mean vs softmax_cross_entropy without a mask");
}

TEST_CASE("the fused cross_entropy equals its composition from ops on a large batch (the parallel path)") {
  // (1 − ε)·nll_loss(log_softmax(x)) + ε/C·(−Σ_c w_c·log_softmax(x)_c) at the positions kept: 64 × 1024 logits.
  const int64_t rows = 64, classes = 1024;
  const float epsilon = 0.15f;
  nn::Generator gen(11);
  Tensor weight = Tensor::uniform({classes}, 0.1f, 2.0f, gen);
  std::vector<int32_t> ids(rows);
  std::vector<float> keep(rows);
  for (int64_t i = 0; i < rows; ++i) {
    ids[i] = i % 7 == 3 ? -1 : static_cast<int32_t>(gen.below(classes));
    keep[i] = ids[i] == -1 ? 0.0f : 1.0f;
  }
  const nn::Indices targets({rows}, ids);
  const Tensor upstream = Tensor::uniform({rows}, -1.0f, 1.0f, gen);
  Tensor x = Tensor::uniform({rows, classes}, -4.0f, 4.0f, gen).set_requires_grad();

  Tensor fused = nn::cross_entropy(
      x, targets, {.reduction = Reduction::none, .weight = weight, .ignore_index = -1, .label_smoothing = epsilon});
  fused.backward(upstream);
  Tensor fused_grad = x.grad().detach().clone();
  x.zero_grad();

  Tensor log_p = nn::log_softmax(x);
  Tensor nll = nn::nll_loss(log_p, targets, {.reduction = Reduction::none, .weight = weight, .ignore_index = -1});
  Tensor smooth = nn::mul(nn::neg(nn::sum(nn::mul(log_p, weight), {-1})), Tensor::from_data({rows}, keep));
  Tensor composed = nn::add(nn::mul(nll, 1.0f - epsilon), nn::mul(smooth, epsilon / classes));
  composed.backward(upstream);
  test::check_close(fused, composed, 1e-5, 1e-6, "fused vs composed losses");
  test::check_close(fused_grad, x.grad(), 1e-5, 1e-8, "fused vs composed gradients");
}

TEST_CASE("a mean over no position is NaN, as PyTorch's") {
  Tensor logits = Tensor::zeros({2, 3});
  nn::Indices ignored({2}, {-100, -100});
  CHECK(std::isnan(nn::cross_entropy(logits, ignored).item()));
  CHECK(std::isnan(nn::nll_loss(logits, ignored).item()));
  CHECK(nn::cross_entropy(logits, ignored, {.reduction = Reduction::sum}).item() == 0.0f);
}

TEST_CASE("losses reject bad input with the argument and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH_AS(nn::mse_loss(a, b), "mse_loss: expected a target of the input's shape [2,3], got target [3,2]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::l1_loss(a, b), "l1_loss: expected a target of the input's shape [2,3], got target [3,2]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::huber_loss(a, a, Reduction::mean, 0.0f),
                       "huber_loss: expected delta > 0 and finite, got 0.000000", nn::Error);
  CHECK_THROWS_WITH_AS(nn::smooth_l1_loss(a, a, Reduction::mean, -1.0f),
                       "smooth_l1_loss: expected beta ≥ 0 and finite, got -1.000000", nn::Error);
  CHECK_THROWS_WITH_AS(
      nn::binary_cross_entropy_with_logits(a, a, {.weight = Tensor::ones({3, 1})}),
      "binary_cross_entropy_with_logits: expected weight that broadcasts to the input [2,3], got [3,1]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::binary_cross_entropy_with_logits(a, a, {.pos_weight = Tensor::full({3}, -1.0f)}),
                       "binary_cross_entropy_with_logits: expected pos_weight ≥ 0 and finite, got -1.000000 at index 0",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::binary_cross_entropy(Tensor::full({2}, 1.5f), Tensor::zeros({2})),
                       "binary_cross_entropy: expected probabilities in [0, 1], got 1.500000 at index 0", nn::Error);
  CHECK_THROWS_WITH_AS(nn::binary_cross_entropy(a, a, {.pos_weight = Tensor::ones({3})}),
                       "binary_cross_entropy: pos_weight is only taken by binary_cross_entropy_with_logits", nn::Error);

  Tensor logits = Tensor::zeros({2, 4, 5});
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, nn::Indices({2, 5}, std::vector<int32_t>(10, 0))),
                       "cross_entropy: expected targets of shape [2,4] (input [2,4,5]), got [2,5]", nn::Error);
  nn::Indices out_of_range({2, 4}, {0, 1, 2, 3, 4, 5, 0, 0});
  CHECK_THROWS_WITH_AS(nn::nll_loss(logits, out_of_range),
                       "nll_loss: expected targets in [0, 5) or ignore_index -100, got 5 at flat position 5",
                       nn::Error);
  nn::Indices zeros({2, 4}, std::vector<int32_t>(8, 0));
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, zeros, {.weight = Tensor::ones({4})}),
                       "cross_entropy: expected class weights of shape [5] (input [2,4,5]), got [4]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, zeros, {.weight = Tensor::from_data({5}, {1, 1, -2, 1, 1})}),
                       "cross_entropy: expected class weights ≥ 0 and finite, got -2.000000 at index 2", nn::Error);
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, zeros, {.label_smoothing = 1.5f}),
                       "cross_entropy: expected label_smoothing in [0, 1], got 1.500000", nn::Error);
  CHECK_THROWS_WITH_AS(nn::nll_loss(logits, zeros, {.label_smoothing = 0.1f}),
                       "nll_loss: label_smoothing is only taken by cross_entropy", nn::Error);
  CHECK_THROWS_WITH_AS(nn::cross_entropy(Tensor::scalar(1.0f), nn::Indices({}, {0})),
                       "cross_entropy: expected an input (..., C) with C ≥ 1 classes on the last axis, got shape []",
                       nn::Error);
  Tensor trainable = Tensor::ones({5}).set_requires_grad();
  CHECK_THROWS_WITH_AS(nn::cross_entropy(logits, zeros, {.weight = trainable}),
                       "cross_entropy: class weights take no gradient (as PyTorch's): pass them detached", nn::Error);
}
