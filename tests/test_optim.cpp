#include "support/check.h"

using nn::Tensor;

namespace {
// A module holding one free parameter, for optimiser tests.
struct Holder : nn::Module {
  explicit Holder(Tensor init) { w = register_parameter("w", init); }
  std::string to_string() const override { return "Holder"; }
  Tensor w;
};
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
