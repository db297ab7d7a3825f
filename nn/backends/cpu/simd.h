// 64-byte vectors (16 floats, 32 int16s) for the kernels, as an array of the target's native vectors: one AVX-512
// register where the build targets AVX-512, two AVX registers or four SSE ones elsewhere. Kernels use them where the
// auto-vectoriser keeps accumulators in memory. A plain 64-byte GCC vector type would be simpler, but GCC 12 lowers
// one poorly on a narrower target: comparisons and ?: one lane at a time (16 vcmpss/vmaxss and stack traffic at the
// avx2 level) and every store through the stack and general registers. Spelled out part by part, each operation
// below works on registers at every level (one instruction a part for most).
// Only the kernel files compiled once per instruction-set level (isa.h) include this; its functions have internal
// linkage (an unnamed namespace), so each level keeps its own copies and the linker never swaps one for another.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace nn::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above

#if defined(__AVX512F__)
constexpr int kNativeBytes = 64;
#elif defined(__AVX__)
constexpr int kNativeBytes = 32;
#else
constexpr int kNativeBytes = 16;  // SSE2, which every x86-64 has
#endif
constexpr int kParts = 64 / kNativeBytes;

// Everything here is inlined whatever GCC's estimate of its size: a call would pass the 64-byte vectors through
// memory (exp16 and tanh16 were left out of line at the avx2 and scalar levels otherwise). The kernel files mark
// their own functions that take or return a Wide with it too.
#define NN_SIMD inline __attribute__((always_inline))

template <class T, int Bytes>
struct VectorOf {
  using type [[gnu::vector_size(Bytes)]] = T;
};
template <class T>
using Native = typename VectorOf<T, kNativeBytes>::type;

// 64 bytes of T: lanes [k·L, (k+1)·L) in part[k], L = kNativeBytes / sizeof(T).
template <class T>
struct Wide {
  static constexpr int kPartLanes = kNativeBytes / static_cast<int>(sizeof(T));
  Native<T> part[kParts];

  T operator[](int lane) const { return part[lane / kPartLanes][lane % kPartLanes]; }
};

using v16 = Wide<float>;
using v16i = Wide<int32_t>;
using v16u = Wide<uint32_t>;
using v32s = Wide<int16_t>;

// The lane masks comparisons give (all ones or zero per lane): signed integers of the lanes' width.
template <class T>
using MaskLane = std::conditional_t<sizeof(T) == 2, int16_t, std::conditional_t<sizeof(T) == 4, int32_t, int64_t>>;
template <class T>
using MaskOf = Wide<MaskLane<T>>;

// Each part of a (and of b) through f, into the parts of a Wide<To>: the one loop of every operation below.
template <class To, class T, class F>
NN_SIMD Wide<To> each(Wide<T> a, F f) {
  Wide<To> r;
  for (int k = 0; k < kParts; ++k) r.part[k] = f(a.part[k]);
  return r;
}
template <class To, class T, class F>
NN_SIMD Wide<To> each(Wide<T> a, Wide<T> b, F f) {
  Wide<To> r;
  for (int k = 0; k < kParts; ++k) r.part[k] = f(a.part[k], b.part[k]);
  return r;
}

template <class T>
NN_SIMD Wide<T> splat(T x) {
  Wide<T> v;
  for (auto& p : v.part) p = x - Native<T>{};  // x − 0 is x (−0 too), so GCC broadcasts x; 0 + x it must compute
  return v;
}

// A scalar that may stand for every lane of a Wide<T>: a T, or any integer for integer lanes (a constant such as
// 0x7fff against int16 lanes). A double against float lanes is refused, as GCC's vectors refuse it.
template <class S, class T>
constexpr bool kLaneScalar = std::is_same_v<S, T> || (std::is_integral_v<S> && std::is_integral_v<T>);
template <class S, class T>
concept LaneScalar = kLaneScalar<S, T>;

// Arithmetic and bitwise operators lane by lane, with a scalar on either side as GCC's vectors allow.
#define NN_WIDE_OPERATOR(op)                                               \
  template <class T>                                                       \
  NN_SIMD Wide<T> operator op(Wide<T> a, Wide<T> b) {                      \
    return each<T>(a, b, [](Native<T> x, Native<T> y) { return x op y; }); \
  }                                                                        \
  template <class T, LaneScalar<T> S>                                      \
  NN_SIMD Wide<T> operator op(Wide<T> a, S b) {                            \
    return a op splat<T>(static_cast<T>(b));                               \
  }                                                                        \
  template <class T, LaneScalar<T> S>                                      \
  NN_SIMD Wide<T> operator op(S a, Wide<T> b) {                            \
    return splat<T>(static_cast<T>(a)) op b;                               \
  }                                                                        \
  template <class T, class U>                                              \
  NN_SIMD Wide<T>& operator op##=(Wide<T>& a, U b) {                       \
    return a = a op b;                                                     \
  }
NN_WIDE_OPERATOR(+)
NN_WIDE_OPERATOR(-)
NN_WIDE_OPERATOR(*)
NN_WIDE_OPERATOR(/)
NN_WIDE_OPERATOR(&)
NN_WIDE_OPERATOR(|)
NN_WIDE_OPERATOR(^)
#undef NN_WIDE_OPERATOR

template <class T>
NN_SIMD Wide<T> operator-(Wide<T> a) {
  return each<T>(a, [](Native<T> x) { return -x; });
}
template <class T>
NN_SIMD Wide<T> operator~(Wide<T> a) {
  return each<T>(a, [](Native<T> x) { return ~x; });
}
template <class T>
NN_SIMD Wide<T> operator<<(Wide<T> a, int bits) {
  return each<T>(a, [bits](Native<T> x) { return x << bits; });
}
template <class T>
NN_SIMD Wide<T> operator>>(Wide<T> a, int bits) {  // arithmetic for signed lanes, logical for unsigned, as on scalars
  return each<T>(a, [bits](Native<T> x) { return x >> bits; });
}

// Comparisons, lane by lane, against another vector or a scalar: a mask (a NaN compares false).
#define NN_WIDE_COMPARISON(op)                                                       \
  template <class T>                                                                 \
  NN_SIMD MaskOf<T> operator op(Wide<T> a, Wide<T> b) {                              \
    return each<MaskLane<T>>(a, b, [](Native<T> x, Native<T> y) { return x op y; }); \
  }                                                                                  \
  template <class T, LaneScalar<T> S>                                                \
  NN_SIMD MaskOf<T> operator op(Wide<T> a, S b) {                                    \
    return a op splat<T>(static_cast<T>(b));                                         \
  }
NN_WIDE_COMPARISON(<)
NN_WIDE_COMPARISON(<=)
NN_WIDE_COMPARISON(>)
NN_WIDE_COMPARISON(>=)
NN_WIDE_COMPARISON(==)
#undef NN_WIDE_COMPARISON

// mask ? a : b, lane by lane.
template <class M, class T>
NN_SIMD Wide<T> where(Wide<M> mask, Wide<T> a, Wide<T> b) {
  static_assert(sizeof(M) == sizeof(T));
  for (int k = 0; k < kParts; ++k) a.part[k] = mask.part[k] ? a.part[k] : b.part[k];
  return a;
}

// The same bits as lanes of To (same width).
template <class To, class From>
NN_SIMD Wide<To> bits_as(Wide<From> v) {
  static_assert(sizeof(To) == sizeof(From));
  return each<To>(v, [](Native<From> x) { return reinterpret_cast<Native<To>>(x); });
}

// Each lane converted to To (same width; float to integer truncates), as static_cast does one.
template <class To, class From>
NN_SIMD Wide<To> convert(Wide<From> v) {
  static_assert(sizeof(To) == sizeof(From));
  return each<To>(v, [](Native<From> x) { return __builtin_convertvector(x, Native<To>); });
}

// One native vector at p (any alignment), and its store.
template <class T>
NN_SIMD Native<T> load_native(const void* p) {
  Native<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
NN_SIMD void store_native(void* p, Native<T> v) {
  std::memcpy(p, &v, sizeof v);
}

// 64 bytes at p (any alignment), and their store: part by part (a copy of the whole struct goes through the stack).
template <class T>
NN_SIMD Wide<T> load_wide(const void* p) {
  Wide<T> v;
  for (int k = 0; k < kParts; ++k) v.part[k] = load_native<T>(static_cast<const char*>(p) + k * kNativeBytes);
  return v;
}
template <class T>
NN_SIMD void store_wide(void* p, Wide<T> v) {
  for (int k = 0; k < kParts; ++k) store_native<T>(static_cast<char*>(p) + k * kNativeBytes, v.part[k]);
}

NN_SIMD v16 load16(const float* p) {
  return load_wide<float>(p);
}
NN_SIMD void store16(float* p, v16 v) {
  store_wide(p, v);
}
NN_SIMD v16 splat16(float x) {
  return splat(x);
}

// The first `count` (≤ 16) floats at p, `fill` in the other lanes; and their store (the rest of p untouched). A count
// of 16 is a plain load or store; fewer go through a stack copy.
NN_SIMD v16 load16_partial(const float* p, int64_t count, float fill) {
  if (count >= 16) return load16(p);
  float lanes[16];
  for (float& x : lanes) x = fill;
  std::memcpy(lanes, p, sizeof(float) * static_cast<size_t>(count));
  return load16(lanes);
}
NN_SIMD void store16_partial(float* p, v16 v, int64_t count) {
  if (count >= 16) return store16(p, v);
  float lanes[16];
  store16(lanes, v);
  std::memcpy(p, lanes, sizeof(float) * static_cast<size_t>(count));
}

// 16 uint16s at p (any alignment) widened to uint32 lanes, and 16 uint32 lanes narrowed (the low halves kept) into p.
template <class T>
using Half = typename VectorOf<T, kNativeBytes / 2>::type;
NN_SIMD v16u load16_widened(const void* p) {
  v16u v;
  for (int k = 0; k < kParts; ++k) {
    Half<uint16_t> h;
    std::memcpy(&h, static_cast<const char*>(p) + k * sizeof h, sizeof h);
    v.part[k] = __builtin_convertvector(h, Native<uint32_t>);
  }
  return v;
}
NN_SIMD void store16_narrowed(void* p, v16u v) {
  for (int k = 0; k < kParts; ++k) {
    const auto h = __builtin_convertvector(v.part[k], Half<uint16_t>);
    std::memcpy(static_cast<char*>(p) + k * sizeof h, &h, sizeof h);
  }
}

// The 16 lanes of v as doubles: lanes 0–7 in low, 8–15 in high.
struct Doubles16 {
  Wide<double> low, high;
};
NN_SIMD Doubles16 to_doubles(v16 v) {
  Doubles16 d;
#if defined(__AVX512F__)
  // Each half of the one register converted into a register of doubles (vcvtps2pd from the low half and from
  // vextractf32x8's). Through the vector of twice its bytes below, GCC 12 moved the results via the stack in 32-byte
  // stores read back as 64-byte loads, which the store buffer cannot forward: softmax's sums spent most of their time
  // on those loads.
  const Half<float> low = __builtin_shufflevector(v.part[0], v.part[0], 0, 1, 2, 3, 4, 5, 6, 7);
  const Half<float> high = __builtin_shufflevector(v.part[0], v.part[0], 8, 9, 10, 11, 12, 13, 14, 15);
  d.low.part[0] = __builtin_convertvector(low, Native<double>);
  d.high.part[0] = __builtin_convertvector(high, Native<double>);
#else
  // Each native vector of floats converted whole, into a vector of twice its bytes (GCC 12 splits the conversion of
  // a half into pieces of two lanes that pass through the stack).
  using Twice = typename VectorOf<double, 2 * kNativeBytes>::type;
  Native<double> parts[2 * kParts];  // part j: lanes [j·L/2, (j+1)·L/2) of v, L = v16::kPartLanes
  for (int k = 0; k < kParts; ++k) {
    const Twice wide = __builtin_convertvector(v.part[k], Twice);
    std::memcpy(&parts[2 * k], &wide, sizeof wide);
  }
  std::memcpy(d.low.part, parts, sizeof d.low.part);
  std::memcpy(d.high.part, parts + kParts, sizeof d.high.part);
#endif
  return d;
}

// The larger of a and b, lane by lane (a NaN in either gives b).
NN_SIMD v16 max16(v16 a, v16 b) {
  return where(a > b, a, b);
}

// e^x, lane by lane: Cephes's expf — x = n·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, so that r is exact), a
// degree-6 polynomial for e^r, and 2^n written into the exponent bits. Within 2 ulp of std::exp over the range that
// matters here; exactly 0 below ln(FLT_MIN) ≈ −87.34 (where std::exp gives denormals or 0), and x clamped at 88 above
// (e^88 ≈ 1.65e38: the softmax passes x ≤ 0, and the sigmoid and tanh below saturate long before).
NN_SIMD v16 exp16(v16 x) {
  const v16i underflow = x < -87.336f;
  x = where(x > 88.0f, splat16(88.0f), x);
  x = where(underflow, splat16(-87.336f), x);
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
  const v16i bits = (convert<int32_t>(n) + 127) << 23;  // 2^n, n in [−126, 127]
  return where(underflow, v16{}, p * bits_as<float>(bits));
}

// The logistic function 1 / (1 + e^−x), lane by lane: 1 where float rounds there, and exactly 0 below −87 (where it
// would be a denormal, the slow case this library flushes elsewhere).
NN_SIMD v16 sigmoid16(v16 x) {
  return where(x < -87.0f, v16{}, 1.0f / (1.0f + exp16(-x)));
}

// tanh x, lane by lane: Cephes's tanhf — an odd polynomial for |x| < 0.625 (where 1 − 2/(e^2x + 1) would lose the
// relative accuracy of small x), 1 − 2/(e^2|x| + 1) with x's sign elsewhere. Within a few ulp of std::tanh.
NN_SIMD v16 tanh16(v16 x) {
  const v16i sign = bits_as<int32_t>(x) & static_cast<int32_t>(0x80000000u);
  const v16 a = bits_as<float>(bits_as<int32_t>(x) & 0x7fffffff);
  const v16 z = x * x;
  v16 small = splat16(-5.70498872745e-3f);
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const v16 large_abs = 1.0f - 2.0f / (exp16(a + a) + 1.0f);
  const v16 large = bits_as<float>(bits_as<int32_t>(large_abs) | sign);
  return where(a < 0.625f, small, large);
}

}  // namespace
}  // namespace nn::kernels
