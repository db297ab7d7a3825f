// The memory-bound bf16 kernels (bf16.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this
// copy's. Each loads 16 bf16 channels, widens them to f32 by a shift, computes as its f32 twin does and rounds once
// on the store (to nearest even, as nn::to_bfloat16): half the bytes of the f32 kernels for the same arithmetic.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "nn/backends/cpu/bf16.h"
#include "nn/backends/cpu/depthwise_rows.h"
#include "nn/backends/cpu/pool_span.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

namespace {

constexpr int64_t kLanes = 16;  // channels per vector
constexpr int64_t kTile = 8;    // adjacent output pixels per depthwise tile: each weight load serves eight FMAs

// Scalar conversions of this file's own (dtype.h's inline ones compiled here could be the copy the linker keeps for
// the whole program, as simd.h explains).
float widen(bfloat16 h) {
  const uint32_t u = static_cast<uint32_t>(h.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

bfloat16 narrow(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40)};  // NaN stays quiet NaN
  return {static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

NN_SIMD v16 load16(const bfloat16* p) {
  return bits_as<float>(load16_widened(p) << 16);
}

// 16 floats rounded to nearest even, as narrow() rounds one.
NN_SIMD void store16(bfloat16* p, v16 v) {
  const v16u u = bits_as<uint32_t>(v);
  const v16u rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  store16_narrowed(p, where((u & 0x7fffffffu) > 0x7f800000u, (u >> 16) | 0x40u, rounded));
}

// 32 bf16 values as int16 keys that order as the values do: a negative value's magnitude bits flipped (−0 just
// below +0). The map is its own inverse.
NN_SIMD v32s key32(const bfloat16* p) {
  const v32s v = load_wide<int16_t>(p);
  return v ^ ((v >> 15) & 0x7fff);
}

NN_SIMD void store_key32(bfloat16* p, v32s k) {
  store_wide(p, k ^ ((k >> 15) & 0x7fff));
}

// 16 floats that are bf16 values already (a maximum of bf16 inputs): their upper halves, no rounding to do.
NN_SIMD void store16_exact(bfloat16* p, v16 v) {
  store16_narrowed(p, bits_as<uint32_t>(v) >> 16);
}

// Calls block(c0) for 16-channel blocks covering [0, channels): the last one ends at `channels`, overlapping the one
// before (writing the same values again); scalar(c) for each channel when there are fewer than 16.
template <class Block, class Scalar>
void over_channels(int64_t channels, Block&& block, Scalar&& scalar) {
  if (channels < kLanes) {
    for (int64_t c = 0; c < channels; ++c) scalar(c);
    return;
  }
  int64_t c0 = 0;
  for (; c0 + kLanes <= channels; c0 += kLanes) block(c0);
  if (c0 < channels) block(channels - kLanes);
}

// Output pixels [ow0, ow0 + T) of row (n, oh), channels [c_begin, c_end). With Interior every horizontal tap of
// every pixel lies inside the image; otherwise T is 1 and the taps are clipped. Stride 1 with three taps per row
// slides the input vectors through registers, each loaded (and widened) once per row (depthwise_fast.cpp's
// depthwise_tile, on bf16).
template <int64_t T, bool Interior, bool Relu>
void depthwise_tile(const Window2D& g, const bfloat16* x, const bfloat16* w, const float* bias, bfloat16* y, int64_t n,
                    int64_t oh, int64_t ow0, int64_t c_begin, int64_t c_end) {
  // The input as read: with Relu, max(x, 0) (g.relu_input; NaN reads as 0, as relu gives).
  auto in16 = [](const bfloat16* p) {
    const v16 v = load16(p);
    if constexpr (Relu) return where(v > 0.0f, v, v16{});
    return v;
  };
  auto in1 = [](bfloat16 h) {
    const float v = widen(h);
    return Relu ? (v > 0.0f ? v : 0.0f) : v;
  };
  const int64_t C = g.c;
  const int64_t kh0 = std::max<int64_t>(0, g.pad_top - oh * g.sh);
  const int64_t kh1 = std::min<int64_t>(g.kh, g.h + g.pad_top - oh * g.sh);
  const int64_t kw0 = Interior ? 0 : std::max<int64_t>(0, g.pad_left - ow0 * g.sw);
  const int64_t kw1 = Interior ? g.kw : std::min<int64_t>(g.kw, g.w + g.pad_left - ow0 * g.sw);
  const bfloat16* base = x + ((n * g.h + oh * g.sh - g.pad_top) * g.w + ow0 * g.sw - g.pad_left) * C;
  bfloat16* out = y + ((n * g.oh + oh) * g.ow + ow0) * C;
  const int64_t row_stride = g.w * C, pixel_stride = g.sw * C;
  const bool slide = Interior && T > 1 && g.kw == 3 && g.sw == 1;
  auto block = [&](int64_t c0) {
    v16 acc[T];
    const v16 start = bias ? kernels::load16(bias + c0) : v16{};
#pragma GCC unroll 8
    for (int64_t t = 0; t < T; ++t) acc[t] = start;
    if (slide) {
      for (int64_t kh = kh0; kh < kh1; ++kh) {
        const bfloat16* wk = w + kh * 3 * C + c0;
        const v16 w0 = load16(wk), w1 = load16(wk + C), w2 = load16(wk + 2 * C);
        const bfloat16* in = base + kh * row_stride + c0;
        v16 a = in16(in), b = in16(in + C);
#pragma GCC unroll 8
        for (int64_t t = 0; t < T; ++t) {
          const v16 next = in16(in + (t + 2) * C);
          acc[t] += a * w0 + b * w1 + next * w2;
          a = b;
          b = next;
        }
      }
    } else {
      for (int64_t kh = kh0; kh < kh1; ++kh)
        for (int64_t kw = kw0; kw < kw1; ++kw) {
          const v16 wk = load16(w + (kh * g.kw + kw) * C + c0);
          const bfloat16* in = base + kh * row_stride + kw * C + c0;
#pragma GCC unroll 8
          for (int64_t t = 0; t < T; ++t) acc[t] += in16(in + t * pixel_stride) * wk;
        }
    }
#pragma GCC unroll 8
    for (int64_t t = 0; t < T; ++t) store16(out + t * C + c0, acc[t]);
  };
  int64_t c0 = c_begin;
  for (; c0 + kLanes <= c_end; c0 += kLanes) block(c0);
  if (c0 == c_end) return;
  if (c_end >= kLanes) {  // the last channels: a block ending at c_end, overlapping the one before
    block(c_end - kLanes);
    return;
  }
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = c0; c < c_end; ++c) {
      float acc = bias ? bias[c] : 0.0f;
      for (int64_t kh = kh0; kh < kh1; ++kh)
        for (int64_t kw = kw0; kw < kw1; ++kw)
          acc += in1(base[kh * row_stride + kw * C + t * pixel_stride + c]) * widen(w[(kh * g.kw + kw) * C + c]);
      out[t * C + c] = narrow(acc);
    }
}

// Max (exact: the largest bf16 is stored as it is) or average (an f32 sum over the real pixels, divided, rounded
// once) of each window; threads over output rows, as pool_fast.cpp.
template <bool Max>
void pool_bf16(const Window2D& g, const bfloat16* x, bfloat16* y) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const Span s = span_of(g, oh, ow);
        const bfloat16* in = x + n * g.h * g.w * C;
        bfloat16* out = y + ((n * g.oh + oh) * g.ow + ow) * C;
        if (Max && C >= 2 * kLanes) {
          // 32 channels per vector, compared as integer keys: no widening, the maximum stored as it was read.
          auto block = [&](int64_t c0) {
            v32s best = key32(in + (s.h0 * g.w + s.w0) * C + c0);
            for (int64_t ih = s.h0; ih < s.h1; ++ih)
              for (int64_t iw = s.w0; iw < s.w1; ++iw) {
                const v32s v = key32(in + (ih * g.w + iw) * C + c0);
                best = where(v > best, v, best);
              }
            store_key32(out + c0, best);
          };
          int64_t c0 = 0;
          for (; c0 + 2 * kLanes <= C; c0 += 2 * kLanes) block(c0);
          if (c0 < C) block(C - 2 * kLanes);
          continue;
        }
        const float count = static_cast<float>(s.count());
        auto block = [&](int64_t c0) {
          v16 acc = Max ? load16(in + (s.h0 * g.w + s.w0) * C + c0) : v16{};
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) {
              const v16 v = load16(in + (ih * g.w + iw) * C + c0);
              acc = Max ? max16(acc, v) : acc + v;
            }
          if (Max) {
            store16_exact(out + c0, acc);
          } else {
            store16(out + c0, acc / count);
          }
        };
        auto scalar = [&](int64_t c) {
          float acc = Max ? widen(in[(s.h0 * g.w + s.w0) * C + c]) : 0.0f;
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) {
              const float v = widen(in[(ih * g.w + iw) * C + c]);
              acc = Max ? std::max(acc, v) : acc + v;
            }
          out[c] = narrow(Max ? acc : acc / count);
        };
        over_channels(C, block, scalar);
      }
}

}  // namespace

namespace {

template <bool Relu>
void depthwise_rows_bf16(const Window2D& g, const bfloat16* x, const bfloat16* w, const float* bias, bfloat16* y) {
  for_each_depthwise_tile<kTile>(
      g, [&]<int64_t T, bool Interior>(int64_t n, int64_t oh, int64_t ow, int64_t c0, int64_t c1) {
        depthwise_tile<T, Interior, Relu>(g, x, w, bias, y, n, oh, ow, c0, c1);
      });
}

}  // namespace

template <>
void depthwise_forward_bf16<kCompiledIsa>(const Window2D& g, const bfloat16* x, const bfloat16* w, const float* bias,
                                          bfloat16* y) {
  if (g.relu_input) {
    depthwise_rows_bf16<true>(g, x, w, bias, y);
  } else {
    depthwise_rows_bf16<false>(g, x, w, bias, y);
  }
}

template <>
void pool_forward_bf16<kCompiledIsa>(Pool kind, const Window2D& g, const bfloat16* x, bfloat16* y) {
  if (kind == Pool::max) {
    pool_bf16<true>(g, x, y);
  } else {
    pool_bf16<false>(g, x, y);
  }
}

template <>
void channel_affine_bf16<kCompiledIsa>(int64_t rows, int64_t channels, const ChannelAffine& p, const bfloat16* x,
                                       bfloat16* y) {
  // y may be x: the last channels (fewer than 16) go through zero-padded copies rather than an overlapping block.
  const int64_t full = channels / kLanes * kLanes, tail = channels - full;
#pragma omp parallel for if (rows * channels > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const bfloat16* in = x + i * channels;
    bfloat16* out = y + i * channels;
    auto affine = [&](int64_t c0, v16 v) {
      return kernels::load16(p.gamma + c0) * (v - kernels::load16(p.mean + c0)) * kernels::load16(p.inv_std + c0) +
             kernels::load16(p.beta + c0);
    };
    for (int64_t c0 = 0; c0 < full; c0 += kLanes) store16(out + c0, affine(c0, load16(in + c0)));
    if (tail == 0) continue;
    bfloat16 part[kLanes] = {};
    std::memcpy(static_cast<void*>(part), in + full, tail * sizeof *part);
    float gamma[kLanes] = {}, mean[kLanes] = {}, inv_std[kLanes] = {}, beta[kLanes] = {};
    std::memcpy(gamma, p.gamma + full, tail * sizeof *gamma);
    std::memcpy(mean, p.mean + full, tail * sizeof *mean);
    std::memcpy(inv_std, p.inv_std + full, tail * sizeof *inv_std);
    std::memcpy(beta, p.beta + full, tail * sizeof *beta);
    const v16 v = load16(part);
    store16(part,
            kernels::load16(gamma) * (v - kernels::load16(mean)) * kernels::load16(inv_std) + kernels::load16(beta));
    std::memcpy(static_cast<void*>(out + full), part, tail * sizeof *part);
  }
}

template <>
void widen_bf16<kCompiledIsa>(int64_t n, const bfloat16* x, float* y) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) kernels::store16(y + i, load16(x + i));
  for (; i < n; ++i) y[i] = widen(x[i]);
}

template <>
void narrow_to_bf16<kCompiledIsa>(int64_t n, const float* x, bfloat16* y) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store16(y + i, kernels::load16(x + i));
  for (; i < n; ++i) y[i] = narrow(x[i]);
}

template <>
void relu_bf16<kCompiledIsa>(int64_t n, const bfloat16* x, bfloat16* y) {
  // On the bits as int16: positive and at most +inf (0x7f80) keeps its value; zeros, negatives and NaNs become +0,
  // as the f32 relu (x > 0 ? x : 0) gives.
  auto relu = [](v32s v) { return where((v > 0) & (v <= 0x7f80), v, v32s{}); };
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    store_wide(y + i, relu(load_wide<int16_t>(x + i)));
  }
  for (; i < n; ++i) {
    const auto v = static_cast<int16_t>(x[i].bits);
    y[i].bits = v > 0 && v <= 0x7f80 ? x[i].bits : uint16_t{0};
  }
}

}  // namespace nn::kernels
