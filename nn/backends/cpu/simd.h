// A 16-float vector through GCC's vector extension: one AVX-512 register where the build targets AVX-512, two AVX2
// or four SSE registers elsewhere. Kernels use it where the auto-vectoriser keeps accumulators in memory.
// Only the kernel files compiled once per instruction-set level (isa.h) include it; its functions have internal
// linkage (an unnamed namespace), so each level keeps its own copies and the linker never swaps one for another.
#pragma once

#include <cstdint>
#include <cstring>

namespace nn::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above

using v16 = float __attribute__((vector_size(64)));
using v16i = int __attribute__((vector_size(64)));  // lane masks: comparisons of v16 give all-ones or zero lanes

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store16(float* p, v16 v) {
  std::memcpy(p, &v, sizeof v);
}

inline v16 splat16(float x) {
  return v16{} + x;
}

// a > b ? a : b lane by lane (a NaN in either gives b). Without AVX-512, GCC 12 compares 64-byte vectors one lane at
// a time (16 vmaxss and stack traffic at the avx2 level), so there the lanes go through native halves or quarters.
inline v16 max16(v16 a, v16 b) {
#if defined(__AVX512F__)
  return a > b ? a : b;
#else
#if defined(__AVX__)
  using Part = float __attribute__((vector_size(32)));
#else
  using Part = float __attribute__((vector_size(16)));
#endif
  constexpr int kParts = sizeof(v16) / sizeof(Part);
  Part pa[kParts], pb[kParts];
  std::memcpy(pa, &a, sizeof a);
  std::memcpy(pb, &b, sizeof b);
  for (int i = 0; i < kParts; ++i) pa[i] = pa[i] > pb[i] ? pa[i] : pb[i];
  std::memcpy(&a, pa, sizeof a);
  return a;
#endif
}

// The lanes of v where mask is set, zero elsewhere.
inline v16 select16(v16i mask, v16 v) {
  return reinterpret_cast<v16>(mask & reinterpret_cast<v16i>(v));
}

// The first `count` (< 16) floats at p, `fill` in the other lanes; and their store (the rest of p untouched).
inline v16 load16_partial(const float* p, int64_t count, float fill) {
  v16 v = splat16(fill);
  std::memcpy(&v, p, sizeof(float) * static_cast<size_t>(count));
  return v;
}
inline void store16_partial(float* p, v16 v, int64_t count) {
  std::memcpy(p, &v, sizeof(float) * static_cast<size_t>(count));
}

// e^x, lane by lane: Cephes's expf — x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, so that r is exact), a
// degree-6 polynomial for e^r, and 2^n written into the exponent bits. Within 2 ulp of std::exp over the range that
// matters here; exactly 0 below ln(FLT_MIN) ≈ −87.34 (where std::exp gives denormals or 0), and x clamped at 88 above
// (e^88 ≈ 1.65e38: the softmax passes x ≤ 0, and the sigmoid and tanh below saturate long before).
inline v16 exp16(v16 x) {
  const v16i underflow = x < -87.336f;
  x = x > 88.0f ? splat16(88.0f) : x;
  x = x < -87.336f ? splat16(-87.336f) : x;
  // n = round(x / ln 2), by the 1.5·2²³ trick (exact for |x / ln 2| < 2²²); r = x − n·ln 2.
  const v16 magic = splat16(12582912.0f);
  const v16 n = (x * 1.44269504088896341f + magic) - magic;
  const v16 r = x - n * 0.693359375f + n * 2.12194440e-4f;
  v16 p = splat16(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const v16i bits = (__builtin_convertvector(n, v16i) + 127) << 23;  // 2^n, n in [−126, 127]
  const v16 e = p * reinterpret_cast<v16>(bits);
  return reinterpret_cast<v16>(~underflow & reinterpret_cast<v16i>(e));
}

// The logistic function 1 / (1 + e^−x), lane by lane: 1 where float rounds there, and exactly 0 below −87 (where it
// would be a denormal, the slow case this library flushes elsewhere).
inline v16 sigmoid16(v16 x) {
  const v16 s = 1.0f / (1.0f + exp16(-x));
  return reinterpret_cast<v16>(~(x < -87.0f) & reinterpret_cast<v16i>(s));
}

// tanh x, lane by lane: Cephes's tanhf — an odd polynomial for |x| < 0.625 (where 1 − 2/(e^2x + 1) would lose the
// relative accuracy of small x), 1 − 2/(e^2|x| + 1) with x's sign elsewhere. Within a few ulp of std::tanh.
inline v16 tanh16(v16 x) {
  const v16i sign = reinterpret_cast<v16i>(x) & static_cast<int>(0x80000000u);
  const v16 a = reinterpret_cast<v16>(reinterpret_cast<v16i>(x) & 0x7fffffff);
  const v16 z = x * x;
  v16 small = splat16(-5.70498872745e-3f);
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const v16 large_abs = 1.0f - 2.0f / (exp16(a + a) + 1.0f);
  const v16 large = reinterpret_cast<v16>(reinterpret_cast<v16i>(large_abs) | sign);
  return a < 0.625f ? small : large;
}

}  // namespace
}  // namespace nn::kernels
