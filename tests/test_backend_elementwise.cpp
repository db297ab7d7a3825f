// The elementwise primitives of the backend table (axpy, map, map_backward, zip, select, reduce, arg_reduce,
// softmax_rows and its backward): the cpu backend against the reference on random data of odd sizes (0, 1, 7, 33,
// above 1000, and above the thread thresholds) and broadcasts with extent-1 axes; the reference against values
// worked out by hand, so that the oracle itself can fail.
#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nn/backends/backend.h>
#include <nn/backends/cpu/rows_fast.h>
#include <nn/backends/ref/loops.h>
#include <nn/core/threads.h>

#include "support/check.h"

namespace {

using Floats = std::vector<float>;
using nn::bfloat16;
using nn::DType;
using nn::kernels::Binary;
using nn::kernels::Broadcast;
using nn::kernels::Reduce;
using nn::kernels::RowSoftmax;
using nn::kernels::Unary;
using nn::kernels::UnaryCall;
using Halves = std::vector<bfloat16>;

const nn::Backend& cpu = nn::cpu_backend();
const nn::Backend& ref = nn::ref_backend();

constexpr int64_t kSizes[] = {0, 1, 7, 33, 1031, 70001};  // the last above every thread threshold

Floats random_floats(int64_t n, std::mt19937& rng, float low = -3.0f, float high = 3.0f) {
  std::uniform_real_distribution<float> dist(low, high);
  Floats out(static_cast<size_t>(n));
  for (float& v : out) v = dist(rng);
  return out;
}

// Every element of `actual` equal to `expected` or within atol + rtol·|expected| (NaN only against NaN); reports the
// first offender.
void check_near(const Floats& actual, const Floats& expected, double rtol, double atol, const std::string& what) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == expected[i] || (std::isnan(expected[i]) && std::isnan(actual[i]))) continue;  // ±inf too
    const double err = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(err <= atol + rtol * std::fabs(static_cast<double>(expected[i])))) {
      FAIL_CHECK(what << ": element " << i << " is " << actual[i] << ", expected " << expected[i]);
      return;
    }
  }
}

struct UnaryCase {
  const char* name;
  UnaryCall f;
  float low, high;  // the domain drawn from
};

// Every Unary, each on a domain where it is defined.
const UnaryCase kUnaryCases[] = {
    {"neg", {Unary::neg}, -3, 3},
    {"exp", {Unary::exp}, -3, 3},
    {"log", {Unary::log}, 0.01f, 5},
    {"sqrt", {Unary::sqrt}, 0.01f, 5},
    {"rsqrt", {Unary::rsqrt}, 0.01f, 5},
    {"abs", {Unary::abs}, -3, 3},
    {"pow", {Unary::pow, 2.5f}, 0.01f, 3},
    {"clamp", {Unary::clamp, -1.0f, 0.5f}, -3, 3},
    {"add_scalar", {Unary::add_scalar, 1.5f}, -3, 3},
    {"mul_scalar", {Unary::mul_scalar, -0.75f}, -3, 3},
    {"div_scalar_by", {Unary::div_scalar_by, 2.0f}, 0.1f, 3},
    {"relu", {Unary::relu}, -3, 3},
    {"sigmoid", {Unary::sigmoid}, -6, 6},
    {"hard_sigmoid", {Unary::hard_sigmoid}, -4, 4},
    {"tanh", {Unary::tanh}, -3, 3},
    {"leaky_relu", {Unary::leaky_relu, 0.1f}, -3, 3},
    {"elu", {Unary::elu, 0.7f}, -3, 3},
    {"gelu", {Unary::gelu}, -4, 4},
    {"silu", {Unary::silu}, -6, 6},
};

// ref.map of one value.
float ref_map(UnaryCall f, float x) {
  float y = 0;
  ref.map(f, DType::f32, 1, &x, &y);
  return y;
}

// ref.map_backward of one value with g = 1 (the derivative), y from ref.map.
float ref_derivative(UnaryCall f, float x) {
  float y = ref_map(f, x), g = 1, gx = 0;
  ref.map_backward(f, 1, &x, &y, &g, &gx);
  return gx;
}

// Row-major strides of `shape` broadcast onto `out` (same rank): 0 where `shape` is 1.
std::vector<int64_t> strides_onto(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> strides(shape.size());
  int64_t step = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    strides[k] = shape[k] == 1 && out[k] != 1 ? 0 : step;
    step *= shape[k];
  }
  return strides;
}

int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The Broadcast of a (shape_a) and b (shape_b) onto their broadcast shape; all three of one rank.
Broadcast broadcast(const std::vector<int64_t>& shape_a, const std::vector<int64_t>& shape_b) {
  Broadcast s;
  s.rank = static_cast<int>(shape_a.size());
  std::vector<int64_t> out(shape_a.size());
  for (size_t k = 0; k < out.size(); ++k) out[k] = shape_a[k] == 1 ? shape_b[k] : shape_a[k];
  std::vector<int64_t> sa = strides_onto(shape_a, out), sb = strides_onto(shape_b, out);
  for (int k = 0; k < s.rank; ++k) {
    s.shape[k] = out[k];
    s.stride_a[k] = sa[k];
    s.stride_b[k] = sb[k];
  }
  return s;
}

const Binary kBinaries[] = {Binary::add,     Binary::sub,     Binary::mul, Binary::div, Binary::pow,
                            Binary::minimum, Binary::maximum, Binary::eq,  Binary::ne,  Binary::lt,
                            Binary::le,      Binary::gt,      Binary::ge};

}  // namespace

TEST_CASE("axpy: the reference adds α·x, cpu equals it") {
  Floats y{1, 2};
  ref.axpy(2, 2.0f, Floats{3, 4}.data(), y.data());
  CHECK(y == Floats{7, 10});
  std::mt19937 rng(1);
  for (int64_t n : kSizes) {
    Floats x = random_floats(n, rng), y0 = random_floats(n, rng), y_cpu = y0, y_ref = y0;
    cpu.axpy(n, -0.5f, x.data(), y_cpu.data());
    ref.axpy(n, -0.5f, x.data(), y_ref.data());
    check_near(y_cpu, y_ref, 0, 0, "axpy n=" + std::to_string(n));
  }
}

TEST_CASE("map: the reference matches values worked out by hand") {
  CHECK(ref_map({Unary::neg}, 2) == -2);
  CHECK(ref_map({Unary::exp}, 1) == doctest::Approx(2.7182818));
  CHECK(ref_map({Unary::log}, 1) == 0);
  CHECK(ref_map({Unary::sqrt}, 9) == 3);
  CHECK(ref_map({Unary::rsqrt}, 4) == 0.5f);
  CHECK(ref_map({Unary::abs}, -3) == 3);
  CHECK(ref_map({Unary::pow, 3}, 2) == 8);
  CHECK(ref_map({Unary::clamp, -1, 1}, 5) == 1);
  CHECK(ref_map({Unary::clamp, -1, 1}, -5) == -1);
  CHECK(std::isnan(ref_map({Unary::clamp, -1, 1}, NAN)));
  CHECK(ref_map({Unary::add_scalar, 2}, 3) == 5);
  CHECK(ref_map({Unary::mul_scalar, 2}, 3) == 6);
  CHECK(ref_map({Unary::div_scalar_by, 1}, 4) == 0.25f);
  CHECK(ref_map({Unary::relu}, -1) == 0);
  CHECK(ref_map({Unary::relu}, 2) == 2);
  CHECK(ref_map({Unary::sigmoid}, 0) == 0.5f);
  CHECK(ref_map({Unary::hard_sigmoid}, 1) == doctest::Approx(0.7));
  CHECK(ref_map({Unary::hard_sigmoid}, 10) == 1);
  CHECK(ref_map({Unary::tanh}, 0.5f) == doctest::Approx(0.46211716));
  CHECK(ref_map({Unary::leaky_relu, 0.1f}, -2) == doctest::Approx(-0.2));
  CHECK(ref_map({Unary::elu, 1}, -1) == doctest::Approx(-0.63212056));
  CHECK(ref_map({Unary::gelu}, 1) == doctest::Approx(0.84134475));  // Φ(1) = 0.84134475
  CHECK(ref_map({Unary::silu}, 1) == doctest::Approx(0.73105858));
}

TEST_CASE("map_backward: the reference matches derivatives worked out by hand") {
  CHECK(ref_derivative({Unary::neg}, 2) == -1);
  CHECK(ref_derivative({Unary::exp}, 1) == doctest::Approx(2.7182818));
  CHECK(ref_derivative({Unary::log}, 4) == 0.25f);
  CHECK(ref_derivative({Unary::sqrt}, 4) == 0.25f);
  CHECK(ref_derivative({Unary::rsqrt}, 4) == -0.0625f);  // −½·x^(−3/2)
  CHECK(ref_derivative({Unary::abs}, -3) == -1);
  CHECK(ref_derivative({Unary::abs}, 0) == 0);
  CHECK(ref_derivative({Unary::pow, 3}, 2) == 12);
  CHECK(ref_derivative({Unary::pow, 0}, 2) == 0);
  CHECK(ref_derivative({Unary::clamp, -1, 1}, 0.5f) == 1);
  CHECK(ref_derivative({Unary::clamp, -1, 1}, 2) == 0);
  CHECK(ref_derivative({Unary::add_scalar, 7}, 2) == 1);
  CHECK(ref_derivative({Unary::mul_scalar, 7}, 2) == 7);
  CHECK(ref_derivative({Unary::div_scalar_by, 2}, 4) == -0.125f);  // −2/x²
  CHECK(ref_derivative({Unary::relu}, -1) == 0);
  CHECK(ref_derivative({Unary::relu}, 3) == 1);
  CHECK(ref_derivative({Unary::sigmoid}, 0) == 0.25f);
  CHECK(ref_derivative({Unary::hard_sigmoid}, 0) == doctest::Approx(0.2));
  CHECK(ref_derivative({Unary::hard_sigmoid}, 5) == 0);
  CHECK(ref_derivative({Unary::tanh}, 0) == 1);
  CHECK(ref_derivative({Unary::leaky_relu, 0.1f}, -1) == doctest::Approx(0.1));
  CHECK(ref_derivative({Unary::elu, 1}, -1) == doctest::Approx(0.36787944));
  CHECK(ref_derivative({Unary::gelu}, 0) == 0.5f);
  CHECK(ref_derivative({Unary::gelu}, 1) == doctest::Approx(1.0833155));  // Φ(1) + φ(1)
  CHECK(ref_derivative({Unary::silu}, 0) == 0.5f);
}

TEST_CASE("map and map_backward: cpu equals the reference for every function and size") {
  std::mt19937 rng(2);
  for (const UnaryCase& c : kUnaryCases) {
    for (int64_t n : kSizes) {
      const std::string what = std::string(c.name) + " n=" + std::to_string(n);
      Floats x = random_floats(n, rng, c.low, c.high), g = random_floats(n, rng);
      Floats y_cpu(n), y_ref(n);
      cpu.map(c.f, DType::f32, n, x.data(), y_cpu.data());
      ref.map(c.f, DType::f32, n, x.data(), y_ref.data());
      check_near(y_cpu, y_ref, 2e-6, 1e-6, "map " + what);
      Floats gx_cpu(n), gx_ref(n);  // both from the reference's y
      cpu.map_backward(c.f, n, x.data(), y_ref.data(), g.data(), gx_cpu.data());
      ref.map_backward(c.f, n, x.data(), y_ref.data(), g.data(), gx_ref.data());
      check_near(gx_cpu, gx_ref, 1e-5, 1e-6, "map_backward " + what);
    }
  }
}

TEST_CASE("map: y may be x") {
  Floats x{-1, 2, -3};
  cpu.map({Unary::relu}, DType::f32, 3, x.data(), x.data());
  CHECK(x == Floats{0, 2, 0});
}

TEST_CASE("zip: the reference broadcasts and compares as worked out by hand") {
  Floats y(4);
  ref.zip(Binary::add, DType::f32, broadcast({1, 2}, {2, 1}), Floats{1, 2}.data(), Floats{10, 20}.data(), y.data());
  CHECK(y == Floats{11, 12, 21, 22});
  ref.zip(Binary::sub, DType::f32, broadcast({2, 2}, {1, 1}), Floats{1, 2, 3, 4}.data(), Floats{1}.data(), y.data());
  CHECK(y == Floats{0, 1, 2, 3});
  ref.zip(Binary::lt, DType::f32, broadcast({4}, {4}), Floats{1, 2, 3, NAN}.data(), Floats{2, 2, 2, 2}.data(),
          y.data());
  CHECK(y == Floats{1, 0, 0, 0});
  ref.zip(Binary::maximum, DType::f32, broadcast({4}, {4}), Floats{1, NAN, 3, 0}.data(),
          Floats{2, 2, NAN, -0.5f}.data(), y.data());
  CHECK(y[0] == 2);
  CHECK(std::isnan(y[1]));
  CHECK(std::isnan(y[2]));
  CHECK(y[3] == 0);
  ref.zip(Binary::pow, DType::f32, broadcast({2}, {2}), Floats{2, 9}.data(), Floats{3, 0.5f}.data(), y.data());
  CHECK(y[0] == 8);
  CHECK(y[1] == 3);
}

// Operand shapes for zip: flat runs of every size, then broadcasts with extent-1 axes on either side.
std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> zip_shapes() {
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes;
  for (int64_t n : kSizes) shapes.push_back({{n}, {n}});
  shapes.push_back({{7, 1}, {1, 33}});
  shapes.push_back({{1, 33}, {7, 33}});
  shapes.push_back({{7, 33}, {7, 1}});
  shapes.push_back({{2, 1, 5}, {1, 3, 1}});
  shapes.push_back({{1}, {1031}});
  shapes.push_back({{300, 1, 7}, {1, 40, 7}});  // above the thread threshold, broadcast
  shapes.push_back({{3, 2500}, {1, 2500}});     // rows longer than one bf16 run of 1024
  shapes.push_back({{0, 3}, {1, 3}});
  return shapes;
}

TEST_CASE("zip: cpu equals the reference for every function over flat runs and broadcasts") {
  std::mt19937 rng(3);
  for (Binary op : kBinaries) {
    for (const auto& [shape_a, shape_b] : zip_shapes()) {
      Broadcast s = broadcast(shape_a, shape_b);
      std::vector<int64_t> out(s.shape, s.shape + s.rank);
      Floats a = random_floats(count(shape_a), rng, 0.1f, 3.0f), b = random_floats(count(shape_b), rng, -2.0f, 2.0f);
      for (size_t i = 0; i < a.size() && i < b.size(); i += 3) b[i] = a[i];  // ties for the comparisons
      if (a.size() > 4) a[4] = NAN;
      Floats y_cpu(count(out)), y_ref(count(out));
      cpu.zip(op, DType::f32, s, a.data(), b.data(), y_cpu.data());
      ref.zip(op, DType::f32, s, a.data(), b.data(), y_ref.data());
      check_near(y_cpu, y_ref, op == Binary::pow ? 1e-6 : 0, 0,
                 "zip op " + std::to_string(static_cast<int>(op)) + " shape_a rank " + std::to_string(s.rank) +
                     " numel " + std::to_string(y_ref.size()));
    }
  }
}

TEST_CASE("select: picks a where the mask is not 0 (NaN counts as set), cpu equals the reference") {
  Floats y(4);
  ref.select(4, Floats{1, 0, NAN, -2}.data(), Floats{1, 2, 3, 4}.data(), Floats{5, 6, 7, 8}.data(), y.data());
  CHECK(y == Floats{1, 6, 3, 4});
  std::mt19937 rng(4);
  for (int64_t n : kSizes) {
    Floats m = random_floats(n, rng), a = random_floats(n, rng), b = random_floats(n, rng);
    for (float& v : m) v = v > 0 ? 1.0f : 0.0f;
    Floats y_cpu(n), y_ref(n);
    cpu.select(n, m.data(), a.data(), b.data(), y_cpu.data());
    ref.select(n, m.data(), a.data(), b.data(), y_ref.data());
    check_near(y_cpu, y_ref, 0, 0, "select n=" + std::to_string(n));
  }
}

TEST_CASE("reduce: the reference sums in double, the cpu in float in element order; max and min with NaN winning") {
  Floats y(2);
  ref.reduce(Reduce::sum, 1, 2, 2, Floats{1, 2, 3, 4}.data(), y.data());  // (1, 2, 2) over the middle axis
  CHECK(y == Floats{4, 6});
  ref.reduce(Reduce::max, 2, 2, 1, Floats{1, 5, -3, -4}.data(), y.data());
  CHECK(y == Floats{5, -3});
  ref.reduce(Reduce::min, 1, 2, 2, Floats{1, NAN, 3, 4}.data(), y.data());
  CHECK(y[0] == 1);
  CHECK(std::isnan(y[1]));
  float total = 0;
  const Floats cancelling{1e8f, 1.0f, -1e8f};  // 1 in double, 0 in float
  ref.reduce(Reduce::sum, 1, 3, 1, cancelling.data(), &total);
  CHECK(total == 1);
  cpu.reduce(Reduce::sum, 1, 3, 1, cancelling.data(), &total);
  CHECK(total == 0);  // float in element order: (1e8 + 1) rounds to 1e8
}

TEST_CASE("reduce: cpu equals the reference for every reduction and geometry") {
  std::mt19937 rng(5);
  const int64_t geometries[][3] = {{1, 1031, 1}, {7, 33, 1}, {3, 7, 33}, {2, 300, 5},  {1, 0, 4},
                                   {5, 3, 400},  {1, 1, 1},  {0, 3, 2},  {40, 33, 70}, {1, 70001, 1}};
  for (Reduce op : {Reduce::sum, Reduce::max, Reduce::min}) {
    for (const auto& g : geometries) {
      Floats x = random_floats(g[0] * g[1] * g[2], rng);
      if (x.size() > 10) x[10] = NAN;
      Floats y_cpu(g[0] * g[2]), y_ref(g[0] * g[2]);
      cpu.reduce(op, g[0], g[1], g[2], x.data(), y_cpu.data());
      ref.reduce(op, g[0], g[1], g[2], x.data(), y_ref.data());
      // Exact for max and min; a float sum of `extent` values in [-3, 3] is well within 3e-6·extent of the double one.
      const double atol = op == Reduce::sum ? 3e-6 * static_cast<double>(g[1]) : 0.0;
      check_near(y_cpu, y_ref, op == Reduce::sum ? 1e-6 : 0.0, atol,
                 "reduce " + std::to_string(static_cast<int>(op)) + " (" + std::to_string(g[0]) + "," +
                     std::to_string(g[1]) + "," + std::to_string(g[2]) + ")");
    }
  }
}

TEST_CASE("arg_reduce: the first extreme, or the first NaN; cpu equals the reference") {
  std::vector<int64_t> index(2);
  ref.arg_reduce(Reduce::max, 1, 3, 2, Floats{1, 2, 5, 2, 5, NAN}.data(), index.data());
  CHECK(index == std::vector<int64_t>{1, 2});
  ref.arg_reduce(Reduce::min, 2, 3, 1, Floats{3, 1, 1, NAN, 0, NAN}.data(), index.data());
  CHECK(index == std::vector<int64_t>{1, 0});
  std::mt19937 rng(6);
  const int64_t geometries[][3] = {{1, 1031, 1}, {7, 33, 1}, {3, 7, 33}, {1, 1, 5}, {40, 33, 70}};
  for (Reduce op : {Reduce::max, Reduce::min}) {
    for (const auto& g : geometries) {
      Floats x = random_floats(g[0] * g[1] * g[2], rng);
      for (size_t i = 0; i + 5 < x.size(); i += 7) x[i + 5] = x[i];  // ties
      if (x.size() > 20) x[20] = NAN;
      std::vector<int64_t> i_cpu(g[0] * g[2]), i_ref(g[0] * g[2]);
      cpu.arg_reduce(op, g[0], g[1], g[2], x.data(), i_cpu.data());
      ref.arg_reduce(op, g[0], g[1], g[2], x.data(), i_ref.data());
      CHECK(i_cpu == i_ref);
    }
  }
}

TEST_CASE("softmax_rows: the reference matches values worked out by hand") {
  const Floats x{0, std::log(3.0f), 1000, 1000};  // two rows of 2
  Floats y(4);
  ref.softmax_rows(RowSoftmax::softmax, 2, 2, x.data(), y.data());
  CHECK(y[0] == doctest::Approx(0.25));
  CHECK(y[1] == doctest::Approx(0.75));
  CHECK(y[2] == 0.5f);  // no overflow
  ref.softmax_rows(RowSoftmax::log_softmax, 2, 2, x.data(), y.data());
  CHECK(y[0] == doctest::Approx(std::log(0.25)));
  CHECK(y[3] == doctest::Approx(std::log(0.5)));
  Floats lse(2);
  ref.softmax_rows(RowSoftmax::logsumexp, 2, 2, x.data(), lse.data());
  CHECK(lse[0] == doctest::Approx(std::log(4.0)));
  CHECK(lse[1] == doctest::Approx(1000 + std::log(2.0)));
  // softmax backward y ⊙ (g − Σ g⊙y): y = (¼, ¾), g = (1, 0) → Σ = ¼.
  Floats gx(2);
  ref.softmax_rows_backward(RowSoftmax::softmax, 1, 2, Floats{0.25f, 0.75f}.data(), Floats{1, 0}.data(), gx.data());
  CHECK(gx[0] == doctest::Approx(0.1875));
  CHECK(gx[1] == doctest::Approx(-0.1875));
  // log-softmax backward g − eʸ·Σ g: y = log(¼, ¾), g = (1, 1).
  ref.softmax_rows_backward(RowSoftmax::log_softmax, 1, 2, Floats{std::log(0.25f), std::log(0.75f)}.data(),
                            Floats{1, 1}.data(), gx.data());
  CHECK(gx[0] == doctest::Approx(0.5));
  CHECK(gx[1] == doctest::Approx(-0.5));
}

TEST_CASE("log-softmax keeps a tiny log-probability next to a large logit, on both backends") {
  // log σ(20) = −log(1 + e⁻²⁰) ≈ −2.061e-9: (x − max) − log Σ keeps it, x − (max + log Σ) rounds it to 0.
  const Floats x{20, 0};
  for (const nn::Backend* backend : {&cpu, &ref}) {
    Floats y(2);
    backend->softmax_rows(RowSoftmax::log_softmax, 1, 2, x.data(), y.data());
    CHECK(std::fabs(y[0] / -2.0611536e-9f - 1) < 1e-5);  // relative: doctest's Approx would accept 0
    CHECK(y[1] == -20.0f);
  }
}

TEST_CASE("softmax_rows and its backward: cpu equals the reference for every kind and geometry") {
  std::mt19937 rng(7);
  // The last four are wider than two of the cpu kernels' sum blocks of 2,048: on 2 threads the first two share their
  // blocks over the threads, the last two (more rows) share the rows.
  const int64_t geometries[][2] = {{0, 7}, {1, 1},    {1, 7},    {5, 33},    {3, 1031}, {40, 1031},
                                   {2, 0}, {1, 7579}, {3, 4097}, {16, 2049}, {40, 4100}};
  for (RowSoftmax kind : {RowSoftmax::softmax, RowSoftmax::log_softmax, RowSoftmax::logsumexp}) {
    for (const auto& g : geometries) {
      const int64_t rows = g[0], width = g[1];
      const std::string what = "kind " + std::to_string(static_cast<int>(kind)) + " (" + std::to_string(rows) + "," +
                               std::to_string(width) + ")";
      Floats x = random_floats(rows * width, rng, -8, 8);
      const int64_t out = kind == RowSoftmax::logsumexp ? rows : rows * width;
      Floats y_cpu(out), y_ref(out);
      cpu.softmax_rows(kind, rows, width, x.data(), y_cpu.data());
      ref.softmax_rows(kind, rows, width, x.data(), y_ref.data());
      check_near(y_cpu, y_ref, 1e-5, 1e-7, "softmax_rows " + what);
      if (kind == RowSoftmax::logsumexp) continue;
      Floats grad = random_floats(rows * width, rng), gx_cpu(rows * width), gx_ref(rows * width);
      cpu.softmax_rows_backward(kind, rows, width, y_ref.data(), grad.data(), gx_cpu.data());
      ref.softmax_rows_backward(kind, rows, width, y_ref.data(), grad.data(), gx_ref.data());
      check_near(gx_cpu, gx_ref, 1e-5, 1e-6, "softmax_rows_backward " + what);
    }
  }
}

TEST_CASE("softmax_rows gives the same bits on 1, 2 and 9 threads at every level, however few wide rows share blocks") {
  using nn::kernels::Isa;
  std::mt19937 rng(11);
  struct RestoreThreads {  // also when an assertion throws
    int before = nn::num_threads();
    ~RestoreThreads() { nn::set_num_threads(before); }
  } restore;
  // On one thread every row is summed alone; on two, up to 3 rows share their blocks; on nine, up to 16 (the most).
  // 64 blocks of 2,048 are the most a split takes; a row wider than that takes the row path at any thread count.
  const std::pair<int64_t, int64_t> geometries[] = {{1, 7579},  {3, 4097},   {2, 6000},
                                                    {16, 4100}, {1, 131072}, {1, 131073}};
  // Each level's kernel called directly (this binary runs at the best level only).
  auto check_level = [&]<Isa isa>() {
    for (const auto& [rows, width] : geometries) {
      // Each row's largest logit in its last block and far from the others' (20, 60 or 100, the rest in [−30, 8]),
      // so that a block shifted by another block's or another row's max would overflow or lose its terms.
      Floats x = random_floats(rows * width, rng, -30, 8);
      for (int64_t r = 0; r < rows; ++r) x[r * width + width - 1 - r % 7] = 20.0f + 40.0f * static_cast<float>(r % 3);
      for (RowSoftmax kind : {RowSoftmax::softmax, RowSoftmax::log_softmax, RowSoftmax::logsumexp}) {
        const int64_t out = kind == RowSoftmax::logsumexp ? rows : rows * width;
        const std::string what = "level " + std::to_string(static_cast<int>(isa)) + ", kind " +
                                 std::to_string(static_cast<int>(kind)) + " (" + std::to_string(rows) + "," +
                                 std::to_string(width) + ")";
        Floats expected(out), y_ref(out);
        nn::set_num_threads(1);
        nn::kernels::softmax_rows<isa>(kind, rows, width, x.data(), expected.data());
        ref.softmax_rows(kind, rows, width, x.data(), y_ref.data());
        check_near(expected, y_ref, 1e-5, 1e-7, "softmax_rows " + what);
        for (int threads : {2, 9}) {
          Floats y(out);
          nn::set_num_threads(threads);
          nn::kernels::softmax_rows<isa>(kind, rows, width, x.data(), y.data());
          test::check_same_bits(y, expected, what + ", " + std::to_string(threads) + " threads");
        }
      }
    }
  };
  check_level.template operator()<Isa::scalar>();
  int levels = 1;
  if (nn::kernels::cpu_supports(Isa::avx2)) check_level.template operator()<Isa::avx2>(), ++levels;
  if (nn::kernels::cpu_supports(Isa::avx512)) check_level.template operator()<Isa::avx512>(), ++levels;
  MESSAGE("softmax_rows compared at " << levels << " levels");
}

// ---- bf16 map and zip: each element widened, computed as f32 computes it, rounded once ----

namespace {

Halves to_bf16(const Floats& x) {
  Halves out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = nn::to_bfloat16(x[i]);
  return out;
}

Floats to_f32(const Halves& x) {
  Floats out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = nn::to_float(x[i]);
  return out;
}

}  // namespace

TEST_CASE("map in bf16: the cpu backend gives the f32 function of the widened input rounded once; ref within 1 ulp") {
  std::mt19937 rng(4);
  for (const UnaryCase& c : kUnaryCases) {
    for (int64_t n : kSizes) {
      const std::string what = std::string("bf16 map ") + c.name + " n=" + std::to_string(n);
      const Halves x = to_bf16(random_floats(n, rng, c.low, c.high));
      Floats wide = to_f32(x);
      cpu.map(c.f, DType::f32, n, wide.data(), wide.data());
      const Floats expected = to_f32(to_bf16(wide));
      Halves y_cpu(n), y_ref(n);
      cpu.map(c.f, DType::bf16, n, x.data(), y_cpu.data());
      ref.map(c.f, DType::bf16, n, x.data(), y_ref.data());
      check_near(to_f32(y_cpu), expected, 0, 0, what + " (cpu)");
      check_near(to_f32(y_ref), expected, 1.0 / 128, 1e-30, what + " (ref)");  // one bf16 step: 2⁻⁷ relative
    }
  }
  Halves in_place = to_bf16({-1.5f, 2.25f, -0.0f, 3.0f});
  cpu.map({Unary::relu}, DType::bf16, 4, in_place.data(), in_place.data());
  CHECK(to_f32(in_place) == Floats{0, 2.25f, 0, 3});
  // ReLU works on the bits: special values in the vector body (32 at a time) and the tail give what the f32 relu
  // (x > 0 ? x : 0) gives — NaN of either sign 0, −inf 0, +inf itself, the smallest denormal itself.
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 9.2e-41f, -9.2e-41f, 1.0f, -1.0f};
  Floats x(45);
  for (size_t i = 0; i < x.size(); ++i) x[i] = specials[i % 10];
  Halves y(x.size());
  cpu.map({Unary::relu}, DType::bf16, static_cast<int64_t>(x.size()), to_bf16(x).data(), y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = nn::to_float(nn::to_bfloat16(x[i]));
    INFO("relu of " << v << " at " << i);
    CHECK(std::bit_cast<uint32_t>(nn::to_float(y[i])) == std::bit_cast<uint32_t>(v > 0 ? v : 0.0f));
  }
}

TEST_CASE("zip in bf16: the cpu and ref backends give the f32 result of the widened operands rounded once") {
  std::mt19937 rng(5);
  for (Binary op : kBinaries) {
    for (const auto& [shape_a, shape_b] : zip_shapes()) {
      Broadcast s = broadcast(shape_a, shape_b);
      std::vector<int64_t> out(s.shape, s.shape + s.rank);
      const Halves a = to_bf16(random_floats(count(shape_a), rng, 0.1f, 3.0f));
      const Halves b = to_bf16(random_floats(count(shape_b), rng, -2.0f, 2.0f));
      Floats wide(count(out));
      ref.zip(op, DType::f32, s, to_f32(a).data(), to_f32(b).data(), wide.data());
      const Floats expected = to_f32(to_bf16(wide));
      Halves y_cpu(count(out)), y_ref(count(out));
      cpu.zip(op, DType::bf16, s, a.data(), b.data(), y_cpu.data());
      ref.zip(op, DType::bf16, s, a.data(), b.data(), y_ref.data());
      const std::string what =
          "bf16 zip op " + std::to_string(static_cast<int>(op)) + " numel " + std::to_string(expected.size());
      check_near(to_f32(y_cpu), expected, op == Binary::pow ? 1.0 / 128 : 0, 0, what + " (cpu)");
      check_near(to_f32(y_ref), expected, 0, 0, what + " (ref)");
    }
  }
}
