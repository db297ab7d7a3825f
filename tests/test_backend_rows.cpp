// The row primitives of the backend table (gather_rows, scatter_add_rows), the optimisers' updates, gradient norms,
// the softmax cross-entropy rows, the LSTM step and batch norm's statistics and backward: the cpu backend against the
// reference on random data of odd sizes, the reference against values worked out by hand or by finite differences; and
// Adam's step count above 2^24 through state() and load_state().
#include <cmath>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include <nn/backends/backend.h>
#include <nn/backends/cpu/rows_fast.h>
#include <nn/core/threads.h>
#include <nn/ops/losses.h>
#include <nn/optim/adam.h>

#include "support/check.h"

namespace {

using Floats = std::vector<float>;
using nn::Tensor;

Floats random_floats(int64_t n, std::mt19937& rng, float low = -1.0f, float high = 1.0f) {
  std::uniform_real_distribution<float> dist(low, high);
  Floats out(static_cast<size_t>(n));
  for (float& v : out) v = dist(rng);
  return out;
}

std::vector<int32_t> random_ids(int64_t n, int32_t vocab, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (int32_t& v : out) v = dist(rng);
  return out;
}

// Every element of `actual` within atol + rtol·|expected|; reports the first offender.
void check_near(const Floats& actual, const Floats& expected, double rtol, double atol, const std::string& what) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(expected[i])))) {
      FAIL_CHECK(what << ": element " << i << " is " << actual[i] << ", expected " << expected[i]);
      return;
    }
  }
}

// The backends, looked up when a test case asks: at namespace scope, an NN_ISA level this processor lacks would throw
// before main (std::terminate), where doctest cannot report it and ctest cannot skip the forced-level runs.
const nn::Backend& cpu() {
  return nn::cpu_backend();
}
const nn::Backend& ref() {
  return nn::ref_backend();
}

constexpr int64_t kCounts[] = {0, 1, 7, 33, 1031};
constexpr int64_t kWidths[] = {1, 7, 33};

}  // namespace

TEST_CASE("gather_rows: the reference picks the rows named, repeated ids included") {
  const Floats table{1, 2, 3, 4, 5, 6};  // (3, 2)
  const std::vector<int32_t> ids{2, 0, 2};
  Floats out(6, -1.0f);
  ref().gather_rows(3, ids.data(), 2, table.data(), out.data());
  CHECK(out == Floats{5, 6, 1, 2, 5, 6});
}

TEST_CASE("gather_rows: cpu equals the reference for every count and width") {
  std::mt19937 rng(7);
  for (int64_t count : kCounts) {
    for (int64_t width : kWidths) {
      const int32_t vocab = 13;
      const Floats table = random_floats(vocab * width, rng);
      const auto ids = random_ids(count, vocab, rng);
      Floats a(count * width, -7.0f), b(count * width, -9.0f);
      cpu().gather_rows(count, ids.data(), width, table.data(), a.data());
      ref().gather_rows(count, ids.data(), width, table.data(), b.data());
      CHECK_MESSAGE(a == b, "count " << count << ", width " << width);
    }
  }
}

TEST_CASE("scatter_add_rows: the reference adds each row into its id's row, repeated ids summed, others kept") {
  const Floats g{1, 2, 10, 20, 100, 200};  // (3, 2)
  const std::vector<int32_t> ids{1, 1, 0};
  Floats table_grad{0.5f, 0.5f, 1, 1, 3, 3};  // (3, 2): it adds
  ref().scatter_add_rows(3, ids.data(), 2, g.data(), table_grad.data());
  CHECK(table_grad == Floats{100.5f, 200.5f, 12, 23, 3, 3});
}

TEST_CASE("scatter_add_rows: cpu equals the reference, with many repeated ids") {
  std::mt19937 rng(11);
  for (int64_t count : kCounts) {
    for (int64_t width : kWidths) {
      const int32_t vocab = 5;  // far fewer rows than positions: most ids repeat
      const Floats g = random_floats(count * width, rng);
      const auto ids = random_ids(count, vocab, rng);
      Floats a = random_floats(vocab * width, rng);
      Floats b = a;
      cpu().scatter_add_rows(count, ids.data(), width, g.data(), a.data());
      ref().scatter_add_rows(count, ids.data(), width, g.data(), b.data());
      check_near(a, b, 1e-6, 1e-6, "count " + std::to_string(count) + ", width " + std::to_string(width));
    }
  }
}

TEST_CASE("adam_update: the reference follows the formulas on one element") {
  // β1 = 0.5, β2 = 0.75, coupled decay 0.5, shrink 0.5: θ = 2 → 1; g = 1 + 0.5·1 = 1.5; m = 0.5·1 + 0.5·1.5 = 1.25;
  // v = 0.75·4 + 0.25·2.25 = 3.5625; θ = 1 − 0.1·1.25 / (√3.5625 / 0.5 + 0.25) = 1 − 0.125 / 4.025.
  const nn::kernels::AdamStep s{.b1 = 0.5f,
                                .b2 = 0.75f,
                                .eps = 0.25f,
                                .step_size = 0.1f,
                                .sqrt_bc2 = 0.5f,
                                .coupled_decay = 0.5f,
                                .shrink = 0.5f};
  Floats theta{2}, m{1}, v{4};
  const Floats g{1};
  ref().adam_update(s, 1, theta.data(), m.data(), v.data(), g.data());
  CHECK(m[0] == doctest::Approx(1.25));
  CHECK(v[0] == doctest::Approx(3.5625));
  CHECK(theta[0] == doctest::Approx(1.0 - 0.125 / 4.025).epsilon(1e-6));
}

TEST_CASE("adam_update: cpu matches the reference (Keras and PyTorch ε, Adam and AdamW decay, threaded sizes)") {
  std::mt19937 rng(3);
  const nn::kernels::AdamStep steps[] = {
      {.b1 = 0.9f, .b2 = 0.999f, .eps = 1e-7f, .step_size = 1e-3f, .sqrt_bc2 = 1, .coupled_decay = 0, .shrink = 1},
      {.b1 = 0.9f,
       .b2 = 0.99f,
       .eps = 1e-8f,
       .step_size = 0.02f,
       .sqrt_bc2 = 0.3f,
       .coupled_decay = 0.01f,
       .shrink = 1},
      {.b1 = 0.8f,
       .b2 = 0.999f,
       .eps = 1e-3f,
       .step_size = 0.01f,
       .sqrt_bc2 = 0.1f,
       .coupled_decay = 0,
       .shrink = 0.999f},
  };
  for (const auto& s : steps) {
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1031}, int64_t{70001}}) {
      const Floats theta = random_floats(n, rng), g = random_floats(n, rng), m = random_floats(n, rng, -0.1f, 0.1f);
      const Floats v = random_floats(n, rng, 0.0f, 0.1f);
      Floats theta_cpu = theta, m_cpu = m, v_cpu = v, theta_ref = theta, m_ref = m, v_ref = v;
      for (int repeat = 0; repeat < 2; ++repeat) {
        cpu().adam_update(s, n, theta_cpu.data(), m_cpu.data(), v_cpu.data(), g.data());
        ref().adam_update(s, n, theta_ref.data(), m_ref.data(), v_ref.data(), g.data());
      }
      const std::string what = "n " + std::to_string(n) + ", step size " + std::to_string(s.step_size);
      check_near(m_cpu, m_ref, 1e-5, 1e-7, "m, " + what);
      check_near(v_cpu, v_ref, 1e-5, 1e-9, "v, " + what);
      check_near(theta_cpu, theta_ref, 1e-5, 1e-6, "theta, " + what);
    }
  }
}

TEST_CASE("adam_update gives the same bits at every instruction-set level and on one thread or two") {
  // Compiled without FMA contraction (nn/CMakeLists.txt): each operation rounded on its own, in the vector loops of
  // every level and in their scalar remainders alike.
  using nn::kernels::Isa;
  std::mt19937 rng(4);
  const nn::kernels::AdamStep s{
      .b1 = 0.9f, .b2 = 0.99f, .eps = 1e-8f, .step_size = 0.02f, .sqrt_bc2 = 0.3f, .coupled_decay = 0.01f, .shrink = 1};
  const int64_t n = 100003;  // above the threaded size, odd: each thread's chunk has a vector part and a remainder
  const Floats theta = random_floats(n, rng), g = random_floats(n, rng), m = random_floats(n, rng, -0.1f, 0.1f);
  const Floats v = random_floats(n, rng, 0.0f, 0.1f);
  struct RestoreThreads {  // also when an assertion throws
    int before = nn::num_threads();
    ~RestoreThreads() { nn::set_num_threads(before); }
  } restore;
  auto run = [&]<Isa isa>(int threads) {
    nn::set_num_threads(threads);
    std::vector<Floats> out{theta, m, v};
    nn::kernels::adam_update<isa>(s, n, out[0].data(), out[1].data(), out[2].data(), g.data());
    return out;
  };
  const std::vector<Floats> expected = run.template operator()<Isa::scalar>(1);
  auto check = [&](const std::vector<Floats>& got, const std::string& what) {
    for (int k = 0; k < 3; ++k) test::check_same_bits(got[k], expected[k], what + ": array " + std::to_string(k));
  };
  check(run.template operator()<Isa::scalar>(2), "scalar, 2 threads");
  int levels = 1;
  if (nn::kernels::cpu_supports(Isa::avx2)) {
    check(run.template operator()<Isa::avx2>(1), "avx2, 1 thread");
    check(run.template operator()<Isa::avx2>(2), "avx2, 2 threads");
    ++levels;
  }
  if (nn::kernels::cpu_supports(Isa::avx512)) {
    check(run.template operator()<Isa::avx512>(1), "avx512, 1 thread");
    check(run.template operator()<Isa::avx512>(2), "avx512, 2 threads");
    ++levels;
  }
  MESSAGE("adam_update compared at " << levels << " levels");
}

TEST_CASE(
    "exp_sum adds e^(x − shift) at every instruction-set level as std::exp does, and as softmax_rows sums a row") {
  using nn::kernels::Isa;
  std::mt19937 rng(6);
  for (int64_t n : {1, 15, 16, 17, 100, 2048}) {
    Floats x = random_floats(n, rng, -30.0f, 5.0f);
    x[0] = -100.0f;  // below e^x's float range after the shift: adds 0, as std::exp's 3.1e-45 nearly does
    const float shift = 2.5f;
    double expected = 0;
    for (float v : x) expected += std::exp(double{v} - shift);
    auto check = [&]<Isa isa>(const char* level) {
      const double got = nn::kernels::exp_sum<isa>(n, x.data(), shift);
      CHECK_MESSAGE(std::fabs(got - expected) <= 4e-7 * expected + 1e-40,
                    (std::string(level) + ", n = " + std::to_string(n)));
    };
    check.template operator()<Isa::scalar>("scalar");
    if (nn::kernels::cpu_supports(Isa::avx2)) check.template operator()<Isa::avx2>("avx2");
    if (nn::kernels::cpu_supports(Isa::avx512)) check.template operator()<Isa::avx512>("avx512");
  }
  // A row of one block: its logsumexp is its max plus the log of exp_sum at that max, to the bit.
  Floats row = random_floats(2000, rng, -8.0f, 8.0f);
  float max = row[0];
  for (float v : row) max = std::max(max, v);
  float lse = 0;
  nn::cpu_backend().softmax_rows(nn::kernels::RowSoftmax::logsumexp, 1, 2000, row.data(), &lse);
  const float from_sum = nn::kernels::with_active_isa(
      [&]<Isa isa> { return max + static_cast<float>(std::log(nn::kernels::exp_sum<isa>(2000, row.data(), max))); });
  test::check_same_bits({from_sum}, {lse}, "logsumexp of one block");
}

TEST_CASE("sgd_update, rmsprop_update, adagrad_update: the reference follows the formulas on one element") {
  // SGD, PyTorch's form, Nesterov: g = 1 + 0.5·2 = 2; b = 0.5·4 + 2 = 4; g = 2 + 0.5·4 = 4; θ = 2 − 0.1·4 = 1.6.
  Floats theta{2}, buffer{4};
  const Floats g{1};
  ref().sgd_update({.lr = 0.1f, .momentum = 0.5f, .weight_decay = 0.5f, .nesterov = true}, 1, theta.data(),
                   buffer.data(), g.data());
  CHECK(buffer[0] == doctest::Approx(4.0));
  CHECK(theta[0] == doctest::Approx(1.6));
  // Keras's form: v = 0.5·4 − 0.1·1 = 1.9; θ = 2 + 1.9; Nesterov: θ = 2 + 0.5·1.9 − 0.1.
  theta = {2}, buffer = {4};
  ref().sgd_update({.lr = 0.1f, .momentum = 0.5f, .keras_form = true}, 1, theta.data(), buffer.data(), g.data());
  CHECK(buffer[0] == doctest::Approx(1.9));
  CHECK(theta[0] == doctest::Approx(3.9));
  theta = {2}, buffer = {4};
  ref().sgd_update({.lr = 0.1f, .momentum = 0.5f, .nesterov = true, .keras_form = true}, 1, theta.data(), buffer.data(),
                   g.data());
  CHECK(theta[0] == doctest::Approx(2.85));
  // RMSprop centered with momentum: s = 0.5·1 + 0.5·4 = 2.5 (g = 2); a = 0.5·1 + 0.5·2 = 1.5; d = √(2.5 − 2.25) + 0.5
  // = 1; b = 0.5·1 + 2/1 = 2.5; θ = 1 − 0.1·2.5.
  theta = {1}, buffer = {1};
  Floats square_avg{1}, grad_avg{1};
  const Floats two{2};
  ref().rmsprop_update({.lr = 0.1f, .alpha = 0.5f, .eps = 0.5f, .momentum = 0.5f, .centered = true}, 1, theta.data(),
                       square_avg.data(), grad_avg.data(), buffer.data(), two.data());
  CHECK(square_avg[0] == doctest::Approx(2.5));
  CHECK(grad_avg[0] == doctest::Approx(1.5));
  CHECK(buffer[0] == doctest::Approx(2.5));
  CHECK(theta[0] == doctest::Approx(0.75));
  // Adagrad: g = 2 + 0.25·4 = 3; s = 7 + 9 = 16; θ = 4 − 0.5·3 / (4 + 1) = 3.7.
  theta = {4};
  Floats sum{7};
  ref().adagrad_update({.lr = 0.5f, .eps = 1, .weight_decay = 0.25f}, 1, theta.data(), sum.data(), two.data());
  CHECK(sum[0] == doctest::Approx(16.0));
  CHECK(theta[0] == doctest::Approx(3.7));
}

TEST_CASE("sgd_update, rmsprop_update, adagrad_update: cpu matches the reference on every form and size") {
  std::mt19937 rng(17);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1031}, int64_t{70001}}) {
    const Floats theta = random_floats(n, rng), g = random_floats(n, rng), state = random_floats(n, rng, 0.1f, 1.0f);
    const std::string size = "n " + std::to_string(n);
    for (bool keras : {false, true}) {
      for (bool nesterov : {false, true}) {
        for (float momentum : {0.0f, 0.9f}) {
          const nn::kernels::SgdStep s{.lr = 0.05f,
                                       .momentum = momentum,
                                       .weight_decay = keras ? 0.0f : 0.01f,
                                       .nesterov = nesterov,
                                       .keras_form = keras};
          Floats ta = theta, ba = state, tb = theta, bb = state;
          for (int repeat = 0; repeat < 2; ++repeat) {
            cpu().sgd_update(s, n, ta.data(), ba.data(), g.data());
            ref().sgd_update(s, n, tb.data(), bb.data(), g.data());
          }
          const std::string what = size + (keras ? ", keras" : ", pytorch") + (nesterov ? ", nesterov" : "") +
                                   ", momentum " + std::to_string(momentum);
          check_near(ta, tb, 1e-5, 1e-6, "sgd theta, " + what);
          check_near(ba, bb, 1e-5, 1e-6, "sgd buffer, " + what);
        }
      }
    }
    for (bool centered : {false, true}) {
      for (float momentum : {0.0f, 0.5f}) {
        const nn::kernels::RmspropStep s{.lr = 0.01f,
                                         .alpha = 0.9f,
                                         .eps = 1e-6f,
                                         .weight_decay = 0.01f,
                                         .momentum = momentum,
                                         .centered = centered};
        // grad_avg starts at 0 so that s − a² stays positive.
        Floats ta = theta, sa = state, aa(n, 0.0f), ba = state, tb = theta, sb = state, ab(n, 0.0f), bb = state;
        for (int repeat = 0; repeat < 2; ++repeat) {
          cpu().rmsprop_update(s, n, ta.data(), sa.data(), aa.data(), ba.data(), g.data());
          ref().rmsprop_update(s, n, tb.data(), sb.data(), ab.data(), bb.data(), g.data());
        }
        const std::string what = size + (centered ? ", centered" : "") + ", momentum " + std::to_string(momentum);
        check_near(ta, tb, 1e-5, 1e-6, "rmsprop theta, " + what);
        check_near(sa, sb, 1e-5, 1e-7, "rmsprop square_avg, " + what);
        check_near(aa, ab, 1e-5, 1e-7, "rmsprop grad_avg, " + what);
        check_near(ba, bb, 1e-5, 1e-6, "rmsprop buffer, " + what);
      }
    }
    const nn::kernels::AdagradStep s{.lr = 0.1f, .eps = 1e-10f, .weight_decay = 0.01f};
    Floats ta = theta, sa = state, tb = theta, sb = state;
    for (int repeat = 0; repeat < 2; ++repeat) {
      cpu().adagrad_update(s, n, ta.data(), sa.data(), g.data());
      ref().adagrad_update(s, n, tb.data(), sb.data(), g.data());
    }
    check_near(ta, tb, 1e-5, 1e-6, "adagrad theta, " + size);
    check_near(sa, sb, 1e-5, 1e-7, "adagrad sum, " + size);
  }
}

TEST_CASE("sum_squares adds Σx² in double to the total; all_finite finds NaN and infinities") {
  const Floats x{3, 4, 1e-20f};
  double total = 1;
  ref().sum_squares(3, x.data(), &total);
  CHECK(total == doctest::Approx(26.0));
  std::mt19937 rng(19);
  for (int64_t n : kCounts) {
    const Floats v = random_floats(n, rng, -100, 100);
    double a = 0.5, b = 0.5, expected = 0.5;
    for (float e : v) expected += static_cast<double>(e) * e;
    cpu().sum_squares(n, v.data(), &a);
    ref().sum_squares(n, v.data(), &b);
    CHECK(a == doctest::Approx(expected).epsilon(1e-12));
    CHECK(b == doctest::Approx(expected).epsilon(1e-12));
    for (const nn::Backend* be : {&cpu(), &ref()}) {
      INFO(be->name << ", n " << n);
      bool finite = false;
      be->all_finite(n, v.data(), &finite);
      CHECK(finite);
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        if (n == 0) continue;
        Floats w = v;
        w[n / 2] = bad;
        be->all_finite(n, w.data(), &finite);
        CHECK_FALSE(finite);
      }
    }
  }
}

TEST_CASE("cross_entropy_rows: the reference gives the hand-worked loss sums and gradient") {
  // Row 0: x = (0, ln 3), target 1: lse = ln 4, loss ln 4 − ln 3, weight 2. Row 1: x = (5, 5), target 0: lse = 5 + ln
  // 2, loss ln 2, weight 0.5.
  const Floats x{0, std::log(3.0f), 5, 5};
  const std::vector<int32_t> targets{1, 0};
  const Floats w{2, 0.5f};
  const nn::kernels::TargetRows rows{.rows = 2, .classes = 2, .targets = targets.data(), .weights = w.data()};
  Floats lse(2);
  double sums[2];
  ref().cross_entropy_rows(rows, x.data(), lse.data(), sums);
  CHECK(lse[0] == doctest::Approx(std::log(4.0)));
  CHECK(lse[1] == doctest::Approx(5 + std::log(2.0)));
  CHECK(sums[0] == doctest::Approx(2 * (std::log(4.0) - std::log(3.0)) + 0.5 * std::log(2.0)));
  CHECK(sums[1] == doctest::Approx(2.5));
  // gx = scale·w_r·(softmax − onehot): row 0 (1/4, 3/4 − 1)·2·3, row 1 (1/2 − 1, 1/2)·0.5·3.
  Floats gx(4);
  ref().cross_entropy_rows_backward(rows, 3.0f, x.data(), lse.data(), gx.data());
  check_near(gx, {1.5f, -1.5f, -0.75f, 0.75f}, 1e-6, 1e-7, "gx");
}

TEST_CASE("cross_entropy_rows: cpu matches the reference, with and without weights, past the threading threshold") {
  std::mt19937 rng(23);
  for (int64_t rows : kCounts) {
    for (int64_t classes : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1031}}) {
      const Floats x = random_floats(rows * classes, rng, -8.0f, 8.0f), w = random_floats(rows, rng, 0.0f, 1.0f);
      const auto targets = random_ids(rows, static_cast<int32_t>(classes), rng);
      for (bool weighted : {false, true}) {
        const std::string what =
            "rows " + std::to_string(rows) + ", classes " + std::to_string(classes) + (weighted ? ", weighted" : "");
        const nn::kernels::TargetRows r{
            .rows = rows, .classes = classes, .targets = targets.data(), .weights = weighted ? w.data() : nullptr};
        Floats lse_a(rows), lse_b(rows), gx_a(rows * classes), gx_b(rows * classes);
        double sums_a[2], sums_b[2];
        cpu().cross_entropy_rows(r, x.data(), lse_a.data(), sums_a);
        ref().cross_entropy_rows(r, x.data(), lse_b.data(), sums_b);
        check_near(lse_a, lse_b, 1e-6, 1e-6, "lse, " + what);
        CHECK_MESSAGE(sums_a[0] == doctest::Approx(sums_b[0]).epsilon(1e-5), what);
        CHECK_MESSAGE(sums_a[1] == doctest::Approx(sums_b[1]).epsilon(1e-9), what);
        cpu().cross_entropy_rows_backward(r, 0.25f, x.data(), lse_b.data(), gx_a.data());
        ref().cross_entropy_rows_backward(r, 0.25f, x.data(), lse_b.data(), gx_b.data());
        check_near(gx_a, gx_b, 1e-5, 1e-7, "gx, " + what);
      }
    }
  }
}

TEST_CASE("binary_cross_entropy: the reference gives the hand-worked losses and derivatives") {
  // Logits x = 0, y = 1, p = 3: l = 3·log 2; ∂x = −3·σ(0) = −1.5; ∂y = 0 + 2·log 2. Probabilities x = 0.25, y = 1:
  // l = −log 0.25; ∂x = −0.75 / 0.1875 = −4; ∂y = log 0.75 − log 0.25 = log 3.
  const Floats zero{0}, one{1}, three{3}, quarter{0.25f}, g{2};
  Floats loss(1), gx(1), gy(1);
  ref().binary_cross_entropy(nn::kernels::BinaryLoss::logits, 1, zero.data(), one.data(), three.data(), loss.data());
  CHECK(loss[0] == doctest::Approx(3 * std::log(2.0)));
  ref().binary_cross_entropy_backward(nn::kernels::BinaryLoss::logits, 1, g.data(), zero.data(), one.data(),
                                      three.data(), gx.data(), gy.data());
  CHECK(gx[0] == doctest::Approx(2 * -1.5));
  CHECK(gy[0] == doctest::Approx(2 * 2 * std::log(2.0)));
  ref().binary_cross_entropy(nn::kernels::BinaryLoss::probabilities, 1, quarter.data(), one.data(), nullptr,
                             loss.data());
  CHECK(loss[0] == doctest::Approx(-std::log(0.25)));
  ref().binary_cross_entropy_backward(nn::kernels::BinaryLoss::probabilities, 1, g.data(), quarter.data(), one.data(),
                                      nullptr, gx.data(), gy.data());
  CHECK(gx[0] == doctest::Approx(2 * -4.0));
  CHECK(gy[0] == doctest::Approx(2 * std::log(3.0)));
}

TEST_CASE("binary_cross_entropy: cpu matches the reference, logits and probabilities, with and without pos_weight") {
  std::mt19937 rng(31);
  for (int64_t n : kCounts) {
    const Floats logits = random_floats(n, rng, -30.0f, 30.0f), probabilities = random_floats(n, rng, 0.0f, 1.0f);
    const Floats y = random_floats(n, rng, 0.0f, 1.0f), pos = random_floats(n, rng, 0.0f, 4.0f);
    const Floats g = random_floats(n, rng);
    for (auto kind : {nn::kernels::BinaryLoss::logits, nn::kernels::BinaryLoss::probabilities}) {
      for (bool weighted : {false, true}) {
        const bool on_logits = kind == nn::kernels::BinaryLoss::logits;
        if (weighted && !on_logits) continue;
        const std::string what =
            "n " + std::to_string(n) + (on_logits ? ", logits" : ", probabilities") + (weighted ? ", pos_weight" : "");
        const Floats& x = on_logits ? logits : probabilities;
        const float* p = weighted ? pos.data() : nullptr;
        Floats la(n), lb(n), gxa(n), gxb(n), gya(n), gyb(n);
        cpu().binary_cross_entropy(kind, n, x.data(), y.data(), p, la.data());
        ref().binary_cross_entropy(kind, n, x.data(), y.data(), p, lb.data());
        check_near(la, lb, 1e-5, 1e-6, "loss, " + what);
        cpu().binary_cross_entropy_backward(kind, n, g.data(), x.data(), y.data(), p, gxa.data(), gya.data());
        ref().binary_cross_entropy_backward(kind, n, g.data(), x.data(), y.data(), p, gxb.data(), gyb.data());
        check_near(gxa, gxb, 1e-5, 1e-6, "gx, " + what);
        check_near(gya, gyb, 1e-5, 1e-6, "gy, " + what);
      }
    }
  }
}

TEST_CASE("class_loss_rows: the reference gives hand-worked rows with smoothing, class weights and an ignored row") {
  // x = (0, ln 3) target 1, class weights (2, 1), a = 0.5, b = 0.25, W = 3: lse = ln 4, p = (1/4, 3/4);
  // nll = −1·(ln 3 − ln 4); smooth = 3·ln 4 − (2·0 + 1·ln 3); row 1 ignored.
  const Floats x{0, std::log(3.0f), 9, 9}, w{2, 1}, target_weight{1, 0};
  const std::vector<int32_t> targets{1, -100};
  const std::vector<uint8_t> ignored{0, 1};
  nn::kernels::ClassLoss p{.rows = 2,
                           .classes = 2,
                           .logits = true,
                           .targets = targets.data(),
                           .ignored = ignored.data(),
                           .target_weight = target_weight.data(),
                           .class_weights = w.data(),
                           .class_weight_sum = 3,
                           .a = 0.5,
                           .b = 0.25};
  Floats lse(2);
  double per_row[2];
  ref().class_loss_rows(p, x.data(), lse.data(), per_row);
  const double ln3 = std::log(3.0), ln4 = std::log(4.0);
  CHECK(per_row[0] == doctest::Approx(-0.5 * (ln3 - ln4) + 0.25 * (3 * ln4 - ln3)));
  CHECK(per_row[1] == 0.0);
  // gx_c = g·(a·w_t·(p_c − [c = t]) + b·(W·p_c − w_c)), g = 2 for both rows (stride 0).
  const Floats g{2};
  Floats gx(4, 7.0f);
  ref().class_loss_rows_backward(p, g.data(), 0, x.data(), lse.data(), gx.data());
  check_near(gx,
             {static_cast<float>(2 * (0.5 * 0.25 + 0.25 * (0.75 - 2))),
              static_cast<float>(2 * (0.5 * -0.25 + 0.25 * (2.25 - 1))), 0, 0},
             1e-6, 1e-7, "gx");
  // Log-probabilities: nll only, −a·w_t·x_t; the gradient −g·a·w_t at the target.
  p.logits = false;
  p.b = 0;
  ref().class_loss_rows(p, x.data(), nullptr, per_row);
  CHECK(per_row[0] == doctest::Approx(-0.5 * ln3));
  ref().class_loss_rows_backward(p, g.data(), 0, nullptr, nullptr, gx.data());
  check_near(gx, {0, -1, 0, 0}, 0, 0, "gx, log-probabilities");
}

TEST_CASE("class_loss_rows: cpu matches the reference over sizes, smoothing, class weights and ignored rows") {
  std::mt19937 rng(37);
  for (int64_t rows : kCounts) {
    for (int64_t classes : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1031}}) {
      const Floats x = random_floats(rows * classes, rng, -6.0f, 6.0f), w = random_floats(classes, rng, 0.0f, 2.0f);
      const Floats g = random_floats(rows, rng);
      const auto targets = random_ids(rows, static_cast<int32_t>(classes), rng);
      std::vector<uint8_t> ignored(rows);
      Floats target_weight(rows);
      for (int64_t i = 0; i < rows; ++i) {
        ignored[i] = i % 5 == 3;
        target_weight[i] = ignored[i] ? 0.0f : w[targets[i]];
      }
      for (bool logits : {false, true}) {
        for (bool smooth : {false, true}) {
          if (smooth && !logits) continue;
          const std::string what = "rows " + std::to_string(rows) + ", classes " + std::to_string(classes) +
                                   (logits ? ", logits" : ", log-probabilities") + (smooth ? ", smoothing" : "");
          double class_weight_sum = 0;
          for (float v : w) class_weight_sum += v;
          const nn::kernels::ClassLoss p{.rows = rows,
                                         .classes = classes,
                                         .logits = logits,
                                         .targets = targets.data(),
                                         .ignored = ignored.data(),
                                         .target_weight = target_weight.data(),
                                         .class_weights = w.data(),
                                         .class_weight_sum = class_weight_sum,
                                         .a = 0.9 / 7,
                                         .b = smooth ? 0.1 / 7 : 0.0};
          Floats lse_a(rows), lse_b(rows), gxa(rows * classes, 5.0f), gxb(rows * classes, 6.0f);
          std::vector<double> ra(rows), rb(rows);
          cpu().class_loss_rows(p, x.data(), lse_a.data(), ra.data());
          ref().class_loss_rows(p, x.data(), lse_b.data(), rb.data());
          if (logits) check_near(lse_a, lse_b, 1e-6, 1e-6, "lse, " + what);
          for (int64_t i = 0; i < rows; ++i) {
            INFO(what << ", row " << i);
            CHECK(ra[i] == doctest::Approx(rb[i]).epsilon(1e-5).scale(1.0));
          }
          for (int64_t stride : {int64_t{0}, int64_t{1}}) {
            cpu().class_loss_rows_backward(p, g.data(), stride, x.data(), lse_b.data(), gxa.data());
            ref().class_loss_rows_backward(p, g.data(), stride, x.data(), lse_b.data(), gxb.data());
            check_near(gxa, gxb, 1e-5, 1e-7, "gx, stride " + std::to_string(stride) + ", " + what);
          }
        }
      }
    }
  }
}

TEST_CASE("layer_norm_rows: the reference normalises each row by hand-worked statistics") {
  // Row (1, 3): μ = 2, σ² = 1, ε = 0 → x̂ = (−1, 1); γ = (2, 1), β = (0, 10) → y = (−2, 11).
  const Floats x{1, 3}, gamma{2, 1}, beta{0, 10};
  const nn::kernels::RowNorm p{.rows = 1, .width = 2, .gamma = gamma.data(), .beta = beta.data()};
  Floats y(2);
  double mean = 0, inv_std = 0;
  ref().layer_norm_rows(p, x.data(), y.data(), &mean, &inv_std);
  CHECK(mean == 2.0);
  CHECK(inv_std == 1.0);
  CHECK(y == Floats{-2, 11});
  // dy = (1, 0): g = dy·γ = (2, 0), mean g = 1, mean g·x̂ = −1 → dx = (2 − 1 − 1, 0 − 1 + 1) = (0, 0);
  // Σ dy·x̂ = (−1, 0), Σ dy = (1, 0).
  const Floats dy{1, 0};
  Floats dx(2, 7.0f);
  double sum_dy_x_hat[2], sum_dy[2];
  ref().layer_norm_rows_backward(p, x.data(), dy.data(), &mean, &inv_std, dx.data(), sum_dy_x_hat, sum_dy);
  check_near(dx, {0, 0}, 0, 1e-12, "dx");
  CHECK(sum_dy_x_hat[0] == -1.0);
  CHECK(sum_dy_x_hat[1] == 0.0);
  CHECK(sum_dy[0] == 1.0);
  CHECK(sum_dy[1] == 0.0);
}

TEST_CASE("layer_norm_rows forward and backward: cpu matches the reference, with and without γ and β") {
  std::mt19937 rng(29);
  for (int64_t rows : kCounts) {
    for (int64_t width : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{1031}}) {
      const Floats x = random_floats(rows * width, rng, -3.0f, 5.0f), dy = random_floats(rows * width, rng);
      const Floats gamma = random_floats(width, rng), beta = random_floats(width, rng);
      for (bool affine : {false, true}) {
        const std::string what =
            "rows " + std::to_string(rows) + ", width " + std::to_string(width) + (affine ? ", affine" : "");
        const nn::kernels::RowNorm p{.rows = rows,
                                     .width = width,
                                     .epsilon = 1e-5f,
                                     .gamma = affine ? gamma.data() : nullptr,
                                     .beta = affine ? beta.data() : nullptr};
        Floats ya(rows * width), yb(rows * width), dxa(rows * width), dxb(rows * width);
        std::vector<double> ma(rows), sa(rows), mb(rows), sb(rows), ga(width), ba(width), gb(width), bb(width);
        cpu().layer_norm_rows(p, x.data(), ya.data(), ma.data(), sa.data());
        ref().layer_norm_rows(p, x.data(), yb.data(), mb.data(), sb.data());
        check_near(ya, yb, 1e-5, 1e-5, "y, " + what);
        cpu().layer_norm_rows_backward(p, x.data(), dy.data(), mb.data(), sb.data(), dxa.data(), ga.data(), ba.data());
        ref().layer_norm_rows_backward(p, x.data(), dy.data(), mb.data(), sb.data(), dxb.data(), gb.data(), bb.data());
        check_near(dxa, dxb, 1e-4, 1e-4, "dx, " + what);
        for (int64_t j = 0; j < width; ++j) {
          INFO(what << ", column " << j);
          CHECK(ga[j] == doctest::Approx(gb[j]).epsilon(1e-9).scale(1.0));
          CHECK(ba[j] == doctest::Approx(bb[j]).epsilon(1e-9).scale(1.0));
        }
      }
    }
  }
}

namespace {

// One LSTM step's inputs inside a sequence (N, T, ·) at step t > 0, so that every stride differs from a row.
struct LstmCase {
  nn::kernels::LstmStep s;
  Floats gates, c_prev, h_prev, c, h, mask;
};

LstmCase lstm_case(int64_t rows, int64_t units, bool hard, bool masked, std::mt19937& rng) {
  const int64_t t = 3;
  LstmCase k;
  k.s = {.rows = rows,
         .units = units,
         .gate_stride = t * 4 * units,
         .state_stride = t * units,
         .prev_stride = t * units,
         .hard_sigmoid = hard};
  k.gates = random_floats(rows * t * 4 * units, rng, -4.0f, 4.0f);
  k.c_prev = random_floats(rows * t * units, rng, -2.0f, 2.0f);
  k.h_prev = random_floats(rows * t * units, rng);
  k.c = Floats(rows * t * units, 0.0f);
  k.h = Floats(rows * t * units, 0.0f);
  if (masked) {
    for (int64_t n = 0; n < rows; ++n) k.mask.push_back(n % 3 == 1 ? 0.0f : 1.0f);
  }
  return k;
}

void run_forward(const nn::Backend& be, LstmCase& k) {
  const int64_t off = 4 * k.s.units, state = k.s.units;  // step 1 of the sequence, previous step 0
  be.lstm_step_forward(k.s, k.mask.empty() ? nullptr : k.mask.data(), k.gates.data() + off, k.c_prev.data(),
                       k.h_prev.data(), k.c.data() + state, k.h.data() + state);
}

}  // namespace

TEST_CASE("lstm_step_forward: the reference gives the hand-worked values, masked rows keep their state") {
  // Row 0: z = 0 → i = f = o = 0.5, g = 0, c = 0.5·1 = 0.5, h = 0.5·tanh(0.5). Row 1 masked.
  nn::kernels::LstmStep s{.rows = 2, .units = 1, .gate_stride = 4, .state_stride = 1, .prev_stride = 1};
  Floats gates{0, 0, 0, 0, 1, 2, 3, 4}, c_prev{1, 7}, h_prev{0.5f, 8}, c(2), h(2);
  const Floats mask{1, 0};
  ref().lstm_step_forward(s, mask.data(), gates.data(), c_prev.data(), h_prev.data(), c.data(), h.data());
  check_near(gates, {0.5f, 0.5f, 0, 0.5f, 0, 0, 0, 0}, 1e-7, 0, "gates");
  check_near(c, {0.5f, 7}, 1e-7, 0, "c");
  check_near(h, {0.23105857863f, 8}, 1e-7, 0, "h");
  // Keras's hard sigmoid: z = (1, −3, 0.5, 10) → i = 0.7, f = 0, g = tanh 0.5, o = 1; c = 0.7·tanh 0.5.
  s.rows = 1;
  s.hard_sigmoid = true;
  gates = {1, -3, 0.5f, 10};
  ref().lstm_step_forward(s, nullptr, gates.data(), c_prev.data(), h_prev.data(), c.data(), h.data());
  check_near(gates, {0.7f, 0, 0.46211715726f, 1}, 1e-6, 0, "hard gates");
  CHECK(c[0] == doctest::Approx(0.32348201008).epsilon(1e-6));
  CHECK(h[0] == doctest::Approx(0.31265197161).epsilon(1e-6));
}

TEST_CASE("lstm_step_backward: the reference equals finite differences of the forward") {
  // L = Σ dh·h + Σ dc·c of one step; d_gates = ∂L/∂z, dc_out = ∂L/∂c_prev.
  std::mt19937 rng(5);
  const int64_t units = 3;
  nn::kernels::LstmStep s{
      .rows = 1, .units = units, .gate_stride = 4 * units, .state_stride = units, .prev_stride = units};
  const Floats z = random_floats(4 * units, rng, -2.0f, 2.0f), c_prev = random_floats(units, rng);
  const Floats h_prev = random_floats(units, rng), dh_in = random_floats(units, rng), dc_in = random_floats(units, rng);
  auto loss = [&](const Floats& zz, const Floats& cp) {
    Floats gates = zz, c(units), h(units);
    ref().lstm_step_forward(s, nullptr, gates.data(), cp.data(), h_prev.data(), c.data(), h.data());
    double total = 0;
    for (int64_t j = 0; j < units; ++j) total += static_cast<double>(dh_in[j]) * h[j] + dc_in[j] * c[j];
    return total;
  };
  Floats gates = z, c(units), h(units);
  ref().lstm_step_forward(s, nullptr, gates.data(), c_prev.data(), h_prev.data(), c.data(), h.data());
  Floats dh = dh_in, dc = dc_in, d_gates(4 * units);
  ref().lstm_step_backward(s, nullptr, gates.data(), c.data(), c_prev.data(), dh.data(), dc.data(), d_gates.data());
  const float eps = 1e-2f;
  Floats numeric(4 * units), numeric_c(units);
  for (int64_t i = 0; i < 4 * units; ++i) {
    Floats plus = z, minus = z;
    plus[i] += eps;
    minus[i] -= eps;
    numeric[i] = static_cast<float>((loss(plus, c_prev) - loss(minus, c_prev)) / (2.0 * eps));
  }
  for (int64_t j = 0; j < units; ++j) {
    Floats plus = c_prev, minus = c_prev;
    plus[j] += eps;
    minus[j] -= eps;
    numeric_c[j] = static_cast<float>((loss(z, plus) - loss(z, minus)) / (2.0 * eps));
  }
  check_near(d_gates, numeric, 1e-3, 1e-4, "d_gates");
  check_near(dc, numeric_c, 1e-3, 1e-4, "dc");
  CHECK(dh == Floats(units, 0.0f));
}

TEST_CASE("lstm_step forward and backward: cpu matches the reference, masked rows and hard sigmoid included") {
  std::mt19937 rng(13);
  for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{33}}) {
    for (int64_t units : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{130}}) {
      for (bool hard : {false, true}) {
        for (bool masked : {false, true}) {
          const std::string what = "rows " + std::to_string(rows) + ", units " + std::to_string(units) +
                                   (hard ? ", hard" : "") + (masked ? ", masked" : "");
          LstmCase a = lstm_case(rows, units, hard, masked, rng);
          LstmCase b = a;
          run_forward(cpu(), a);
          run_forward(ref(), b);
          check_near(a.gates, b.gates, 1e-5, 1e-6, "gates, " + what);
          check_near(a.c, b.c, 1e-5, 1e-6, "c, " + what);
          check_near(a.h, b.h, 1e-5, 1e-6, "h, " + what);
          // The backward of the same step from the reference's saved activations, dh and dc packed (N,U).
          const Floats dh = random_floats(rows * units, rng), dc = random_floats(rows * units, rng);
          Floats dh_a = dh, dc_a = dc, dh_b = dh, dc_b = dc;
          Floats dz_a(b.gates.size(), 5.0f), dz_b(b.gates.size(), 5.0f);
          const int64_t off = 4 * units, state = units;
          const float* mask = b.mask.empty() ? nullptr : b.mask.data();
          cpu().lstm_step_backward(b.s, mask, b.gates.data() + off, b.c.data() + state, b.c_prev.data(), dh_a.data(),
                                   dc_a.data(), dz_a.data() + off);
          ref().lstm_step_backward(b.s, mask, b.gates.data() + off, b.c.data() + state, b.c_prev.data(), dh_b.data(),
                                   dc_b.data(), dz_b.data() + off);
          check_near(dz_a, dz_b, 1e-5, 1e-6, "d_gates, " + what);
          check_near(dh_a, dh_b, 0, 0, "dh, " + what);
          check_near(dc_a, dc_b, 1e-5, 1e-6, "dc, " + what);
          for (int64_t n = 0; n < rows && masked; ++n) {
            if (b.mask[n] != 0.0f) continue;
            INFO(what << ", masked row " << n);
            for (int64_t j = 0; j < units; ++j) {
              CHECK(b.h[n * b.s.state_stride + state + j] == b.h_prev[n * b.s.prev_stride + j]);
              CHECK(dh_b[n * units + j] == dh[n * units + j]);
              CHECK(dc_b[n * units + j] == dc[n * units + j]);
              CHECK(dz_b[n * b.s.gate_stride + off + j] == 0.0f);
            }
          }
        }
      }
    }
  }
}

namespace {

struct OneParameter : nn::Module {
  OneParameter() { w = register_parameter("w", nn::Tensor::from_data({1}, {0})); }
  std::string to_string() const override { return "OneParameter"; }
  nn::Tensor w;
};

// The state with its step counts (the optimiser's and the parameter's) replaced by `count`.
nn::NamedTensors with_count(nn::NamedTensors state, int64_t count) {
  for (auto& [name, t] : state) {
    if (name == "step" || name == "step.w") t = nn::detail::count_tensor(count);
  }
  return state;
}

}  // namespace

TEST_CASE("Adam's step counts above 2^24 survive state() and load_state() exactly and drive the bias correction") {
  // β = 1 − 2^-24 (the float closest below 1) keeps βᵗ far from 0 near t = 2^24: bc = 1 − βᵗ ≈ 1 − e⁻¹ there,
  // whereas a count that lost its high half (t = 4) would give bc ≈ 2.4e-7 and a step 10^6 times larger.
  const float beta = 1.0f - 1.0f / 16777216.0f;
  for (int64_t count : {(int64_t{1} << 24) + 3, (int64_t{1} << 40) + 5}) {
    INFO("count " << count);
    OneParameter holder;
    nn::Adam adam(
        holder.named_parameters(),
        {.lr = 1.0f, .beta1 = beta, .beta2 = beta, .epsilon = 0.0f, .epsilon_placement = nn::AdamEpsilon::pytorch});
    adam.load_state(with_count(adam.state(), count));
    CHECK(adam.steps() == count);
    CHECK(adam.parameter_steps(0) == count);
    // Round trip through the saved form.
    nn::Adam again(holder.named_parameters(), {.lr = 1.0f});
    again.load_state(adam.state());
    CHECK(again.steps() == count);
    CHECK(again.parameter_steps(0) == count);

    nn::sum(nn::mul(holder.w, nn::Tensor::from_data({1}, {1}))).backward();  // g = 1
    adam.step();
    CHECK(adam.parameter_steps(0) == count + 1);
    // m = (1 − β1)·g, v = (1 − β2)·g², ε = 0: θ = −lr/bc1·(1 − β1) / (√(1 − β2) / √bc2), at t = count + 1.
    const double t = static_cast<double>(count + 1), b = beta;
    const double bc = 1.0 - std::pow(b, t);
    const double expected = -(1.0 - b) / bc / (std::sqrt(1.0 - b) / std::sqrt(bc));
    CHECK(holder.w.data()[0] == doctest::Approx(expected).epsilon(1e-5));
  }
}

TEST_CASE(
    "embedding, softmax_cross_entropy, layer_norm, the losses and lstm take bf16 inputs through the conversion path") {
  // Each op on bf16 inputs gives the bf16 result of the same op on those values in f32; gradients flow back.
  nn::Generator gen(41);
  const Tensor weight32 = Tensor::randn({5, 3}, gen).to(nn::DType::bf16).to(nn::DType::f32);
  const nn::Indices ids({2, 2}, {4, 0, 4, 1});
  Tensor leaf = weight32.clone().set_requires_grad();  // f32: the gradient comes back through the bf16 conversions
  Tensor out = nn::embedding(leaf.to(nn::DType::bf16), ids);
  CHECK(out.dtype() == nn::DType::bf16);
  test::check_close(out.to(nn::DType::f32), nn::embedding(weight32, ids), 0, 0, "embedding");
  nn::sum(out.to(nn::DType::f32)).backward();
  REQUIRE(leaf.grad().defined());
  // Row 4 is picked twice, row 0 and row 1 once, rows 2 and 3 never.
  test::check_close(leaf.grad(), {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2}, 0, 0, "embedding gradient");

  const Tensor logits32 = Tensor::randn({4, 6}, gen).to(nn::DType::bf16).to(nn::DType::f32);
  const nn::Indices targets({4}, {5, 0, 2, 2});
  Tensor loss = nn::softmax_cross_entropy(logits32.to(nn::DType::bf16), targets);
  CHECK(loss.dtype() == nn::DType::bf16);
  CHECK(loss.to(nn::DType::f32).item() ==
        doctest::Approx(nn::softmax_cross_entropy(logits32, targets).item()).epsilon(1e-2));
  Tensor ce = nn::cross_entropy(logits32.to(nn::DType::bf16), targets, {.label_smoothing = 0.1f});
  CHECK(ce.dtype() == nn::DType::bf16);
  CHECK(ce.to(nn::DType::f32).item() ==
        doctest::Approx(nn::cross_entropy(logits32, targets, {.label_smoothing = 0.1f}).item()).epsilon(1e-2));

  Tensor normed = nn::layer_norm(logits32.to(nn::DType::bf16), {6});
  CHECK(normed.dtype() == nn::DType::bf16);
  test::check_close(normed.to(nn::DType::f32), nn::layer_norm(logits32, {6}), 1e-2, 1e-2, "layer_norm");

  // The LSTM: every output in bf16, equal to the f32 LSTM on the same (rounded) values to bf16's precision.
  auto rounded = [&gen](const nn::Shape& shape) {
    return Tensor::uniform(shape, -0.5f, 0.5f, gen).to(nn::DType::bf16).to(nn::DType::f32);
  };
  const Tensor x = rounded({2, 3, 4});
  const nn::LstmWeights w{rounded({4, 8}), rounded({2, 8}), rounded({8})};
  const nn::LstmResult f32 = nn::lstm(x, w);
  const auto bf16 = [](const Tensor& t) { return t.to(nn::DType::bf16); };
  const nn::LstmResult low = nn::lstm(bf16(x), {bf16(w.kernel), bf16(w.recurrent_kernel), bf16(w.bias)});
  CHECK(low.outputs.dtype() == nn::DType::bf16);
  CHECK(low.c.dtype() == nn::DType::bf16);
  test::check_close(low.outputs.to(nn::DType::f32), f32.outputs, 1e-2, 1e-3, "lstm outputs");
  test::check_close(low.c.to(nn::DType::f32), f32.c, 1e-2, 1e-3, "lstm c");
}

TEST_CASE("batch norm's channel sums: cpu equals the reference, and gives the same bits on 1 and 2 threads") {
  // 3,000 rows × 37 channels: past the threading threshold, in six chunks of 512 rows (channel_sums.h).
  std::mt19937 rng(31);
  const int64_t rows = 3000, c = 37;
  const Floats x = random_floats(rows * c, rng, -3.0f, 5.0f), dy = random_floats(rows * c, rng);
  const Floats gamma = random_floats(c, rng, 0.5f, 2.0f);
  auto moments = [&](const nn::Backend& be) {
    std::vector<double> mean(c), variance(c);
    be.channel_moments(rows, c, x.data(), mean.data(), variance.data());
    return std::pair{mean, variance};
  };
  auto backward = [&](const nn::Backend& be, const Floats& mean, const Floats& inv_std, bool training = true) {
    Floats dx(rows * c), dgamma(c), dbeta(c);
    const nn::kernels::BatchNormBackward p{.rows = rows,
                                           .channels = c,
                                           .training = training,
                                           .mean = mean.data(),
                                           .inv_std = inv_std.data(),
                                           .gamma = gamma.data()};
    be.batch_norm_backward(p, x.data(), dy.data(), dx.data(), dgamma.data(), dbeta.data());
    return std::tuple{dx, dgamma, dbeta};
  };
  const int before = nn::num_threads();
  nn::set_num_threads(1);
  const auto [mean1, var1] = moments(cpu());
  Floats mean(c), inv_std(c);
  for (int64_t j = 0; j < c; ++j) {
    mean[j] = static_cast<float>(mean1[j]);
    inv_std[j] = static_cast<float>(1.0 / std::sqrt(var1[j] + 1e-3));
  }
  const auto one = backward(cpu(), mean, inv_std);
  nn::set_num_threads(2);
  const auto [mean2, var2] = moments(cpu());
  const auto two = backward(cpu(), mean, inv_std);
  nn::set_num_threads(before);
  CHECK(mean1 == mean2);
  CHECK(var1 == var2);
  CHECK(std::get<0>(one) == std::get<0>(two));
  CHECK(std::get<1>(one) == std::get<1>(two));
  CHECK(std::get<2>(one) == std::get<2>(two));
  const auto [mean_ref, var_ref] = moments(ref());
  for (int64_t j = 0; j < c; ++j) {
    CHECK(mean1[j] == doctest::Approx(mean_ref[j]).epsilon(1e-12));
    CHECK(var1[j] == doctest::Approx(var_ref[j]).epsilon(1e-12));
  }
  const auto want = backward(ref(), mean, inv_std);
  check_near(std::get<0>(one), std::get<0>(want), 2e-6, 1e-7, "dx");
  check_near(std::get<1>(one), std::get<1>(want), 1e-5, 1e-5, "dgamma");
  check_near(std::get<2>(one), std::get<2>(want), 1e-5, 1e-5, "dbeta");
  // With the moving statistics (eval mode) dx has no terms through the mean and variance.
  check_near(std::get<0>(backward(cpu(), mean, inv_std, false)), std::get<0>(backward(ref(), mean, inv_std, false)),
             1e-6, 1e-7, "dx with the moving statistics");
}
