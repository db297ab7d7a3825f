// Fast GEMM against its naive reference: every transpose combination, edge sizes that leave partial
// micro-tiles, strided leading dimensions, alpha, beta and a bias. The pointwise kernels at every instruction-set level
// this processor runs against theirs; and the level dispatch itself.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nn/backends/cpu/gemm.h>
#include <nn/backends/cpu/isa.h>
#include <nn/backends/cpu/pointwise.h>
#include <nn/backends/ref/loops.h>

#include "support/check.h"

namespace {

struct Case {
  int m, n, k;
};

void check_gemm(bool use_avx512_directly) {
  // Edge sizes; {3, 4100, 9} and {20, 4133, 300} wide: threads take bands of columns, A packed.
  std::vector<Case> cases = {{1, 1, 1},     {13, 31, 7},    {15, 33, 300},  {200, 70, 513},
                             {3, 4100, 9},  {169, 65, 257}, {40, 20, 5000}, {1, 300, 77},
                             {1, 40, 5000}, {3, 700, 256},  {20, 4133, 300}};
  // Narrow (gemm_narrow below AVX-512 when A is not transposed): 1 to 4 vectors of columns, rows not a multiple of
  // the kernel's groups, depths 1 and 64.
  cases.insert(cases.end(), {{515, 4, 27}, {1030, 16, 8}, {771, 17, 36}, {2053, 36, 1}, {601, 64, 64}, {4099, 33, 9}});
  // Long (gemm_long for a transposed A): 1 and 2 vectors, row groups and tails.
  cases.insert(cases.end(), {{27, 4, 5003}, {36, 8, 2048}, {17, 32, 3001}, {64, 20, 2050}});
  // Panels (gemm_panels at the avx2 level when A is not transposed, K ≤ 288 and 32 ≤ N ≤ 768): a last partial panel,
  // rows not a multiple of its groups of 6, K = 288 with more panels than one chunk of 256 KB, K = 0, and narrow N
  // with a depth beyond gemm_narrow's (OpenBLAS's).
  cases.insert(cases.end(), {{515, 70, 100}, {1030, 200, 256}, {515, 300, 288}, {600, 70, 0}, {600, 16, 65}});
  // Column bands (each thread a one-thread OpenBLAS sgemm on its columns below AVX-512: M ≤ 256, N ≥ 512, K ≥ 256):
  // bands of whole vectors and a last one with the rest, two threads (N = 520: one band of 256, one of 264) and the
  // largest team (4133 above).
  cases.insert(cases.end(), {{100, 1030, 260}, {256, 520, 256}, {7, 513, 700}});
  // More than one block of 4,096 columns inside a thread's band (the AVX-512 kernel's second column block).
  cases.push_back({9, 8300, 20});
  // Row blocks of one thread each (M > 168: no thread shares a block) meeting 11 and 14 B panels: the AVX-512 kernel
  // reads A in place below 12 panels (kPackedPanels), with partial row tiles packed, and packs A from 12.
  cases.insert(cases.end(), {{400, 350, 130}, {400, 420, 130}});
  const std::vector<std::pair<float, float>> scalars = {{1.0f, 0.0f}, {1.0f, 1.0f}, {2.0f, 0.5f}};
  nn::Generator gen(3);
  // Leading dimensions 3 wider than needed, so that strides are exercised; then shorter than a stored row (overlapping
  // rows, as the implicit-GEMM convolutions read an image), which BLAS refuses and our kernels take.
  for (bool short_leads : {false, true})
    for (const Case& cs : cases)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
          for (auto [alpha, beta] : scalars)
            for (bool with_bias : {false, true}) {
              // The short leading dimensions with a plain product, and with α = 2, β = 0.5 with and without a bias.
              const bool plain = alpha == 1.0f && beta == 0.0f && !with_bias;
              if (short_leads && alpha == 1.0f && !plain) continue;
              const int row_a = ta ? cs.m : cs.k, row_b = tb ? cs.k : cs.n;  // a stored row's length
              const int lda = short_leads ? row_a / 2 + 1 : row_a + 3, ldb = short_leads ? row_b / 2 + 1 : row_b + 3;
              const int ldc = cs.n + 3;
              // Rows (or columns, transposed) of A and B as stored, each lda / ldb apart, the last one whole.
              const int rows_a = ta ? cs.k : cs.m, rows_b = tb ? cs.n : cs.k;
              nn::Tensor a = nn::Tensor::uniform({std::max(1, (rows_a - 1) * lda + row_a + 1)}, -1, 1, gen);
              nn::Tensor b = nn::Tensor::uniform({std::max(1, (rows_b - 1) * ldb + row_b + 1)}, -1, 1, gen);
              nn::Tensor c0 = nn::Tensor::uniform({cs.m * ldc}, -1, 1, gen);
              nn::Tensor fast = c0.clone(), ref = c0.clone();
              const nn::Tensor bias = nn::Tensor::uniform({cs.n}, -1, 1, gen);
              const float* bias_data = with_bias ? bias.data() : nullptr;
              nn::kernels::GemmShape s{.m = cs.m,
                                       .n = cs.n,
                                       .k = cs.k,
                                       .transpose_a = ta == 1,
                                       .transpose_b = tb == 1,
                                       .lda = lda,
                                       .ldb = ldb,
                                       .ldc = ldc};
              if (use_avx512_directly) {
                nn::kernels::gemm<nn::kernels::Isa::avx512>(s, alpha, a.data(), b.data(), beta, fast.data(), bias_data);
              } else {
                nn::kernels::gemm(s, alpha, a.data(), b.data(), beta, fast.data(), bias_data);
              }
              nn::kernels::gemm_ref(s, alpha, a.data(), b.data(), beta, ref.data());
              if (with_bias) {  // C = α·AB + β·C, then the bias added to every row's columns [0, n)
                for (int i = 0; i < cs.m; ++i)
                  for (int j = 0; j < cs.n; ++j) ref.data()[i * ldc + j] += bias.data()[j];
              }
              test::check_close(fast, ref, 1e-4, 1e-4 * std::sqrt(static_cast<double>(cs.k)),
                                "gemm " + std::to_string(cs.m) + "x" + std::to_string(cs.n) + "x" +
                                    std::to_string(cs.k) + " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                                    " beta=" + std::to_string(beta) + (with_bias ? " with bias" : "") +
                                    (short_leads ? " short leading dimensions" : ""));
            }
}

}  // namespace

TEST_CASE("gemm (the dispatching entry point) agrees with the naive reference") {
  // Two threads whatever the machine or NN_NUM_THREADS: the split-K and wide-band paths run only with a team.
  const int before = nn::num_threads();
  nn::set_num_threads(2);
  check_gemm(false);
  nn::set_num_threads(before);
}

TEST_CASE("the AVX-512 gemm agrees with the naive reference on this processor") {
  if (!nn::kernels::cpu_supports(nn::kernels::Isa::avx512)) {
    MESSAGE("this processor has no AVX-512: gemm uses OpenBLAS, covered by the test above");
    return;
  }
  const int before = nn::num_threads();
  nn::set_num_threads(2);
  check_gemm(true);
  nn::set_num_threads(before);
}

TEST_CASE("the AVX-512 gemm called from inside a parallel region: each thread's product right, side by side") {
  if (!nn::kernels::cpu_supports(nn::kernels::Isa::avx512)) {
    MESSAGE("this processor has no AVX-512");
    return;
  }
  // Inside a region the kernel runs on its caller's thread alone, with that thread's own packing buffers: two threads,
  // each through products of other sizes (its buffers grown while the other's are in use) — A packed (14 panels),
  // read in place (3 panels), a long depth that outside a region the threads would split, A transposed.
  const std::vector<nn::kernels::GemmShape> shapes = {{.m = 400, .n = 420, .k = 130},
                                                      {.m = 200, .n = 70, .k = 513},
                                                      {.m = 40, .n = 20, .k = 5000},
                                                      {.m = 90, .n = 300, .k = 77, .transpose_a = true}};
  nn::Generator gen(21);
  std::vector<nn::Tensor> a, b, ref, out;  // out: thread 0's products, then thread 1's
  for (const auto& s : shapes) {
    a.push_back(nn::Tensor::uniform({int64_t{s.m} * s.k}, -1, 1, gen));
    b.push_back(nn::Tensor::uniform({int64_t{s.k} * s.n}, -1, 1, gen));
    ref.push_back(nn::Tensor::zeros({int64_t{s.m} * s.n}));
    nn::kernels::gemm_ref(s, 1.0f, a.back().data(), b.back().data(), 0.0f, ref.back().data());
  }
  for (int t = 0; t < 2; ++t)
    for (const nn::Tensor& r : ref) out.push_back(nn::Tensor::empty(r.shape()));
  int team = 0;
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    team = omp_get_num_threads();
    const size_t t = static_cast<size_t>(omp_get_thread_num());
    for (size_t round = 0; round < shapes.size(); ++round) {
      const size_t i = (round + 2 * t) % shapes.size();  // thread 1 starts two shapes later
      nn::kernels::gemm<nn::kernels::Isa::avx512>(shapes[i], 1.0f, a[i].data(), b[i].data(), 0.0f,
                                                  out[t * shapes.size() + i].data());
    }
  }
  REQUIRE(team == 2);
  for (size_t t = 0; t < 2; ++t)
    for (size_t i = 0; i < shapes.size(); ++i) {
      test::check_close(out[t * shapes.size() + i], ref[i], 1e-4, 1e-4 * std::sqrt(static_cast<double>(shapes[i].k)),
                        "thread " + std::to_string(t) + ", product " + std::to_string(i));
    }
}

namespace {

// gemm_narrow and gemm_panels (A as stored) and gemm_long (A transposed) at one level against gemm_ref: B both ways,
// packed and strided leading dimensions, alpha and beta (and a bias for gemm_panels), C all NaN where beta is 0 and
// every element is written (no NaN may come through); then a short lda (overlapping rows, as an implicit GEMM reads
// an image) and calls from inside a parallel region (a team of one each).
enum class Kernel { narrow, panels, long_depth };
const char* kernel_name(Kernel kernel) {
  return kernel == Kernel::narrow ? "gemm_narrow" : kernel == Kernel::panels ? "gemm_panels" : "gemm_long";
}

template <nn::kernels::Isa isa>
void check_narrow_gemms(nn::Generator& gen) {
  using nn::kernels::GemmShape;
  struct Shape {
    int m, n, k;
    Kernel kernel;
  };
  auto run = [](Kernel kernel, const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
                const float* bias) {
    if (kernel == Kernel::long_depth) {
      nn::kernels::gemm_long<isa>(s, alpha, a, b, beta, c);
    } else if (kernel == Kernel::panels) {
      nn::kernels::gemm_panels<isa>(s, alpha, a, b, beta, c, bias);
    } else {
      nn::kernels::gemm_narrow<isa>(s, alpha, a, b, beta, c);
    }
  };
  auto check = [&](Kernel kernel, const GemmShape& s, float alpha, float beta, bool nan_c, const std::string& what) {
    const int lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k), ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
    const int ldc = s.ldc ? s.ldc : s.n;
    // A's and B's storage: rows × leading dimension, plus a row's worth where rows overlap (lda shorter than a row).
    const nn::Tensor a = nn::Tensor::uniform({(s.transpose_a ? s.k : s.m) * lda + s.k}, -1, 1, gen);
    const nn::Tensor b = nn::Tensor::uniform({(s.transpose_b ? s.n : s.k) * ldb}, -1, 1, gen);
    nn::Tensor c0 = nn::Tensor::uniform({s.m * ldc}, -1, 1, gen);
    if (nan_c) c0.fill(std::numeric_limits<float>::quiet_NaN());
    // gemm_panels adds a bias in its store: C = α·AB + bias + β·C.
    const nn::Tensor bias = nn::Tensor::uniform({s.n}, -1, 1, gen);
    const float* bias_data = kernel == Kernel::panels ? bias.data() : nullptr;
    nn::Tensor fast = c0.clone(), ref = c0.clone();
    run(kernel, s, alpha, a.data(), b.data(), beta, fast.data(), bias_data);
    nn::kernels::gemm_ref(s, alpha, a.data(), b.data(), beta, ref.data());
    if (bias_data != nullptr) {
      for (int i = 0; i < s.m; ++i)
        for (int j = 0; j < s.n; ++j) ref.data()[i * ldc + j] += bias_data[j];
    }
    test::check_close(fast, ref, 1e-4, 1e-4 * std::sqrt(static_cast<double>(s.k)), what);
  };
  // gemm_panels: groups of 6 rows and a tail of 1–5, a last partial panel, one column, K = 0, 1, 256 and 288, and
  // more panels than one chunk (14 at K = 288).
  const std::vector<Shape> shapes = {
      {37, 1, 9, Kernel::narrow},       {70, 17, 64, Kernel::narrow},    {33, 33, 5, Kernel::narrow},
      {9, 64, 12, Kernel::narrow},      {5, 3, 300, Kernel::long_depth}, {64, 64, 129, Kernel::long_depth},
      {7, 49, 260, Kernel::long_depth}, {6, 16, 1, Kernel::panels},      {41, 70, 256, Kernel::panels},
      {13, 1, 100, Kernel::panels},     {300, 129, 33, Kernel::panels},  {20, 300, 288, Kernel::panels},
      {8, 40, 0, Kernel::panels}};
  for (const Shape& sh : shapes)
    for (int tb = 0; tb < 2; ++tb)
      for (bool packed : {true, false})
        for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, std::pair{0.5f, 2.0f}}) {
          const bool long_depth = sh.kernel == Kernel::long_depth;
          GemmShape s{.m = sh.m, .n = sh.n, .k = sh.k, .transpose_a = long_depth, .transpose_b = tb == 1};
          if (!packed) {
            s.lda = (long_depth ? sh.m : sh.k) + 2;
            s.ldb = (tb ? sh.k : sh.n) + 2;
            s.ldc = sh.n + 2;
          }
          check(sh.kernel, s, alpha, beta, packed && beta == 0.0f,
                std::string(kernel_name(sh.kernel)) + " " + std::to_string(sh.m) + "x" + std::to_string(sh.n) + "x" +
                    std::to_string(sh.k) + " tb=" + std::to_string(tb) + (packed ? " packed" : " strided") +
                    " beta=" + std::to_string(beta));
        }
  check(Kernel::narrow, {.m = 600, .n = 16, .k = 9, .lda = 3}, 1.0f, 0.0f, true, "gemm_narrow, lda 3 < K");
  check(Kernel::panels, {.m = 600, .n = 40, .k = 9, .lda = 3}, 1.0f, 0.0f, true, "gemm_panels, lda 3 < K");
  // gemm_panels' windows (an unpadded stride-1 convolution's implicit GEMM) against the convolution written out: a
  // 3 × 2 window over a 7 × 9 × 3 image, 20 output channels (a partial panel), C's rows 23 apart with the gaps and
  // the rows past the output holding a sentinel that must stay; alpha, beta and a bias.
  for (int taps : {3, 1}) {
    const int h = 7, w = 9, ch = 3, kh = taps, kw = 2, n = 20, ldc = 23;
    const int oh = h - kh + 1, ow = w - kw + 1, k = kh * kw * ch, wide_rows = oh * w - (kw - 1);
    const nn::Tensor image = nn::Tensor::uniform({h * w * ch}, -1, 1, gen);
    const nn::Tensor weights = nn::Tensor::uniform({k * n}, -1, 1, gen), bias = nn::Tensor::uniform({n}, -1, 1, gen);
    nn::Tensor c = nn::Tensor::uniform({(oh * ow + 2) * ldc}, -1, 1, gen), expected = c.clone();
    const float alpha = 0.5f, beta = 2.0f, sentinel = 1e30f;
    for (int i = 0; i < oh * ow + 2; ++i)
      for (int j = 0; j < ldc; ++j)
        if (i >= oh * ow || j >= n) c.data()[i * ldc + j] = expected.data()[i * ldc + j] = sentinel;
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        for (int o = 0; o < n; ++o) {
          double sum = 0;
          for (int dy = 0; dy < kh; ++dy)
            for (int dx = 0; dx < kw; ++dx)
              for (int q = 0; q < ch; ++q)
                sum += double{image.data()[((y + dy) * w + x + dx) * ch + q]} *
                       weights.data()[((dy * kw + dx) * ch + q) * n + o];
          float& out = expected.data()[(y * ow + x) * ldc + o];
          out = static_cast<float>(alpha * sum + bias.data()[o] + beta * out);
        }
    nn::kernels::gemm_panels<isa>({.m = wide_rows, .n = n, .k = k, .lda = ch, .ldc = ldc}, alpha, image.data(),
                                  weights.data(), beta, c.data(), bias.data(),
                                  {.taps = kh, .tap_stride = w * ch, .wide = w, .kept = ow});
    test::check_close(c, expected, 1e-5, 1e-5, "gemm_panels' windows, " + std::to_string(taps) + " taps");
  }
  int failures = 0;
#pragma omp parallel num_threads(2) reduction(+ : failures)
  {
    for (Kernel kernel : {Kernel::narrow, Kernel::panels, Kernel::long_depth}) {
      const bool long_depth = kernel == Kernel::long_depth;
      const GemmShape s{.m = long_depth ? 20 : 700,
                        .n = kernel == Kernel::panels ? 100 : 24,
                        .k = long_depth ? 3000 : 30,
                        .transpose_a = long_depth};
      std::vector<float> a(static_cast<size_t>(s.m) * s.k, 0.25f), b(static_cast<size_t>(s.k) * s.n, -2.0f);
      std::vector<float> c(static_cast<size_t>(s.m) * s.n, 1.0f);
      run(kernel, s, 1.0f, a.data(), b.data(), 0.0f, c.data(), nullptr);
      for (float v : c) failures += v != -0.5f * static_cast<float>(s.k);  // exact: sums of -0.5
    }
  }
  CHECK_MESSAGE(failures == 0, "gemm_narrow / gemm_panels / gemm_long inside a parallel region");
}

}  // namespace

TEST_CASE("gemm_narrow, gemm_panels and gemm_long agree with the naive reference at every level this processor runs") {
  using nn::kernels::Isa;
  nn::Generator gen(11);
  int levels = 0;
  if (nn::kernels::cpu_supports(Isa::avx512)) check_narrow_gemms<Isa::avx512>(gen), ++levels;
  if (nn::kernels::cpu_supports(Isa::avx2)) check_narrow_gemms<Isa::avx2>(gen), ++levels;
  check_narrow_gemms<Isa::scalar>(gen), ++levels;
  MESSAGE(levels << " levels checked");
  CHECK_THROWS_WITH_AS(
      nn::kernels::gemm_narrow<Isa::scalar>({.m = 1, .n = 65, .k = 1}, 1.0f, nullptr, nullptr, 0.0f, nullptr),
      "gemm_narrow: expected A not transposed and N, K <= 64", std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::kernels::gemm_long<Isa::scalar>({.m = 65, .n = 1, .k = 1, .transpose_a = true}, 1.0f,
                                                           nullptr, nullptr, 0.0f, nullptr),
                       "gemm_long: expected a transposed A and M, N <= 64", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      nn::kernels::gemm_panels<Isa::scalar>({.m = 1, .n = 1, .k = 289}, 1.0f, nullptr, nullptr, 0.0f, nullptr),
      "gemm_panels: expected A not transposed and K <= 288", std::invalid_argument);
  for (const nn::kernels::PanelWindows& bad : {nn::kernels::PanelWindows{.taps = 4},
                                               {.taps = 0},
                                               {.wide = 5, .kept = 6},
                                               {.wide = 5, .kept = 0},
                                               {.wide = -1}})
    CHECK_THROWS_WITH_AS(nn::kernels::gemm_panels<Isa::scalar>({.m = 1, .n = 1, .k = 6}, 1.0f, nullptr, nullptr, 0.0f,
                                                               nullptr, nullptr, bad),
                         "gemm_panels: expected windows of taps dividing K and 1 <= kept <= wide",
                         std::invalid_argument);
}

TEST_CASE("the pointwise kernels agree with their naive references at every level this processor runs") {
  using nn::kernels::Isa;
  nn::Generator gen(7);
  const int64_t rows = 37, c = 45, n = rows * c;  // not a multiple of any vector width
  nn::Tensor x = nn::Tensor::uniform({n}, -2, 2, gen);
  const nn::Tensor b = nn::Tensor::uniform({n}, -2, 2, gen);
  const nn::Tensor gamma = nn::Tensor::uniform({c}, 0.5, 2, gen), beta = nn::Tensor::uniform({c}, -1, 1, gen);
  const nn::Tensor mean = nn::Tensor::uniform({c}, -1, 1, gen), inv_std = nn::Tensor::uniform({c}, 0.5, 2, gen);
  const nn::kernels::ChannelAffine affine{gamma.data(), beta.data(), mean.data(), inv_std.data()};
  nn::Tensor want = nn::Tensor::empty({n}), got = nn::Tensor::empty({n});
  nn::Tensor gradient = b.clone();
  for (int64_t i = 0; i < n; i += 7) x.data()[i] = 0.0f;  // relu's output is 0 wherever its input was not positive
  for (int64_t i : {int64_t{3}, n - 2, n - 1}) {  // in 16-lane blocks, and in the last n mod 16: g·0 is NaN there
    x.data()[i] = -0.5f;
    gradient.data()[i] = i == 3 ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  }
  const int64_t big = 40'003;
  const nn::Tensor big_y = nn::relu(nn::Tensor::uniform({big}, -1, 1, gen)),
                   big_g = nn::Tensor::uniform({big}, -1, 1, gen);
  nn::Tensor big_want = nn::Tensor::empty({big});
  nn::kernels::with_active_isa([]<Isa> {});  // the level named by NN_ISA, if any, is valid here
  const auto check_level = [&]<Isa isa>() {
    INFO("level " << nn::kernels::isa_name(isa));
    nn::kernels::relu_forward_ref(n, x.data(), want.data());
    nn::kernels::relu_forward<isa>(n, x.data(), got.data());
    CHECK(got.to_vector() == want.to_vector());
    nn::kernels::add_forward_ref(n, x.data(), b.data(), want.data());
    nn::kernels::add_forward<isa>(n, x.data(), b.data(), got.data());
    CHECK(got.to_vector() == want.to_vector());
    // relu's gradient from y = x, zeros and a NaN gradient among them: the same bits (g·0 keeps a NaN and a sign).
    nn::kernels::relu_backward_ref(n, x.data(), gradient.data(), want.data());
    nn::kernels::relu_backward<isa>(n, x.data(), gradient.data(), got.data());
    test::check_same_bits(got.to_vector(), want.to_vector(), "relu_backward");
    // In place (gx = g) and over 2¹⁵ elements, where the threads split it.
    nn::kernels::relu_backward_ref(big, big_y.data(), big_g.data(), big_want.data());
    nn::Tensor in_place = big_g.clone();
    nn::kernels::relu_backward<isa>(big, big_y.data(), in_place.data(), in_place.data());
    test::check_same_bits(in_place.to_vector(), big_want.to_vector(), "relu_backward in place, threaded");
    nn::kernels::channel_affine_ref(rows, c, affine, x.data(), want.data());
    nn::kernels::channel_affine<isa>(rows, c, affine, x.data(), got.data());
    test::check_close(got, want, 1e-6, 1e-6, "channel_affine");  // fused multiply-adds round once less
  };
  int levels = 0;
  if (nn::kernels::cpu_supports(Isa::avx512)) check_level.template operator()<Isa::avx512>(), ++levels;
  if (nn::kernels::cpu_supports(Isa::avx2)) check_level.template operator()<Isa::avx2>(), ++levels;
  check_level.template operator()<Isa::scalar>(), ++levels;
  MESSAGE(levels << " levels checked");
}

namespace {

// The best level this processor runs, which the dispatch takes by default.
nn::kernels::Isa best_level() {
  using nn::kernels::Isa;
  if (nn::kernels::cpu_supports(Isa::avx512)) return Isa::avx512;
  return nn::kernels::cpu_supports(Isa::avx2) ? Isa::avx2 : Isa::scalar;
}

}  // namespace

TEST_CASE("the dispatch level: the best the processor runs by default, or the one NN_ISA forces") {
  using nn::kernels::Isa;
  const char* forced = std::getenv("NN_ISA");
  if (forced != nullptr && *forced != '\0') {
    CHECK(std::string(nn::kernels::isa_name(nn::kernels::active_isa())) == forced);
  } else {
    CHECK(nn::kernels::active_isa() == best_level());
  }
  CHECK(nn::kernels::cpu_supports(Isa::scalar));
}

// Under NN_ISA=avx1024 (test_kernels_bad_isa) and wherever NN_ISA names a level this processor lacks: the error
// must reach the caller, and never start inside an OpenMP parallel region, where a throw ends the process.
TEST_CASE("a bad NN_ISA is an error outside parallel regions and never ends the process from inside one") {
  using nn::kernels::Isa;
  const char* forced = std::getenv("NN_ISA");
  bool usable = forced == nullptr || *forced == '\0';
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    usable = usable || (std::string(forced) == nn::kernels::isa_name(isa) && nn::kernels::cpu_supports(isa));
  if (usable) return;  // nothing to report: the level is valid here
  CHECK_THROWS_WITH_AS(nn::kernels::active_isa(), doctest::Contains("NN_ISA"), nn::Error);
  int in_parallel_best = 0, threads = 0;
#pragma omp parallel num_threads(2) reduction(+ : in_parallel_best, threads)
  {
    in_parallel_best += nn::kernels::active_isa() == best_level();  // no throw here: it would call std::terminate
    threads += 1;
  }
  CHECK(in_parallel_best == threads);
  // A conversion big enough for several threads: cast asks for the level before its parallel loop.
  const std::vector<float> values(size_t{1} << 17, 1.5f);
  const nn::Tensor x = nn::Tensor::from_data({int64_t{1} << 17}, values);  // copied without a backend
  CHECK_THROWS_WITH_AS(x.to(nn::DType::bf16), doctest::Contains("NN_ISA"), nn::Error);
  CHECK_THROWS_WITH_AS(nn::relu(x), doctest::Contains("NN_ISA"), nn::Error);
}
