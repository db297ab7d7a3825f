// The fast depthwise kernels (depthwise.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this
// copy's.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "nn/backends/cpu/depthwise.h"
#include "nn/backends/cpu/depthwise_rows.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

namespace {

constexpr int64_t kLanes = 16;  // channels per block: one AVX-512 vector, two AVX ones, four SSE ones
constexpr int64_t kTile = 8;    // adjacent output pixels computed together, so each weight load serves eight FMAs

// The window taps of output row oh that fall inside the image.
struct Rows {
  int64_t kh0, kh1;
};
Rows rows_inside(const Window2D& g, int64_t oh) {
  return {std::max<int64_t>(0, g.pad_top - oh * g.sh), std::min<int64_t>(g.kh, g.h + g.pad_top - oh * g.sh)};
}

// One native vector of floats (8 at the avx2 level).
using Vector = Native<float>;
constexpr int64_t kVectorLanes = v16::kPartLanes;

// Output pixels [ow0, ow0 + T) of row (n, oh), channels [c_begin, c_end). With Interior, every horizontal tap of
// every pixel lies inside the image; otherwise T is 1 and the taps are clipped. The window geometry is worked out
// once; then each 16-channel block is summed in vector registers, one native vector of channels at a time (at the
// avx2 level a 16-channel block's 2·T accumulators spilled; T + 6 of one vector's fit the 16 registers), and stored
// once. The last channels go through a block ending at c_end (overlapping the previous one, writing the same values
// again) when there are at least 16 channels, else through a scalar loop.
template <int64_t T, bool Interior, bool Relu>
void depthwise_tile(const Window2D& g, const float* x, const float* w, const float* bias, float* y, int64_t n,
                    int64_t oh, int64_t ow0, int64_t c_begin, int64_t c_end) {
  // The input as read: with Relu, max(x, 0) (g.relu_input; NaN reads as 0, as relu gives).
  auto in = [](const float* p) {
    const Vector v = load_native<float>(p);
    if constexpr (Relu) return v > 0.0f ? v : Vector{};
    return v;
  };
  const int64_t C = g.c;
  const Rows r = rows_inside(g, oh);
  const int64_t kw0 = Interior ? 0 : std::max<int64_t>(0, g.pad_left - ow0 * g.sw);
  const int64_t kw1 = Interior ? g.kw : std::min<int64_t>(g.kw, g.w + g.pad_left - ow0 * g.sw);
  const float* base = x + ((n * g.h + oh * g.sh - g.pad_top) * g.w + ow0 * g.sw - g.pad_left) * C;
  float* out = y + ((n * g.oh + oh) * g.ow + ow0) * C;
  const int64_t row_stride = g.w * C, pixel_stride = g.sw * C;
  const bool slide = Interior && T > 1 && g.kw == 3 && g.sw == 1;
  auto vector_block = [&](int64_t c0) {  // channels [c0, c0 + kVectorLanes)
    Vector acc[T];
    const Vector start = bias ? load_native<float>(bias + c0) : Vector{};
#pragma GCC unroll 8
    for (int64_t t = 0; t < T; ++t) acc[t] = start;
    if (slide) {
      // Stride 1, three taps per row: the input vectors slide through registers, each loaded once per row.
      for (int64_t kh = r.kh0; kh < r.kh1; ++kh) {
        const float* wk = w + kh * 3 * C + c0;
        const Vector w0 = load_native<float>(wk), w1 = load_native<float>(wk + C), w2 = load_native<float>(wk + 2 * C);
        const float* row = base + kh * row_stride + c0;
        Vector a = in(row), b = in(row + C);
#pragma GCC unroll 8
        for (int64_t t = 0; t < T; ++t) {
          const Vector next = in(row + (t + 2) * C);
          acc[t] += a * w0 + b * w1 + next * w2;
          a = b;
          b = next;
        }
      }
    } else {
      for (int64_t kh = r.kh0; kh < r.kh1; ++kh)
        for (int64_t kw = kw0; kw < kw1; ++kw) {
          const Vector wk = load_native<float>(w + (kh * g.kw + kw) * C + c0);
          const float* tap = base + kh * row_stride + kw * C + c0;
#pragma GCC unroll 8
          for (int64_t t = 0; t < T; ++t) acc[t] += in(tap + t * pixel_stride) * wk;
        }
    }
#pragma GCC unroll 8
    for (int64_t t = 0; t < T; ++t) store_native<float>(out + t * C + c0, acc[t]);
  };
  auto block = [&](int64_t c0) {
    for (int64_t v = 0; v < kLanes; v += kVectorLanes) vector_block(c0 + v);
  };
  int64_t c0 = c_begin;
  for (; c0 + kLanes <= c_end; c0 += kLanes) block(c0);
  if (c0 == c_end) return;
  if (c_end >= kLanes) {
    block(c_end - kLanes);
    return;
  }
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = c0; c < c_end; ++c) {
      float acc = bias ? bias[c] : 0.0f;
      for (int64_t kh = r.kh0; kh < r.kh1; ++kh)
        for (int64_t kw = kw0; kw < kw1; ++kw) {
          const float v = base[kh * row_stride + kw * C + t * pixel_stride + c];
          acc += (Relu ? (v > 0.0f ? v : 0.0f) : v) * w[(kh * g.kw + kw) * C + c];
        }
      out[t * C + c] = acc;
    }
}

template <bool Relu>
void depthwise_forward_rows(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  for_each_depthwise_tile<kTile>(
      g, [&]<int64_t T, bool Interior>(int64_t n, int64_t oh, int64_t ow, int64_t c0, int64_t c1) {
        depthwise_tile<T, Interior, Relu>(g, x, w, bias, y, n, oh, ow, c0, c1);
      });
}

}  // namespace

template <>
void depthwise_forward<kCompiledIsa>(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  if (g.relu_input) {
    depthwise_forward_rows<true>(g, x, w, bias, y);
  } else {
    depthwise_forward_rows<false>(g, x, w, bias, y);
  }
}

template <>
void depthwise_backward_input<kCompiledIsa>(const Window2D& g, const float* dy, const float* w, float* dx,
                                            float* workspace) {
  if (g.sh == 1 && g.sw == 1) {
    // With stride 1, dx is dy convolved with the flipped filter under the complementary padding: the forward
    // kernel, on a flipped copy of w in the workspace.
    for (int64_t kh = 0; kh < g.kh; ++kh)
      for (int64_t kw = 0; kw < g.kw; ++kw)
        std::copy_n(w + (kh * g.kw + kw) * g.c, g.c, workspace + ((g.kh - 1 - kh) * g.kw + (g.kw - 1 - kw)) * g.c);
    Window2D t = g;
    t.relu_input = false;  // dy is read as it is
    t.h = g.oh, t.w = g.ow, t.oh = g.h, t.ow = g.w;
    t.pad_top = g.kh - 1 - g.pad_top, t.pad_left = g.kw - 1 - g.pad_left;
    depthwise_forward<kCompiledIsa>(t, dy, workspace, nullptr, dx);
    return;
  }
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ih = 0; ih < g.h; ++ih)
      for (int64_t iw = 0; iw < g.w; ++iw) {
        float* __restrict out = dx + ((n * g.h + ih) * g.w + iw) * C;
        std::fill_n(out, C, 0.0f);
        // Output (oh, ow) reads this pixel through tap (kh, kw) when oh·sh − pad_top + kh = ih.
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          int64_t t = ih + g.pad_top - kh;
          if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
          int64_t oh = t / g.sh;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            int64_t u = iw + g.pad_left - kw;
            if (u < 0 || u % g.sw != 0 || u / g.sw >= g.ow) continue;
            int64_t ow = u / g.sw;
            const float* __restrict grad = dy + ((n * g.oh + oh) * g.ow + ow) * C;
            const float* __restrict wk = w + (kh * g.kw + kw) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += grad[c] * wk[c];
          }
        }
      }
}

namespace {

// Adds to acc (taps × C) the products of the output gradients of pixels [ow0, ow0 + T) of row (n, oh) with the
// inputs under each tap, one channel block at a time, the nine (or KH·KW) sums of a block held in registers.
template <int64_t T>
void weight_tile(const Window2D& g, const float* x, const float* dy, float* acc, int64_t n, int64_t oh, int64_t ow0) {
  const int64_t C = g.c;
  const Rows r = rows_inside(g, oh);
  const int64_t kw0 = std::max<int64_t>(0, g.pad_left - ow0 * g.sw);
  const int64_t kw1 = std::min<int64_t>(g.kw, g.w + g.pad_left - (ow0 + T - 1) * g.sw);
  const float* base = x + ((n * g.h + oh * g.sh - g.pad_top) * g.w + ow0 * g.sw - g.pad_left) * C;
  const float* grad = dy + ((n * g.oh + oh) * g.ow + ow0) * C;
  for (int64_t c0 = 0; c0 < C; c0 += kLanes) {
    if (c0 + kLanes > C) {  // the last channels, scalar
      for (int64_t c = c0; c < C; ++c)
        for (int64_t kh = r.kh0; kh < r.kh1; ++kh)
          for (int64_t kw = kw0; kw < kw1; ++kw)
            for (int64_t t = 0; t < T; ++t)
              acc[(kh * g.kw + kw) * C + c] += base[(kh * g.w + kw + t * g.sw) * C + c] * grad[t * C + c];
      break;
    }
    for (int64_t kh = r.kh0; kh < r.kh1; ++kh)
      for (int64_t kw = kw0; kw < kw1; ++kw) {
        float* a = acc + (kh * g.kw + kw) * C + c0;
        v16 sum = load16(a);
        const float* in = base + (kh * g.w + kw) * C + c0;
#pragma GCC unroll 8
        for (int64_t t = 0; t < T; ++t) sum += load16(in + t * g.sw * C) * load16(grad + t * C + c0);
        store16(a, sum);
      }
  }
}

// weight_tile for a 3×3 window whose nine taps all lie inside the image for every pixel of the tile: the nine
// sums of a channel block stay in registers across the tile's pixels, one native vector of channels at a time (as
// in the forward: sixteen channels' nine sums alone took 18 of AVX2's 16 registers; one vector's nine sums and ten
// inputs still spill a few).
template <int64_t T>
void weight_tile_3x3(const Window2D& g, const float* x, const float* dy, float* acc, int64_t n, int64_t oh,
                     int64_t ow0) {
  const int64_t C = g.c;
  const float* base = x + ((n * g.h + oh * g.sh - g.pad_top) * g.w + ow0 * g.sw - g.pad_left) * C;
  const float* grad = dy + ((n * g.oh + oh) * g.ow + ow0) * C;
  const int64_t row_stride = g.w * C, pixel_stride = g.sw * C;
  int64_t c0 = 0;
  for (; c0 + kVectorLanes <= C; c0 += kVectorLanes) {
    Vector sum[9];
#pragma GCC unroll 9
    for (int tap = 0; tap < 9; ++tap) sum[tap] = load_native<float>(acc + tap * C + c0);
    const float* in0 = base + c0;
    const float* in1 = in0 + row_stride;
    const float* in2 = in1 + row_stride;
    if (g.sw == 1) {
      // Stride 1: each row's input vectors slide through registers, loaded once per tile.
      Vector a0 = load_native<float>(in0), b0 = load_native<float>(in0 + C), a1 = load_native<float>(in1),
             b1 = load_native<float>(in1 + C);
      Vector a2 = load_native<float>(in2), b2 = load_native<float>(in2 + C);
#pragma GCC unroll 8
      for (int64_t t = 0; t < T; ++t) {
        const Vector gv = load_native<float>(grad + t * C + c0);
        const Vector n0 = load_native<float>(in0 + (t + 2) * C), n1 = load_native<float>(in1 + (t + 2) * C),
                     n2 = load_native<float>(in2 + (t + 2) * C);
        sum[0] += a0 * gv, sum[1] += b0 * gv, sum[2] += n0 * gv;
        sum[3] += a1 * gv, sum[4] += b1 * gv, sum[5] += n1 * gv;
        sum[6] += a2 * gv, sum[7] += b2 * gv, sum[8] += n2 * gv;
        a0 = b0, b0 = n0, a1 = b1, b1 = n1, a2 = b2, b2 = n2;
      }
    } else {
      for (int64_t t = 0; t < T; ++t) {
        const Vector gv = load_native<float>(grad + t * C + c0);
        const int64_t o = t * pixel_stride;
        sum[0] += load_native<float>(in0 + o) * gv, sum[1] += load_native<float>(in0 + o + C) * gv;
        sum[2] += load_native<float>(in0 + o + 2 * C) * gv, sum[3] += load_native<float>(in1 + o) * gv;
        sum[4] += load_native<float>(in1 + o + C) * gv, sum[5] += load_native<float>(in1 + o + 2 * C) * gv;
        sum[6] += load_native<float>(in2 + o) * gv, sum[7] += load_native<float>(in2 + o + C) * gv;
        sum[8] += load_native<float>(in2 + o + 2 * C) * gv;
      }
    }
#pragma GCC unroll 9
    for (int tap = 0; tap < 9; ++tap) store_native<float>(acc + tap * C + c0, sum[tap]);
  }
  for (int64_t c = c0; c < C; ++c)
    for (int tap = 0; tap < 9; ++tap)
      for (int64_t t = 0; t < T; ++t)
        acc[tap * C + c] += base[((tap / 3) * g.w + tap % 3 + t * g.sw) * C + c] * grad[t * C + c];
}

}  // namespace

template <>
void depthwise_backward_weight<kCompiledIsa>(const Window2D& g, const float* x, const float* dy, float* dw,
                                             float* workspace) {
  const int64_t size = g.kh * g.kw * g.c;
  const int threads = std::max(1, omp_get_max_threads());
  // Output columns whose taps all lie inside the image horizontally (as in the forward).
  const auto [inner0, inner1] = interior_columns(g);
  // The team the runtime gives, which may be smaller than asked for (one thread inside another parallel region):
  // only its partial sums are written, so only they are added up.
  int team = 1;
#pragma omp parallel num_threads(threads)
  {
#pragma omp single
    team = omp_get_num_threads();
    float* acc = workspace + size * omp_get_thread_num();
    std::fill_n(acc, size, 0.0f);
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.oh; ++oh) {
        for (int64_t ow = 0; ow < inner0; ++ow) weight_tile<1>(g, x, dy, acc, n, oh, ow);
        int64_t ow = inner0;
        const Rows r = rows_inside(g, oh);
        if (g.kh == 3 && g.kw == 3 && r.kh0 == 0 && r.kh1 == 3) {
          for (; ow + kTile <= inner1; ow += kTile) weight_tile_3x3<kTile>(g, x, dy, acc, n, oh, ow);
          for (; ow < inner1; ++ow) weight_tile_3x3<1>(g, x, dy, acc, n, oh, ow);
        }
        for (; ow + kTile <= inner1; ow += kTile) weight_tile<kTile>(g, x, dy, acc, n, oh, ow);
        for (; ow + 4 <= inner1; ow += 4) weight_tile<4>(g, x, dy, acc, n, oh, ow);
        for (; ow < g.ow; ++ow) weight_tile<1>(g, x, dy, acc, n, oh, ow);
      }
  }
  // dw = the sum of the threads' partial sums.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float total = 0.0f;
    for (int t = 0; t < team; ++t) total += workspace[size * t + i];
    dw[i] = total;
  }
}

}  // namespace nn::kernels
