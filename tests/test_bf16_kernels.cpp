// The bf16 primitives of the cpu backend (AVX512_BF16 GEMM or its conversion fallback, convolution, depthwise,
// pooling, batch norm) against the ref backend's bf16 loops and against the f32 kernels on the same inputs, which are
// bf16 values, so that the only differences allowed are f32 accumulation and the one rounding of the output: within
// 2⁻⁸ of the accumulated magnitude Σ|terms| (2⁻⁷ between two rounded results, which may fall one ulp apart). Run
// again with NN_ISA=avx2 and scalar (tests/CMakeLists.txt), where the GEMM takes the conversion fallback.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nn/backends/backend.h>
#include <nn/backends/cpu/bf16.h>
#include <nn/backends/cpu/conv2d.h>
#include <nn/backends/cpu/depthwise.h>
#include <nn/backends/cpu/gemm.h>
#include <nn/backends/cpu/isa.h>
#include <nn/backends/cpu/pointwise.h>
#include <nn/backends/cpu/pool.h>
#include <nn/backends/ref/loops.h>

namespace {

using nn::bfloat16;
using nn::DType;
using nn::kernels::GemmCall;
using nn::kernels::GemmShape;
using nn::kernels::Window2D;

const double kUlp = 1.0 / 256;  // 2⁻⁸: half an ulp of bf16's 8-bit significand, relative

// n bf16 values uniform in [-1, 1] (their f32 twins are exact).
std::vector<bfloat16> random_bf16(int64_t n, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<bfloat16> v(static_cast<size_t>(n));
  for (auto& x : v) x = nn::to_bfloat16(u(gen));
  return v;
}

std::vector<float> widen(const std::vector<bfloat16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = nn::to_float(v[i]);
  return out;
}

std::vector<float> absolute(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::fabs(v[i]);
  return out;
}

// Every element of `got` within rel·magnitude[i] of `expected` (plus a hair for magnitudes of 0).
template <class T>
void check_within(const std::vector<T>& got, const std::vector<float>& expected, const std::vector<float>& magnitude,
                  double rel, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    double value;
    if constexpr (std::is_same_v<T, bfloat16>) {
      value = nn::to_float(got[i]);
    } else {
      value = got[i];
    }
    const double error = std::fabs(value - expected[i]);
    if (!(error <= rel * magnitude[i] + 1e-30)) {
      FAIL_CHECK(what << ": element " << i << " is " << value << ", expected " << expected[i] << " (error " << error
                      << ", allowed " << rel * magnitude[i] << ")");
      return;
    }
  }
}

std::string gemm_name(const GemmShape& s, DType c_type, float beta) {
  return "gemm " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
         " ta=" + std::to_string(s.transpose_a) + " tb=" + std::to_string(s.transpose_b) +
         " lda=" + std::to_string(s.lda) + " c=" + nn::dtype_name(c_type) + " beta=" + std::to_string(beta);
}

// One product C = α·op(A)·op(B) + β·C by the cpu backend, against the ref backend and the f32 GEMM on the same
// values; the magnitude is α·op(|A|)·op(|B|) + |β·C|.
void check_gemm(GemmShape s, int pad, DType c_type, float alpha, float beta, std::mt19937& gen) {
  s.lda = (s.transpose_a ? s.m : s.k) + pad;
  s.ldb = (s.transpose_b ? s.k : s.n) + pad;
  s.ldc = s.n + pad;
  const std::vector<bfloat16> a = random_bf16(int64_t{s.transpose_a ? s.k : s.m} * s.lda, gen);
  const std::vector<bfloat16> b = random_bf16(int64_t{s.transpose_b ? s.n : s.k} * s.ldb, gen);
  const std::vector<bfloat16> c0 = random_bf16(int64_t{s.m} * s.ldc, gen);
  const std::vector<float> af = widen(a), bf = widen(b), cf = widen(c0);
  std::vector<float> expected = cf, magnitude = absolute(cf);
  nn::kernels::gemm(s, alpha, af.data(), bf.data(), beta, expected.data());
  nn::kernels::gemm_ref(s, std::fabs(alpha), absolute(af).data(), absolute(bf).data(), std::fabs(beta),
                        magnitude.data());
  const std::string what = gemm_name(s, c_type, beta);
  GemmCall call{.shape = s, .alpha = alpha, .beta = beta, .ab_type = DType::bf16, .c_type = c_type};
  call.a = a.data();
  call.b = b.data();
  if (c_type == DType::f32) {  // only the order of the f32 sums differs
    std::vector<float> fast = cf, ref = cf;
    call.c = fast.data();
    nn::cpu_backend().gemm(call);
    call.c = ref.data();
    nn::ref_backend().gemm(call);
    check_within(fast, expected, magnitude, 1e-5, what + " (cpu against the f32 gemm)");
    check_within(ref, expected, magnitude, 1e-5, what + " (ref against the f32 gemm)");
    check_within(fast, ref, magnitude, 1e-5, what + " (cpu against ref)");
    return;
  }
  std::vector<bfloat16> fast = c0, ref = c0;
  call.c = fast.data();
  nn::cpu_backend().gemm(call);
  call.c = ref.data();
  nn::ref_backend().gemm(call);
  check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu against the f32 gemm)");
  check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref against the f32 gemm)");
  check_within(fast, widen(ref), magnitude, 2 * kUlp, what + " (cpu against ref)");
}

// A window over an (n, h, w, c) image: kernel k, stride st, padding p on every side, oc output channels.
Window2D window(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t st, int64_t p, int64_t oc) {
  return {.n = n,
          .h = h,
          .w = w,
          .c = c,
          .kh = k,
          .kw = k,
          .sh = st,
          .sw = st,
          .oh = (h + 2 * p - k) / st + 1,
          .ow = (w + 2 * p - k) / st + 1,
          .pad_top = p,
          .pad_left = p,
          .oc = oc};
}

std::string window_name(const char* what, const Window2D& g) {
  return std::string(what) + " x=(" + std::to_string(g.n) + "," + std::to_string(g.h) + "," + std::to_string(g.w) +
         "," + std::to_string(g.c) + ") k=" + std::to_string(g.kh) + " s=" + std::to_string(g.sh) +
         " p=" + std::to_string(g.pad_top) + " oc=" + std::to_string(g.oc);
}

std::vector<float> random_floats(int64_t n, std::mt19937& gen) {
  return widen(random_bf16(n, gen));
}

}  // namespace

TEST_CASE("the bf16 gemm agrees with the ref backend and the f32 gemm: odd sizes, transposes, lda > k, beta") {
  const std::string path = nn::kernels::cpu_supports_amx()    ? "AMX"
                           : nn::kernels::cpu_supports_bf16() ? "AVX512_BF16"
                                                              : "the conversion fallback";
  MESSAGE("bf16 gemm on " << path);
  std::mt19937 gen(11);
  const int sizes[] = {1, 7, 33, 100};
  for (int m : sizes)
    for (int n : sizes)
      for (int k : sizes)
        for (int t = 0; t < 4; ++t) {
          const GemmShape s{.m = m, .n = n, .k = k, .transpose_a = (t & 1) != 0, .transpose_b = (t & 2) != 0};
          check_gemm(s, t == 3 ? 0 : 3, (m + n + k + t) % 2 ? DType::bf16 : DType::f32, 1.0f, 0.0f, gen);
        }
  // Several row blocks and column chunks, odd K, α and β (a bf16 C with β ≠ 0 is read back too).
  for (int t = 0; t < 4; ++t) {
    const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
    check_gemm({.m = 200, .n = 70, .k = 513, .transpose_a = ta, .transpose_b = tb}, 5, DType::bf16, 1.0f, 0.0f, gen);
    check_gemm({.m = 200, .n = 70, .k = 513, .transpose_a = ta, .transpose_b = tb}, 1, DType::f32, 2.0f, 0.5f, gen);
    check_gemm({.m = 30, .n = 700, .k = 2001, .transpose_a = ta, .transpose_b = tb}, 0, DType::bf16, 0.5f, 0.0f, gen);
    check_gemm({.m = 15, .n = 33, .k = 8, .transpose_a = ta, .transpose_b = tb}, 2, DType::bf16, 1.0f, 1.0f, gen);
    // K a multiple of 32 with an odd lda: AMX reads the whole 32-row blocks of A in place, packs the 6-row rest.
    check_gemm({.m = 70, .n = 45, .k = 96, .transpose_a = ta, .transpose_b = tb}, 3, DType::f32, 1.0f, 0.0f, gen);
    // More rows than one pass of the conversion fallback (about 4 MB of f32 rows at a time).
    check_gemm({.m = 300, .n = 4000, .k = 5, .transpose_a = ta, .transpose_b = tb}, 1, DType::bf16, 1.0f, 0.0f, gen);
    check_gemm({.m = 300, .n = 4000, .k = 5, .transpose_a = ta, .transpose_b = tb}, 0, DType::f32, 1.0f, 0.5f, gen);
  }
}

TEST_CASE("the bf16 gemm is batched, and takes f32 A and B into a bf16 C") {
  std::mt19937 gen(12);
  for (const GemmShape s : {GemmShape{.m = 9, .n = 20, .k = 31}, GemmShape{.m = 300, .n = 3600, .k = 5}}) {
    const int64_t batch = 3, sa = int64_t{s.m} * s.k, sb = int64_t{s.k} * s.n, sc = int64_t{s.m} * s.n;
    const std::vector<bfloat16> a = random_bf16(batch * sa, gen), b = random_bf16(sb, gen);  // B shared: stride 0
    const std::vector<float> af = widen(a), bf = widen(b);
    std::vector<float> expected(static_cast<size_t>(batch * sc)), magnitude(expected.size());
    for (int64_t i = 0; i < batch; ++i) {
      nn::kernels::gemm_ref(s, 1.0f, af.data() + i * sa, bf.data(), 0.0f, expected.data() + i * sc);
      nn::kernels::gemm_ref(s, 1.0f, absolute(af).data() + i * sa, absolute(bf).data(), 0.0f,
                            magnitude.data() + i * sc);
    }
    GemmCall call{.shape = s, .batch = batch, .stride_a = sa, .stride_b = 0, .stride_c = sc, .c_type = DType::bf16};
    for (DType ab : {DType::bf16, DType::f32}) {
      std::vector<bfloat16> fast(expected.size()), ref(expected.size());
      call.ab_type = ab;
      call.a = ab == DType::bf16 ? static_cast<const void*>(a.data()) : af.data();
      call.b = ab == DType::bf16 ? static_cast<const void*>(b.data()) : bf.data();
      call.c = fast.data();
      nn::cpu_backend().gemm(call);
      call.c = ref.data();
      nn::ref_backend().gemm(call);
      const std::string what = std::string("batched gemm, A and B ") + nn::dtype_name(ab);
      check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu)");
      check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref)");
    }
  }
}

TEST_CASE("bf16 conv2d agrees with the ref backend and the f32 kernel: pointwise, strided, padded, with bias") {
  std::mt19937 gen(13);
  const Window2D cases[] = {window(2, 5, 7, 33, 1, 1, 0, 40),  window(2, 9, 8, 16, 1, 2, 0, 33),
                            window(1, 9, 11, 7, 3, 1, 1, 17),  window(2, 10, 9, 16, 3, 2, 0, 33),
                            window(1, 12, 12, 3, 3, 2, 1, 32), window(1, 6, 6, 1, 5, 1, 2, 1)};
  for (const Window2D& g : cases)
    for (bool with_bias : {true, false}) {
      const std::vector<bfloat16> x = random_bf16(g.input_size(), gen);
      const std::vector<bfloat16> w = random_bf16(g.kh * g.kw * g.c * g.oc, gen);
      const std::vector<float> bias = random_floats(g.oc, gen);
      const float* b = with_bias ? bias.data() : nullptr;
      std::vector<float> expected(static_cast<size_t>(g.output_size())), magnitude(expected.size());
      const std::vector<float> abs_bias = absolute(bias);
      nn::kernels::conv2d_forward_ref(g, widen(x).data(), widen(w).data(), b, expected.data());
      nn::kernels::conv2d_forward_ref(g, absolute(widen(x)).data(), absolute(widen(w)).data(),
                                      with_bias ? abs_bias.data() : nullptr, magnitude.data());
      std::vector<bfloat16> fast(expected.size()), ref(expected.size());
      for (const nn::Backend* be : {&nn::cpu_backend(), &nn::ref_backend()}) {
        std::vector<float> workspace(static_cast<size_t>(be->conv2d_workspace(g, DType::bf16)) + 1);
        be->conv2d_forward(g, DType::bf16, x.data(), w.data(), b, be == &nn::cpu_backend() ? fast.data() : ref.data(),
                           workspace.data());
      }
      const std::string what = window_name("conv2d", g) + (with_bias ? " bias" : "");
      check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu against the f32 kernel)");
      check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref against the f32 kernel)");
      check_within(fast, widen(ref), magnitude, 2 * kUlp, what + " (cpu against ref)");
    }
}

TEST_CASE("bf16 depthwise agrees with the ref backend and the f32 kernel: tiles, edges, channel tails") {
  std::mt19937 gen(14);
  const Window2D cases[] = {window(2, 7, 19, 40, 3, 1, 1, 40), window(1, 9, 21, 7, 3, 2, 1, 7),
                            window(1, 5, 13, 16, 3, 1, 0, 16), window(2, 6, 30, 33, 5, 1, 2, 33),
                            window(1, 19, 19, 728, 3, 1, 1, 728)};
  for (const Window2D& g : cases)
    for (bool with_bias : {true, false}) {
      const std::vector<bfloat16> x = random_bf16(g.input_size(), gen), w = random_bf16(g.kh * g.kw * g.c, gen);
      const std::vector<float> bias = random_floats(g.c, gen), abs_bias = absolute(bias);
      const float* b = with_bias ? bias.data() : nullptr;
      std::vector<float> expected(static_cast<size_t>(g.output_size())), magnitude(expected.size());
      nn::kernels::depthwise_forward_ref(g, widen(x).data(), widen(w).data(), b, expected.data());
      nn::kernels::depthwise_forward_ref(g, absolute(widen(x)).data(), absolute(widen(w)).data(),
                                         with_bias ? abs_bias.data() : nullptr, magnitude.data());
      std::vector<bfloat16> fast(expected.size()), ref(expected.size());
      nn::cpu_backend().depthwise_forward(g, DType::bf16, x.data(), w.data(), b, fast.data());
      nn::ref_backend().depthwise_forward(g, DType::bf16, x.data(), w.data(), b, ref.data());
      const std::string what = window_name("depthwise", g) + (with_bias ? " bias" : "");
      check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu against the f32 kernel)");
      check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref against the f32 kernel)");
      check_within(fast, widen(ref), magnitude, 2 * kUlp, what + " (cpu against ref)");
    }
}

TEST_CASE("bf16 pooling: max exact, average within one rounding, against ref and the f32 kernels") {
  std::mt19937 gen(15);
  const Window2D cases[] = {window(2, 9, 9, 40, 3, 2, 1, 40), window(1, 8, 7, 7, 2, 2, 0, 7),
                            window(1, 11, 11, 16, 3, 1, 1, 16)};
  for (const Window2D& g : cases) {
    const std::vector<bfloat16> x = random_bf16(g.input_size(), gen);
    const std::vector<float> xf = widen(x);
    for (auto kind : {nn::kernels::Pool::max, nn::kernels::Pool::average}) {
      const bool max = kind == nn::kernels::Pool::max;
      std::vector<float> expected(static_cast<size_t>(g.output_size())), magnitude(expected.size());
      if (max) {
        nn::kernels::max_pool_forward_ref(g, xf.data(), expected.data());
      } else {
        nn::kernels::avg_pool_forward_ref(g, xf.data(), expected.data());
        nn::kernels::avg_pool_forward_ref(g, absolute(xf).data(), magnitude.data());
      }
      std::vector<bfloat16> fast(expected.size()), ref(expected.size());
      nn::cpu_backend().pool_forward(kind, g, DType::bf16, x.data(), fast.data());
      nn::ref_backend().pool_forward(kind, g, DType::bf16, x.data(), ref.data());
      const std::string what = window_name(max ? "max pool" : "average pool", g);
      check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu against the f32 kernel)");
      check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref against the f32 kernel)");
      check_within(fast, widen(ref), magnitude, 2 * kUlp, what + " (cpu against ref)");
    }
  }
}

TEST_CASE("bf16 batch-norm affine agrees with ref and the f32 kernel, also in place") {
  std::mt19937 gen(16);
  for (int64_t channels : {7, 16, 40, 728}) {
    const int64_t rows = 37;
    const std::vector<bfloat16> x = random_bf16(rows * channels, gen);
    const std::vector<float> gamma = random_floats(channels, gen), beta = random_floats(channels, gen);
    const std::vector<float> mean = random_floats(channels, gen);
    std::vector<float> inv_std = random_floats(channels, gen);
    for (float& s : inv_std) s = 0.5f + std::fabs(s);
    const nn::kernels::ChannelAffine p{gamma.data(), beta.data(), mean.data(), inv_std.data()};
    const std::vector<float> xf = widen(x);
    std::vector<float> expected(xf.size()), magnitude(xf.size());
    nn::kernels::channel_affine_ref(rows, channels, p, xf.data(), expected.data());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < channels; ++j) {
        const size_t at = static_cast<size_t>(i * channels + j);
        magnitude[at] =
            std::fabs(gamma[j]) * (std::fabs(xf[at]) + std::fabs(mean[j])) * inv_std[j] + std::fabs(beta[j]);
      }
    std::vector<bfloat16> fast(x.size()), ref(x.size()), in_place = x;
    nn::cpu_backend().channel_affine(rows, channels, p, DType::bf16, x.data(), fast.data());
    nn::ref_backend().channel_affine(rows, channels, p, DType::bf16, x.data(), ref.data());
    nn::cpu_backend().channel_affine(rows, channels, p, DType::bf16, in_place.data(), in_place.data());
    const std::string what = "channel_affine C=" + std::to_string(channels);
    check_within(fast, expected, magnitude, kUlp * 1.01, what + " (cpu against the f32 kernel)");
    check_within(ref, expected, magnitude, kUlp * 1.01, what + " (ref against the f32 kernel)");
    check_within(in_place, widen(fast), magnitude, 0.0, what + " (in place, against out of place)");
  }
}

TEST_CASE("the AVX512_BF16 and AMX gemm kernels themselves, with a bias, where this processor runs them") {
  if (!nn::kernels::cpu_supports_bf16()) {
    MESSAGE("skipped: no AVX512_BF16 at the active level");
    return;
  }
#if defined(__x86_64__)
  using Kernel = void (*)(const GemmShape&, float, const bfloat16*, const bfloat16*, float, const float*, DType, void*);
  std::vector<std::pair<std::string, Kernel>> kernels{{"gemm_bf16", nn::kernels::gemm_bf16<nn::kernels::Isa::avx512>}};
  if (nn::kernels::cpu_supports_amx()) {
    kernels.emplace_back("gemm_bf16_amx", nn::kernels::gemm_bf16_amx<nn::kernels::Isa::avx512>);
  } else {
    MESSAGE("no AMX here (or NN_AMX=0): only the vdpbf16ps kernel");
  }
  std::mt19937 gen(17);
  // 45 × 50 × 67: partial tiles of both kernels in every direction; 70 × 40 × 96: K a multiple of AMX's 32-depth step.
  // 40 × 300 × 4096: packed B passes its 2 MB chunk (8 panels at this depth), so a second chunk starts at column 256
  // with the bias offset.
  for (const auto [m, n, k] : {std::array{45, 50, 67}, std::array{70, 40, 96}, std::array{40, 300, 4096}}) {
    for (const auto& [name, kernel] : kernels) {
      for (int t = 0; t < 4; ++t) {
        const GemmShape s{.m = m, .n = n, .k = k, .transpose_a = (t & 1) != 0, .transpose_b = (t & 2) != 0};
        const std::vector<bfloat16> a = random_bf16(int64_t{m} * k, gen), b = random_bf16(int64_t{k} * n, gen);
        const std::vector<float> bias = random_floats(n, gen), af = widen(a), bf = widen(b);
        std::vector<float> expected(size_t(m) * n), magnitude(size_t(m) * n), got(size_t(m) * n);
        nn::kernels::gemm_ref(s, 1.0f, af.data(), bf.data(), 0.0f, expected.data());
        nn::kernels::gemm_ref(s, 1.0f, absolute(af).data(), absolute(bf).data(), 0.0f, magnitude.data());
        for (size_t i = 0; i < expected.size(); ++i) {
          expected[i] += bias[i % n];
          magnitude[i] += std::fabs(bias[i % n]);
        }
        kernel(s, 1.0f, a.data(), b.data(), 0.0f, bias.data(), DType::f32, got.data());
        check_within(got, expected, magnitude, 1e-5,
                     name + " with bias, " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                         ", t=" + std::to_string(t));
      }
    }
  }
#endif
}

TEST_CASE(
    "depthwise with the input ReLU fused reads max(x, 0): every backend and dtype against the plain kernel on "
    "relu(x)") {
  std::mt19937 gen(21);
  // Channels past 16 with a tail, fewer than 16 (the scalar loop), stride 1 (the sliding tiles) and 2, 5×5 valid.
  const Window2D shapes[] = {window(2, 9, 12, 37, 3, 1, 1, 37), window(1, 10, 9, 20, 3, 2, 1, 20),
                             window(1, 7, 7, 5, 5, 1, 0, 5), window(1, 12, 12, 16, 3, 1, 0, 16)};
  for (Window2D plain : shapes) {
    Window2D fused = plain;
    fused.relu_input = true;
    const std::string what = window_name("depthwise, ReLU fused", plain);
    std::vector<bfloat16> x = random_bf16(plain.input_size(), gen);
    x[3] = nn::to_bfloat16(std::nanf(""));  // reads as 0, as relu gives
    const std::vector<bfloat16> w = random_bf16(plain.kh * plain.kw * plain.c, gen);
    const std::vector<float> bias = random_floats(plain.c, gen);
    std::vector<bfloat16> relu_x(x.size());
    for (size_t i = 0; i < x.size(); ++i) relu_x[i] = nn::to_float(x[i]) > 0.0f ? x[i] : nn::to_bfloat16(0.0f);
    const std::vector<float> xf = widen(x), relu_xf = widen(relu_x), wf = widen(w);
    const size_t out = static_cast<size_t>(plain.output_size());
    for (const nn::Backend* be : {&nn::cpu_backend(), &nn::ref_backend()}) {
      INFO("backend " << be->name);
      std::vector<float> expected(out), got(out);
      be->depthwise_forward(plain, DType::f32, relu_xf.data(), wf.data(), bias.data(), expected.data());
      be->depthwise_forward(fused, DType::f32, xf.data(), wf.data(), bias.data(), got.data());
      check_within(got, expected, std::vector<float>(out, 0.0f), 0.0, what + " f32");
      std::vector<bfloat16> expected_h(out), got_h(out);
      be->depthwise_forward(plain, DType::bf16, relu_x.data(), w.data(), bias.data(), expected_h.data());
      be->depthwise_forward(fused, DType::bf16, x.data(), w.data(), bias.data(), got_h.data());
      check_within(got_h, widen(expected_h), std::vector<float>(out, 0.0f), 0.0, what + " bf16");
    }
  }
}
