// Optimisers and learning-rate schedules: PyTorch reference trajectories (tests/reference/make_optim_fixtures.py),
// parameter groups, state through checkpoints, and the errors.
#include <algorithm>
#include <functional>
#include <memory>

#include <nn/optim/adagrad.h>
#include <nn/optim/rmsprop.h>
#include <nn/optim/scheduler.h>

#include "support/check.h"
#include "support/files.h"
#include "support/fixtures.h"

using nn::Tensor;

namespace {
// A module holding one free parameter, for optimiser tests.
struct Holder : nn::Module {
  explicit Holder(Tensor init) { w = register_parameter("w", init); }
  std::string to_string() const override { return "Holder"; }
  Tensor w;
};

// The two parameters of the fixtures: w [2,3] and b [4].
struct Pair : nn::Module {
  explicit Pair(const test::Fixture& f) {
    w = register_parameter("w", f["init.w"]);
    b = register_parameter("b", f["init.b"]);
  }
  Tensor w, b;
};

constexpr double kRtol = 1e-5, kAtol = 1e-6;

// Gives w and b the gradients of the fixture's step k (as d/dθ of Σ θ⊙g); b none when `b_has_grad` is false.
void set_gradients(const test::Fixture& f, Pair& pair, nn::Optimizer& opt, int k, bool b_has_grad = true) {
  opt.zero_grad();
  const std::string s = std::to_string(k);
  Tensor loss = nn::sum(nn::mul(pair.w, f["grad.w." + s]));
  if (b_has_grad) loss = nn::add(loss, nn::sum(nn::mul(pair.b, f["grad.b." + s])));
  loss.backward();
}

using MakeOptimizer = std::function<std::unique_ptr<nn::Optimizer>(Pair&)>;

// Runs the fixture's steps with the optimiser `make` builds (and a per-step schedule when given) and compares the
// parameters after every step with case `name`.
// On the steps in `b_skips`, b has no gradient.
void check_trajectory(const std::string& file, const std::string& name, const MakeOptimizer& make,
                      const std::function<std::unique_ptr<nn::LRScheduler>(nn::Optimizer&)>& schedule = nullptr,
                      const std::vector<int>& b_skips = {}) {
  INFO(file << ": " << name);
  test::Fixture f(file);
  Pair pair(f);
  std::unique_ptr<nn::Optimizer> opt = make(pair);
  std::unique_ptr<nn::LRScheduler> sched = schedule ? schedule(*opt) : nullptr;
  for (int k = 1; k <= 6; ++k) {
    set_gradients(f, pair, *opt, k, std::find(b_skips.begin(), b_skips.end(), k) == b_skips.end());
    opt->step();
    if (sched) sched->after_step();
    const std::string s = std::to_string(k);
    test::check_close(pair.w, f[name + ".w." + s], kRtol, kAtol, name + " w after step " + s);
    test::check_close(pair.b, f[name + ".b." + s], kRtol, kAtol, name + " b after step " + s);
  }
}

template <class Opt, class Options>
MakeOptimizer one_group(Options options) {
  return [options](Pair& p) { return std::make_unique<Opt>(p.named_parameters(), options); };
}
}  // namespace

TEST_CASE("Adam's first step moves each weight by lr against the sign of its gradient (Keras's formula)") {
  // At t = 1: m = 0.1 g, v = 0.001 g², lr_t = lr·sqrt(0.001)/0.1, so Δ = −lr·g/(|g| + ε/sqrt(0.001)).
  Holder h(Tensor::from_data({3}, {1, 1, 1}));
  nn::Adam adam(h.named_parameters(), {.lr = 0.1f});
  nn::sum(nn::mul(h.w, Tensor::from_data({3}, {2, -0.5f, 0}))).backward();
  adam.step();
  double eps_term = 1e-7 / std::sqrt(0.001);
  CHECK(h.w.at({0}) == doctest::Approx(1 - 0.1 * 2 / (2 + eps_term)).epsilon(1e-6));
  CHECK(h.w.at({1}) == doctest::Approx(1 + 0.1 * 0.5 / (0.5 + eps_term)).epsilon(1e-6));
  CHECK(h.w.at({2}) == 1.0f);
  CHECK(adam.steps() == 1);
}

TEST_CASE(
    "Adam flushes denormal moments to zero (their squares below 1.2e-38 cannot move a weight) and leaves the "
    "caller's floating-point mode as it was") {
  Holder h(Tensor::from_data({2}, {1, 1}));
  nn::Adam adam(h.named_parameters(), {.lr = 0.1f});
  // g = 1e-20: g² = 1e-40 is denormal, and so is 0.001·g²; g = 1: an ordinary moment beside it.
  nn::sum(nn::mul(h.w, Tensor::from_data({2}, {1e-20f, 1}))).backward();
  adam.step();
  float v_tiny = -1, v_one = -1;
  for (const auto& [name, t] : adam.state()) {
    if (name.rfind("v.", 0) == 0) v_tiny = t.data()[0], v_one = t.data()[1];
  }
  CHECK(v_tiny == 0.0f);                                 // flushed, not 1e-43
  CHECK(v_one == doctest::Approx(0.001).epsilon(1e-6));  // (1 − β2)·g²
  // The caller's thread still computes denormals: the flush is confined to the update.
  volatile float tiny = 1e-20f;
  CHECK(tiny * tiny > 0.0f);
}

TEST_CASE("SGD with momentum follows velocity ← μ·velocity − lr·g") {
  Holder h(Tensor::from_data({1}, {0}));
  nn::SGD sgd(h.named_parameters(), {.lr = 0.1f, .momentum = 0.9f});
  for (int i = 0; i < 2; ++i) {
    sgd.zero_grad();
    nn::sum(h.w).backward();  // g = 1
    sgd.step();
  }
  // v1 = −0.1, w1 = −0.1; v2 = −0.09 − 0.1 = −0.19, w2 = −0.29.
  CHECK(h.w.item() == doctest::Approx(-0.29).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm rescales to the global norm and reports the norm before") {
  Tensor a = Tensor::from_data({2}, {0, 0}).set_requires_grad();
  Tensor b = Tensor::from_data({1}, {0}).set_requires_grad();
  nn::add(nn::sum(nn::mul(a, Tensor::from_data({2}, {3, 0}))), nn::sum(nn::mul(b, 4.0f))).backward();  // (3,0),(4)
  CHECK(nn::clip_grad_norm({a, b}, 1.0f) == doctest::Approx(5.0));
  CHECK(a.grad().at({0}) == doctest::Approx(0.6));
  CHECK(b.grad().at({0}) == doctest::Approx(0.8));
  CHECK(nn::clip_grad_norm({a, b}, 10.0f) == doctest::Approx(1.0));
  CHECK(a.grad().at({0}) == doctest::Approx(0.6));  // below the bound: untouched
}

TEST_CASE("optimiser state round-trips and a mismatched state is refused without changes") {
  Holder h(Tensor::from_data({2}, {1, 2}));
  nn::Adam adam(h.named_parameters());
  nn::sum(nn::mul(h.w, h.w)).backward();
  adam.step();
  nn::NamedTensors state = adam.state();
  Holder h2(Tensor::from_data({2}, {1, 2}));
  nn::Adam restored(h2.named_parameters());
  restored.load_state(state);
  CHECK(restored.steps() == 1);
  CHECK(restored.state()[1].second.to_vector() == state[1].second.to_vector());

  Holder other(Tensor::from_data({3}, {1, 2, 3}));
  nn::Adam wrong(other.named_parameters());
  CHECK_THROWS_WITH_AS(wrong.load_state(state), "Adam::load_state: expected state tensor 'm.w' of shape [3], got [2]",
                       nn::Error);
  state.emplace_back("extra", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(restored.load_state(state), "Adam::load_state: unexpected state tensor 'extra'", nn::Error);
}

// ---- PyTorch reference trajectories ----

TEST_CASE("SGD matches torch.optim.SGD: plain, momentum, Nesterov, weight decay (both momentum forms)") {
  using nn::MomentumForm;
  const std::vector<std::pair<std::string, nn::SGDOptions>> cases = {
      {"plain", {.lr = 0.1f}},
      {"momentum", {.lr = 0.1f, .momentum = 0.9f}},
      {"nesterov", {.lr = 0.1f, .momentum = 0.9f, .nesterov = true}},
      {"weight_decay", {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.05f}},
      {"nesterov_weight_decay", {.lr = 0.1f, .momentum = 0.8f, .nesterov = true, .weight_decay = 0.05f}}};
  for (auto [name, options] : cases) {
    options.momentum_form = MomentumForm::pytorch;
    check_trajectory("optim_sgd.txt", name, one_group<nn::SGD>(options));
    // At a constant rate Keras's velocity is −lr times PyTorch's buffer: the same trajectory.
    options.momentum_form = MomentumForm::keras;
    check_trajectory("optim_sgd.txt", name, one_group<nn::SGD>(options));
  }
}

TEST_CASE("with a changing rate, SGD's PyTorch momentum form matches torch and Keras's form does not") {
  auto exponential = [](nn::Optimizer& o) {
    return std::make_unique<nn::ExponentialLR>(o,
                                               nn::ExponentialLROptions{.gamma = 0.7, .unit = nn::ScheduleUnit::step});
  };
  check_trajectory(
      "optim_sgd.txt", "momentum_exponential",
      one_group<nn::SGD>(nn::SGDOptions{.lr = 0.1f, .momentum = 0.9f, .momentum_form = nn::MomentumForm::pytorch}),
      exponential);
  test::Fixture f("optim_sgd.txt");
  Pair pair(f);
  nn::SGD keras(pair.named_parameters(), {.lr = 0.1f, .momentum = 0.9f});
  nn::ExponentialLR schedule(keras, {.gamma = 0.7, .unit = nn::ScheduleUnit::step});
  for (int k = 1; k <= 6; ++k) {
    set_gradients(f, pair, keras, k);
    keras.step();
    schedule.after_step();
  }
  // Keras's velocity keeps the steps taken at the old rates: well away from torch's trajectory.
  const float moved = pair.w.at({0, 0}) - f["init.w"].at({0, 0});
  const float torch_moved = f["momentum_exponential.w.6"].at({0, 0}) - f["init.w"].at({0, 0});
  CHECK(std::fabs(moved - torch_moved) > 0.05f * std::fabs(torch_moved));
}

TEST_CASE("Adam with weight decay matches torch.optim.Adam, AdamW matches torch.optim.AdamW") {
  using nn::AdamEpsilon;
  check_trajectory(
      "optim_adam.txt", "weight_decay",
      one_group<nn::Adam>(nn::AdamOptions{
          .lr = 0.05f, .epsilon = 1e-8f, .weight_decay = 0.1f, .epsilon_placement = AdamEpsilon::pytorch}));
  check_trajectory("optim_adam.txt", "adamw",
                   one_group<nn::AdamW>(nn::AdamWOptions{.lr = 0.05f, .weight_decay = 0.1f}));
  check_trajectory("optim_adam.txt", "adamw_betas",
                   one_group<nn::AdamW>(nn::AdamWOptions{
                       .lr = 0.02f, .beta1 = 0.8f, .beta2 = 0.99f, .epsilon = 1e-3f, .weight_decay = 0.5f}));
  // Keras's ε placement with coupled weight decay, against the formula written out in float64.
  check_trajectory("optim_adam.txt", "keras_weight_decay",
                   one_group<nn::Adam>(nn::AdamOptions{.lr = 0.05f, .weight_decay = 0.1f}));
}

// The steps on which b has no gradient in the fixtures' skip_b cases (make_optim_fixtures.py's B_SKIPS).
const std::vector<int> kBSkips = {1, 2, 4};

TEST_CASE("Adam, AdamW and Adagrad count steps per parameter, as torch: b without gradient on steps 1, 2 and 4") {
  // Counting the optimiser's steps instead, b's first update (step 3) would use t = 3's bias corrections.
  check_trajectory("optim_adam.txt", "skip_b_adam",
                   one_group<nn::Adam>(
                       nn::AdamOptions{.lr = 0.05f, .epsilon = 1e-8f, .epsilon_placement = nn::AdamEpsilon::pytorch}),
                   nullptr, kBSkips);
  check_trajectory("optim_adam.txt", "skip_b_adamw",
                   one_group<nn::AdamW>(nn::AdamWOptions{.lr = 0.05f, .weight_decay = 0.1f}), nullptr, kBSkips);
  check_trajectory("optim_adagrad.txt", "skip_b",
                   one_group<nn::Adagrad>(nn::AdagradOptions{.lr = 0.1f, .lr_decay = 0.2f}), nullptr, kBSkips);

  // The counts are in the state and come back with it.
  test::Fixture f("optim_adam.txt");
  Pair pair(f), other(f);
  nn::AdamW adamw(pair.named_parameters());
  for (int k = 1; k <= 6; ++k) {
    set_gradients(f, pair, adamw, k, std::find(kBSkips.begin(), kBSkips.end(), k) == kBSkips.end());
    adamw.step();
  }
  CHECK(adamw.steps() == 6);
  CHECK(adamw.parameter_steps(0) == 6);  // w
  CHECK(adamw.parameter_steps(1) == 3);  // b
  nn::AdamW restored(other.named_parameters());
  restored.load_state(adamw.state());
  CHECK(restored.steps() == 6);
  CHECK(restored.parameter_steps(1) == 3);
  CHECK(test::error_of([&] { restored.parameter_steps(2); }) == "parameter_steps: expected a parameter below 2, got 2");
  nn::NamedTensors without_b_count;
  for (const auto& entry : adamw.state()) {
    if (entry.first != "step.b") without_b_count.push_back(entry);
  }
  CHECK(test::error_of([&] { restored.load_state(without_b_count); }) ==
        "AdamW::load_state: state tensor 'step.b' is missing");
}

TEST_CASE("AdamW without weight decay is Adam, bit for bit, with either epsilon placement") {
  test::Fixture f("optim_adam.txt");
  for (nn::AdamEpsilon placement : {nn::AdamEpsilon::keras, nn::AdamEpsilon::pytorch}) {
    Pair a(f), b(f);
    nn::Adam adam(a.named_parameters(), {.lr = 0.05f, .epsilon_placement = placement});
    nn::AdamW adamw(b.named_parameters(),
                    {.lr = 0.05f, .epsilon = 1e-7f, .weight_decay = 0.0f, .epsilon_placement = placement});
    for (int k = 1; k <= 6; ++k) {
      set_gradients(f, a, adam, k);
      set_gradients(f, b, adamw, k);
      adam.step();
      adamw.step();
    }
    CHECK(a.w.to_vector() == b.w.to_vector());
    CHECK(a.b.to_vector() == b.b.to_vector());
  }
}

TEST_CASE("RMSprop matches torch.optim.RMSprop: plain, centered, momentum, all together with weight decay") {
  check_trajectory("optim_rmsprop.txt", "plain", one_group<nn::RMSprop>(nn::RMSpropOptions{.lr = 0.01f}));
  check_trajectory("optim_rmsprop.txt", "centered",
                   one_group<nn::RMSprop>(nn::RMSpropOptions{.lr = 0.01f, .alpha = 0.9f, .centered = true}));
  check_trajectory("optim_rmsprop.txt", "momentum",
                   one_group<nn::RMSprop>(nn::RMSpropOptions{.lr = 0.01f, .momentum = 0.9f}));
  check_trajectory(
      "optim_rmsprop.txt", "all",
      one_group<nn::RMSprop>(nn::RMSpropOptions{
          .lr = 0.02f, .alpha = 0.95f, .epsilon = 1e-4f, .weight_decay = 0.1f, .momentum = 0.5f, .centered = true}));
}

TEST_CASE("Adagrad matches torch.optim.Adagrad, with lr_decay, weight decay and an initial accumulator") {
  check_trajectory("optim_adagrad.txt", "plain", one_group<nn::Adagrad>(nn::AdagradOptions{.lr = 0.1f}));
  check_trajectory(
      "optim_adagrad.txt", "all",
      one_group<nn::Adagrad>(nn::AdagradOptions{
          .lr = 0.1f, .lr_decay = 0.2f, .weight_decay = 0.05f, .initial_accumulator_value = 0.3f, .epsilon = 1e-6f}));
}

TEST_CASE("parameter groups with their own rate and weight decay match torch's param_groups") {
  check_trajectory("optim_groups.txt", "adamw", [](Pair& p) {
    return std::make_unique<nn::AdamW>(
        std::vector<nn::ParamGroup>{{{{"w", p.w}}, {.lr = 0.05f}}, {{{"b", p.b}}, {.weight_decay = 0.5f}}},
        nn::AdamWOptions{.lr = 0.01f, .weight_decay = 0.1f});
  });
  check_trajectory("optim_groups.txt", "sgd", [](Pair& p) {
    return std::make_unique<nn::SGD>(
        std::vector<nn::ParamGroup>{{{{"w", p.w}}}, {{{"b", p.b}}, {.lr = 0.3f, .weight_decay = 0.2f}}},
        nn::SGDOptions{.lr = 0.05f, .momentum = 0.9f, .momentum_form = nn::MomentumForm::pytorch});
  });
  test::Fixture f("optim_groups.txt");
  Pair pair(f);
  nn::AdamW opt({{{{"w", pair.w}}, {.lr = 0.05f}}, {{{"b", pair.b}}, {}}}, {.lr = 0.01f});
  CHECK(opt.group_count() == 2);
  CHECK(opt.learning_rate(0) == 0.05f);
  CHECK(opt.learning_rate(1) == 0.01f);
  CHECK(opt.options(1).weight_decay == 0.01f);
  CHECK(opt.group_parameters(1)[0].first == "b");
  CHECK(opt.parameters().size() == 2);
  // The form a fine-tuning run writes: each group's list with its overrides (a double literal is fine), then the
  // defaults.
  Tensor head = Tensor::zeros({3}).set_requires_grad();
  nn::AdamW issue_form({{pair.named_parameters(), {.lr = 1e-4}}, {{{"head", head}}, {}}}, {.lr = 1e-3f});
  CHECK(issue_form.learning_rate(0) == 1e-4f);
  CHECK(issue_form.learning_rate(1) == 1e-3f);
  CHECK(opt.to_string() ==
        "AdamW(group 0: lr=0.05, beta1=0.9, beta2=0.999, epsilon=1e-08 (pytorch), weight_decay=0.01; "
        "group 1: lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-08 (pytorch), weight_decay=0.01)");
}

// ---- schedules ----

namespace {
// A two-group SGD with base rates 0.1 and 0.02, as the schedule fixtures'.
struct TwoRates {
  Tensor p = Tensor::zeros({1}).set_requires_grad();
  Tensor q = Tensor::zeros({1}).set_requires_grad();
  nn::SGD sgd{std::vector<nn::ParamGroup>{{{{"p", p}}, {.lr = 0.1f}}, {{{"q", q}}, {.lr = 0.02f}}}};

  void check_rates(const Tensor& expected, int64_t row, const std::string& what) const {
    INFO(what << " after " << row << " scheduler steps");
    CHECK(sgd.learning_rate(0) == doctest::Approx(expected.at({row, 0})).epsilon(kRtol));
    CHECK(sgd.learning_rate(1) == doctest::Approx(expected.at({row, 1})).epsilon(kRtol));
  }
};
}  // namespace

TEST_CASE("StepLR, ExponentialLR and CosineWithWarmup give torch's rates (StepLR, ExponentialLR, LambdaLR)") {
  test::Fixture f("optim_schedules.txt");
  {
    TwoRates r;
    nn::StepLR s(r.sgd, {.step_size = 3, .gamma = 0.5});  // per epoch
    Tensor expected = f["steplr.lrs"];
    for (int64_t k = 0; k < expected.dim(0); ++k) {
      if (k > 0) s.after_step();  // a per-epoch schedule ignores steps
      r.check_rates(expected, k, "StepLR");
      s.after_epoch(std::nan(""));
    }
    CHECK(s.to_string() == "StepLR(step_size=3, gamma=0.5, per epoch)");
  }
  {
    TwoRates r;
    nn::ExponentialLR s(r.sgd, {.gamma = 0.8, .unit = nn::ScheduleUnit::step});
    Tensor expected = f["exponential.lrs"];
    for (int64_t k = 0; k < expected.dim(0); ++k) {
      r.check_rates(expected, k, "ExponentialLR");
      s.after_epoch(1.0);  // a per-step schedule ignores epochs
      s.after_step();
    }
  }
  {
    TwoRates r;
    nn::CosineWithWarmup s(r.sgd, {.warmup = 3, .total = 10, .min_lr = 0.001});
    Tensor expected = f["cosine.lrs"];
    for (int64_t k = 0; k < expected.dim(0); ++k) {
      r.check_rates(expected, k, "CosineWithWarmup");
      s.after_step();
    }
    CHECK(s.to_string() == "CosineWithWarmup(warmup=3, total=10, min_lr=0.001, per step)");
  }
}

TEST_CASE("ReduceLROnPlateau gives torch's rates (relative and absolute threshold, cooldown, min_lr)") {
  test::Fixture f("optim_schedules.txt");
  const std::vector<float> losses = f["plateau.losses"].to_vector();
  for (const std::string name : {"plateau", "plateau_abs"}) {
    TwoRates r;
    const nn::ReduceLROnPlateauOptions options =
        name == "plateau"
            ? nn::ReduceLROnPlateauOptions{.factor = 0.5,
                                           .patience = 2,
                                           .threshold = 0.01,
                                           .cooldown = 1,
                                           .min_lr = 0.004}
            : nn::ReduceLROnPlateauOptions{
                  .factor = 0.3, .patience = 1, .threshold = 0.05, .threshold_mode = nn::ThresholdMode::absolute};
    nn::ReduceLROnPlateau s(r.sgd, options);
    Tensor expected = f[name + ".lrs"];
    r.check_rates(expected, 0, name);
    for (size_t k = 0; k < losses.size(); ++k) {
      s.after_step();
      s.after_epoch(losses[k]);
      r.check_rates(expected, static_cast<int64_t>(k + 1), name);
    }
  }
  TwoRates r;
  nn::ReduceLROnPlateau s(r.sgd);
  CHECK(s.to_string() ==
        "ReduceLROnPlateau(factor=0.1, patience=10, threshold=0.0001 (relative), cooldown=0, min_lr=0, per epoch)");
  CHECK_THROWS_WITH_AS(s.after_epoch(std::nan("")),
                       "ReduceLROnPlateau: expected a validation loss after the epoch, got NaN (is there validation "
                       "data?)",
                       nn::Error);
}

// ---- state: checkpoints, resuming, errors ----

namespace {
using MakeSchedule = std::function<std::unique_ptr<nn::LRScheduler>(nn::Optimizer&)>;

// Runs steps [first, last] of the fixture; an epoch ends after every second step, with a validation loss that
// first falls and then rises (so that a plateau schedule acts).
void run_steps(const test::Fixture& f, Pair& pair, nn::Optimizer& opt, nn::LRScheduler& sched, int first, int last) {
  const float losses[] = {0, 1.0f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f};
  for (int k = first; k <= last; ++k) {
    set_gradients(f, pair, opt, k);
    opt.step();
    sched.after_step();
    if (k % 2 == 0) sched.after_epoch(losses[k]);
  }
}

// Three steps, save (optimiser and schedule via nn::save, as the Trainer keeps them), fresh objects, load, three
// more steps: bit-identical to six steps without a break.
void check_resume_exact(const std::string& what, const MakeOptimizer& make, const MakeSchedule& schedule) {
  INFO(what);
  test::Fixture f("optim_sgd.txt");
  Pair straight(f);
  auto opt = make(straight);
  auto sched = schedule(*opt);
  run_steps(f, straight, *opt, *sched, 1, 6);

  test::TempDir dir;
  {
    Pair first(f);
    auto o = make(first);
    auto s = schedule(*o);
    run_steps(f, first, *o, *s, 1, 3);
    nn::save(dir.path / "last.nnck", first, o.get(), {}, s.get());
  }
  Pair resumed(f);
  auto o = make(resumed);
  auto s = schedule(*o);
  nn::load(dir.path / "last.nnck", resumed, o.get(), s.get());
  run_steps(f, resumed, *o, *s, 4, 6);
  CHECK(resumed.w.to_vector() == straight.w.to_vector());
  CHECK(resumed.b.to_vector() == straight.b.to_vector());
  CHECK(o->learning_rate() == opt->learning_rate());
  for (size_t k = 0; k < opt->state().size(); ++k) {
    CHECK(o->state()[k].first == opt->state()[k].first);
    CHECK(o->state()[k].second.to_vector() == opt->state()[k].second.to_vector());
  }
}
}  // namespace

TEST_CASE("save, load and continue is bit-identical to an uninterrupted run, optimiser and schedule") {
  using nn::ScheduleUnit;
  check_resume_exact(
      "AdamW + cosine with warm-up", one_group<nn::AdamW>(nn::AdamWOptions{.lr = 0.05f}), [](nn::Optimizer& o) {
        return std::make_unique<nn::CosineWithWarmup>(o, nn::CosineWithWarmupOptions{.warmup = 2, .total = 6});
      });
  check_resume_exact(
      "SGD (PyTorch momentum) + StepLR per epoch",
      one_group<nn::SGD>(nn::SGDOptions{.lr = 0.1f, .momentum = 0.9f, .momentum_form = nn::MomentumForm::pytorch}),
      [](nn::Optimizer& o) {
        return std::make_unique<nn::StepLR>(o, nn::StepLROptions{.step_size = 1, .gamma = 0.5});
      });
  check_resume_exact("RMSprop (centered, momentum) + ReduceLROnPlateau",
                     one_group<nn::RMSprop>(nn::RMSpropOptions{.lr = 0.01f, .momentum = 0.5f, .centered = true}),
                     [](nn::Optimizer& o) {
                       return std::make_unique<nn::ReduceLROnPlateau>(
                           o, nn::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 0, .cooldown = 1});
                     });
  check_resume_exact("Adagrad + ExponentialLR per step",
                     one_group<nn::Adagrad>(nn::AdagradOptions{.lr = 0.1f, .lr_decay = 0.1f}), [](nn::Optimizer& o) {
                       return std::make_unique<nn::ExponentialLR>(
                           o, nn::ExponentialLROptions{.gamma = 0.9, .unit = ScheduleUnit::step});
                     });
}

TEST_CASE("an optimiser's state holds each group's current rate; a schedule's holds its count and base rates") {
  test::Fixture f("optim_sgd.txt");
  Pair pair(f);
  nn::Adam adam({{{{"w", pair.w}}}, {{{"b", pair.b}}, {.lr = 0.5f}}});
  adam.set_learning_rate(0.125f, 0);
  Pair other(f);
  nn::Adam restored({{{{"w", other.w}}}, {{{"b", other.b}}}});
  restored.load_state(adam.state());
  CHECK(restored.learning_rate(0) == 0.125f);
  CHECK(restored.learning_rate(1) == 0.5f);

  nn::StepLR step(adam, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  for (int k = 0; k < 5; ++k) step.after_step();
  CHECK(adam.learning_rate(1) == doctest::Approx(0.125));
  nn::StepLR other_step(restored, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  other_step.load_state(step.state());
  CHECK(other_step.count() == 5);
  CHECK(other_step.base_learning_rates() == std::vector<float>{0.125f, 0.5f});
  CHECK(restored.learning_rate(1) == doctest::Approx(0.125));
}

TEST_CASE("a state from another optimiser, form, configuration or parameter set is refused, naming the entry") {
  test::Fixture f("optim_sgd.txt");
  Pair pair(f);
  const nn::NamedTensors params = pair.named_parameters();
  auto message = [](nn::Optimizer& opt, const nn::NamedTensors& state) {
    return test::error_of([&] { opt.load_state(state); });
  };
  nn::Adam adam(params);
  nn::AdamW adamw(params);
  CHECK(message(adamw, adam.state()) ==
        "AdamW::load_state: the state is another optimiser's (entry 'type.Adam'), expected 'type.AdamW'");
  nn::SGD keras(params, {.momentum = 0.9f});
  nn::SGD torch_form(params, {.momentum = 0.9f, .momentum_form = nn::MomentumForm::pytorch});
  CHECK(message(torch_form, keras.state()) == "SGD::load_state: state tensor 'momentum_buffer.w' is missing");
  nn::RMSprop plain(params);
  nn::RMSprop centered(params, {.centered = true});
  CHECK(message(centered, plain.state()) == "RMSprop::load_state: state tensor 'grad_avg.w' is missing");
  nn::Adam two_groups({{{{"w", pair.w}}}, {{{"b", pair.b}}}});
  CHECK(message(adam, two_groups.state()) == "Adam::load_state: unexpected state tensor 'group.1.lr'");
  Holder h(Tensor::zeros({2, 3}));
  nn::Adam fewer(h.named_parameters());
  CHECK(message(fewer, adam.state()) == "Adam::load_state: unexpected state tensor 'm.b'");

  nn::NamedTensors bad = adam.state();
  for (auto& [name, t] : bad)
    if (name == "group.0.lr") t = Tensor::scalar(-1.0f);
  CHECK(message(adam, bad) == "Adam::load_state: expected state tensor 'group.0.lr' a finite rate >= 0, got -1");
  bad = adam.state();
  bad[0].second = Tensor::from_data({2}, {0.5f, 1.0f});
  CHECK(message(adam, bad) ==
        "Adam::load_state: expected state tensor 'step' a count (two whole numbers in [0, 2^24)), got 0.5, 1");

  // Through a checkpoint the file is named first; the refused state left the optimiser as it was.
  test::TempDir dir;
  nn::save(dir.path / "adam.nnck", pair, &adam);
  const std::string text = test::error_of([&] { nn::load(dir.path / "adam.nnck", pair, &adamw); });
  CHECK(text.find("adam.nnck") != std::string::npos);
  CHECK(text.find("AdamW::load_state: the state is another optimiser's (entry 'type.Adam')") != std::string::npos);
  CHECK(adamw.steps() == 0);

  nn::StepLR step(adam, {.step_size = 2});
  nn::ExponentialLR exponential(adam, {});
  CHECK(test::error_of([&] { exponential.load_state(step.state()); }) ==
        "ExponentialLR::load_state: the state is another schedule's (entry 'type.StepLR'), expected "
        "'type.ExponentialLR'");
  nn::StepLR two_group_step(two_groups, {.step_size = 2});
  CHECK(test::error_of([&] { step.load_state(two_group_step.state()); }) ==
        "StepLR::load_state: expected state tensor 'base_lrs' of shape [1], got [2]");
}

TEST_CASE("options out of range, a bad group and duplicate names are nn::Errors naming them") {
  Holder h(Tensor::zeros({2}));
  const nn::NamedTensors params = h.named_parameters();
  using test::error_of;
  CHECK(error_of([&] { nn::Adam(params, {.beta1 = 1.0f}); }) == "Adam: expected beta1 in [0, 1) for group 0, got 1");
  CHECK(error_of([&] { nn::RMSprop(params, {.alpha = -0.5f}); }) ==
        "RMSprop: expected alpha in [0, 1) for group 0, got -0.5");
  CHECK(error_of([&] {
          nn::AdamW({{params, {.lr = -1.0f}}});
        }) == "AdamW: expected lr finite and >= 0 for group 0, got -1");
  CHECK(error_of([&] {
          nn::Adagrad({{params, {}}, {params, {}}});
        }) ==
        "Adagrad: parameter name 'w' appears twice (in groups 0 and 1); the state is keyed by name, so names must be "
        "unique (prefix the names of parameters gathered from separate modules, e.g. \"head.\" + name)");
  CHECK(error_of([&] {
          nn::Adam(nn::NamedTensors{params[0], params[0]});
        }) ==
        "Adam: parameter name 'w' appears twice (in group 0); the state is keyed by name, so names must be unique "
        "(prefix the names of parameters gathered from separate modules, e.g. \"head.\" + name)");
  CHECK(error_of([&] {
          nn::SGD({{"x", Tensor::zeros({1})}});
        }) == "SGD: expected parameters that require grad, got 'x' that does not");
  // The same tensor under two names (tied weights listed twice) would be updated twice per step.
  CHECK(error_of([&] {
          nn::SGD({{"encoder.w", h.w}, {"decoder.w", h.w}});
        }) ==
        "SGD: parameters 'encoder.w' and 'decoder.w' are the same tensor (tied weights?); give each tensor once, "
        "as Module::named_parameters() does, or it would be updated twice per step");
  CHECK(error_of([&] {
          nn::Adam({{{{"a.w", h.w}}, {}}, {{{"b.w", h.w}}, {}}});
        }).find("Adam: parameters 'a.w' and 'b.w' are the same tensor") == 0);

  nn::Adam adam(params);
  CHECK(error_of([&] { adam.set_learning_rate(-1.0f); }) ==
        "set_learning_rate: expected lr finite and >= 0 for group 0, got -1");
  CHECK(error_of([&] { adam.learning_rate(1); }) == "learning_rate: expected a group below 1, got group 1");
  adam.options().beta2 = 2.0f;
  CHECK(error_of([&] { adam.step(); }) == "Adam::step: expected beta2 in [0, 1) for group 0, got 2");

  nn::SGD sgd(params, {.lr = 0.5f});
  sgd.set_learning_rate(0.25f);  // the rate of an SGD changes after construction
  CHECK(sgd.options().lr == 0.25f);
  sgd.options().momentum_form = nn::MomentumForm::pytorch;
  CHECK(error_of([&] { sgd.step(); }) ==
        "SGD::step: momentum_form of group 0 changed after construction (the momentum buffer would change meaning); "
        "build a new SGD");

  CHECK(error_of([&] { nn::StepLR(adam, {.step_size = 0}); }) == "StepLR: expected step_size > 0, got 0");
  CHECK(error_of([&] { nn::CosineWithWarmup(adam, {.warmup = 5, .total = 4}); }) ==
        "CosineWithWarmup: expected warmup in [0, total = 4], got 5");
  CHECK(error_of([&] { nn::ReduceLROnPlateau(adam, {.factor = 1.0}); }) ==
        "ReduceLROnPlateau: expected factor in (0, 1), got 1");
}
