#include <cmath>

#include "support/check.h"

#include <pthread.h>

#include <functional>
#include <memory>

using nn::Tensor;

TEST_CASE("ops record a graph only when an input requires grad") {
  Tensor a = Tensor::ones({2});
  Tensor b = Tensor::ones({2}).set_requires_grad();
  CHECK_FALSE(nn::add(a, a).requires_grad());
  Tensor c = nn::add(a, b);
  CHECK(c.requires_grad());
  CHECK_FALSE(c.is_leaf());
}

TEST_CASE("NoGradGuard turns recording off and restores it") {
  Tensor w = Tensor::ones({2}).set_requires_grad();
  {
    nn::NoGradGuard guard;
    CHECK_FALSE(nn::grad_mode_enabled());
    CHECK_FALSE(nn::mul(w, w).requires_grad());
  }
  CHECK(nn::grad_mode_enabled());
  CHECK(nn::mul(w, w).requires_grad());
}

TEST_CASE("gradients accumulate across backward calls and zero_grad clears them") {
  Tensor x = Tensor::from_data({2}, {1, 2}).set_requires_grad();
  Tensor y = nn::sum(nn::mul(x, x));  // dy/dx = 2x
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{2, 4});
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{4, 8});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a tensor used twice receives the sum of both paths") {
  Tensor x = Tensor::from_data({1}, {3}).set_requires_grad();
  Tensor a = nn::mul(x, 2.0f);
  Tensor b = nn::mul(x, x);
  Tensor y = nn::sum(nn::add(nn::mul(a, b), a));  // y = 2x³ + 2x, dy/dx = 6x² + 2 = 56
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(56.0));
}

TEST_CASE("a leaf takes its first gradient without a copy only when nothing else holds that memory") {
  // add's backward hands the same upstream gradient to both inputs, identity-like ops pass theirs through, and a
  // caller's upstream tensor is the caller's: none of these may become a leaf's gradient storage, or accumulating into
  // one leaf would change another's gradient (or the caller's tensor).
  Tensor a = Tensor::from_data({2}, {1, 2}).set_requires_grad(), b = Tensor::from_data({2}, {3, 4}).set_requires_grad();
  Tensor upstream = Tensor::from_data({2}, {1, 10});
  nn::add(a, b).backward(upstream);
  nn::mul(a, 3.0f).backward(upstream);  // accumulates into a.grad only
  CHECK(a.grad().to_vector() == std::vector<float>{4, 40});
  CHECK(b.grad().to_vector() == std::vector<float>{1, 10});
  CHECK(upstream.to_vector() == std::vector<float>{1, 10});
  Tensor c = Tensor::from_data({2}, {5, 6}).set_requires_grad();
  c.backward(upstream);  // the root itself: its gradient is a copy of the caller's
  c.backward(upstream);
  CHECK(c.grad().to_vector() == std::vector<float>{2, 20});
  CHECK(upstream.to_vector() == std::vector<float>{1, 10});
  // A gradient computed by the backward and held by nothing else is taken as it is: the leaf's gradient is the
  // backward's own result, and later accumulation still adds to it.
  Tensor x = Tensor::from_data({2}, {1, 2}).set_requires_grad();
  nn::sum(nn::mul(x, x)).backward();
  nn::sum(nn::mul(x, x)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{4, 8});
}

TEST_CASE("an elementwise backward writes over its output gradient only when nothing else reads it") {
  // add hands one gradient to both branches: relu's backward must not overwrite what sigmoid's still reads. A chain of
  // unary ops, whose gradients nothing else holds, reuses them and still gets every value right.
  Tensor x = Tensor::from_data({4}, {-1, 0.5f, 2, -3}).set_requires_grad();
  const Tensor upstream = Tensor::from_data({4}, {1, 2, 3, 4});
  nn::add(nn::relu(x), nn::sigmoid(x)).backward(upstream);
  const std::vector<float> xs{-1, 0.5f, 2, -3}, gs{1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-xs[i]));
    CHECK(x.grad().to_vector()[i] == doctest::Approx(gs[i] * ((xs[i] > 0 ? 1.0f : 0.0f) + s * (1 - s))));
  }
  CHECK(upstream.to_vector() == gs);
  Tensor z = Tensor::from_data({2}, {0.5f, -0.25f}).set_requires_grad();
  nn::sum(nn::tanh(nn::sigmoid(nn::relu(nn::mul(z, 3.0f))))).backward();
  const float r = 1.5f, sg = 1.0f / (1.0f + std::exp(-r)), th = std::tanh(sg);
  CHECK(z.grad().to_vector()[0] == doctest::Approx((1 - th * th) * sg * (1 - sg) * 3.0f));
  CHECK(z.grad().to_vector()[1] == doctest::Approx(0.0f));
}

TEST_CASE("backward from a non-scalar needs an explicit upstream gradient of its shape") {
  Tensor x = Tensor::from_data({3}, {1, 2, 3}).set_requires_grad();
  Tensor y = nn::mul(x, 3.0f);
  CHECK_THROWS_WITH_AS(y.backward(),
                       "backward: expected a one-element tensor, or an explicit upstream gradient, got shape [3]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({2})), "backward: expected an upstream gradient of shape [3], got [2]",
                       nn::Error);
  y.backward(Tensor::from_data({3}, {1, 0, -1}));
  CHECK(x.grad().to_vector() == std::vector<float>{3, 0, -3});
}

TEST_CASE("asking to differentiate something that does not require grad is a clear error") {
  Tensor x = Tensor::ones({1});
  CHECK_THROWS_WITH_AS(nn::mul(x, 2.0f).backward(),
                       "backward: this tensor [1] does not require grad (no input of the ops that made it requires "
                       "grad, or grad mode was off)",
                       nn::Error);
}

TEST_CASE("detach cuts the history but shares the data") {
  Tensor x = Tensor::from_data({2}, {1, 2}).set_requires_grad();
  Tensor y = nn::mul(x, 2.0f);
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data() == y.data());
  Tensor z = nn::sum(nn::add(nn::mul(d, x), y));  // d is a constant: dz/dx = d + 2 = (4, 6)
  z.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{4, 6});
}

TEST_CASE("only leaves can be marked as requiring grad") {
  Tensor x = Tensor::ones({1}).set_requires_grad();
  Tensor y = nn::mul(x, 2.0f);
  CHECK_THROWS_WITH_AS(y.set_requires_grad(),
                       "set_requires_grad: only leaf tensors can be marked; this one was produced by 'mul_scalar' "
                       "(use detach() first)",
                       nn::Error);
}

TEST_CASE("an op with several outputs gets zeros for the outputs no gradient reached") {
  // Only the LSTM's last c is used: the gradient still flows to the kernel through c.
  nn::Generator gen(1);
  Tensor x = Tensor::uniform({1, 2, 2}, -1, 1, gen);
  Tensor k = Tensor::uniform({2, 4}, -1, 1, gen).set_requires_grad();
  Tensor r = Tensor::uniform({1, 4}, -1, 1, gen).set_requires_grad();
  Tensor b = Tensor::zeros({4}).set_requires_grad();
  nn::LstmResult out = nn::lstm(x, {k, r, b});
  nn::sum(out.c).backward();
  CHECK(k.grad().defined());
  CHECK(nn::sum(nn::mul(k.grad(), k.grad())).item() > 0.0f);
}

TEST_CASE("a long chain backpropagates without recursion limits") {
  Tensor x = Tensor::ones({1}).set_requires_grad();
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = nn::add(y, 0.0f);
  y.backward();
  CHECK(x.grad().item() == 1.0f);
}

namespace {

// Runs `fn` on a thread with a 256 KiB stack: freeing a graph by recursion would need hundreds of bytes per op
// and overflow it long before the chain ends, so only an iterative release passes.
void run_on_small_stack(std::function<void()> fn) {
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, 256 * 1024) == 0);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, body, &fn) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace

TEST_CASE("a long chain of ops is freed without recursion") {
  // A recursive release overflows a 256 KiB stack after roughly 10k ops (and 8 MiB after ~300k); 200k scalar ops
  // take ~170 MB and well under a second.
  constexpr int kOps = 200'000;
  Tensor x = Tensor::scalar(1.0f).set_requires_grad();
  auto y = std::make_unique<Tensor>(x);
  for (int i = 0; i < kOps; ++i) *y = nn::add(*y, 1.0f);
  CHECK(y->item() == static_cast<float>(kOps + 1));
  run_on_small_stack([&] { y.reset(); });  // the last reference to the chain's last op: the whole graph goes here
  CHECK(x.item() == 1.0f);                 // reached only if the release did not overflow the small stack
}

TEST_CASE("a long chain whose ops take the same tensor twice is freed without recursion too") {
  constexpr int kOps = 200'000;
  Tensor x = Tensor::scalar(1.0f).set_requires_grad();
  auto y = std::make_unique<Tensor>(x);
  for (int i = 0; i < kOps; ++i) *y = nn::mul(*y, *y);  // 1 · 1: each op's two inputs are one tensor
  CHECK(y->item() == 1.0f);
  run_on_small_stack([&] { y.reset(); });
  CHECK(x.item() == 1.0f);
}

TEST_CASE("LeafGradientHook: each parameter once, when its gradient is complete, in the same order every run") {
  // w1 is used at the top and at the bottom of the graph (as a recurrent weight is), w2 twice in the middle, w3 by a
  // branch whose gradient is zero (relu of a negative input); x requires no grad.
  Tensor w1 = Tensor::full({3}, 0.5f).set_requires_grad(), w2 = Tensor::full({3}, 2.0f).set_requires_grad();
  Tensor w3 = Tensor::full({3}, 1.0f).set_requires_grad(), x = Tensor::full({3}, 3.0f);
  std::vector<std::pair<const void*, std::vector<float>>> seen;  // (leaf, its gradient when the hook fired)
  auto run = [&] {
    seen.clear();
    for (Tensor* w : {&w1, &w2, &w3}) w->zero_grad();
    nn::LeafGradientHook hook([&](const Tensor& leaf) {
      std::vector<float> g;
      if (leaf.grad().defined()) g.assign(leaf.grad().data(), leaf.grad().data() + leaf.numel());
      seen.emplace_back(leaf.impl().get(), g);
    });
    Tensor h = x * w1;                       // bottom use of w1
    h = h * w2 + nn::relu(w3 * -1.0f) * w2;  // w3's branch: relu' = 0
    Tensor y = nn::sum(h * w1 * h);          // top use of w1
    y.backward();
  };
  run();
  REQUIRE(seen.size() == 3);
  for (const auto& [leaf, g] : seen) {  // the gradient the hook saw is the final one
    const Tensor& w = leaf == w1.impl().get() ? w1 : leaf == w2.impl().get() ? w2 : w3;
    INFO("leaf " << (&w == &w1 ? "w1" : &w == &w2 ? "w2" : "w3"));
    REQUIRE(g.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(g[i] == w.grad().data()[i]);
  }
  // By hand: h = 3 (3·0.5·2, w3's branch adds 0), y = Σ w1·h²; dy/dw1 = h² + 2·w1·h·x·w2 = 9 + 2·0.5·3·6 = 27.
  CHECK(w1.grad().data()[0] == doctest::Approx(27.0));
  CHECK(seen.back().first == w1.impl().get());  // w1 is complete only after its bottom use, the last node
  const auto first = seen;
  run();
  CHECK(seen == first);
  // Without a hook nothing is called; the hook's scope ended.
  seen.clear();
  nn::sum(w1 * w2).backward();
  CHECK(seen.empty());
}
