// The fast Conv2D kernels (conv2d.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this copy's.
#include <algorithm>
#include <cstring>
#include <memory>

#include "nn/backends/cpu/conv2d.h"
#include "nn/backends/cpu/gemm.h"

namespace nn::kernels {

namespace {

int as_int(int64_t v) {
  return static_cast<int>(v);
}

// Output pixel r (flat over N·OH·OW) → its (n, oh, ow).
struct Pixel {
  int64_t n, oh, ow;
};
Pixel pixel_of(const Window2D& g, int64_t r) {
  return {r / (g.oh * g.ow), (r / g.ow) % g.oh, r % g.ow};
}

// cols (rows, KH·KW·C) for output pixels [first, first + rows): each row is the window under that pixel, zeros
// where it hangs over the padding.
void im2col(const Window2D& g, const float* x, int64_t first, int64_t rows, float* cols) {
  const int64_t width = g.kh * g.kw * g.c;
  const int64_t run = g.kw * g.c;  // one window row: KW pixels of C channels, contiguous in NHWC
#pragma omp parallel for if (rows * width > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    Pixel p = pixel_of(g, first + r);
    float* row = cols + r * width;
    const int64_t left = p.ow * g.sw - g.pad_left;
    const bool inside = left >= 0 && left + g.kw <= g.w;
    for (int64_t kh = 0; kh < g.kh; ++kh) {
      int64_t ih = p.oh * g.sh - g.pad_top + kh;
      float* dst = row + kh * run;
      if (ih < 0 || ih >= g.h) {
        std::memset(dst, 0, sizeof(float) * run);
      } else if (inside) {
        const float* src = x + ((p.n * g.h + ih) * g.w + left) * g.c;
#pragma omp simd
        for (int64_t i = 0; i < run; ++i) dst[i] = src[i];  // runs are short (9 floats for RGB): no memcpy call
      } else {
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          int64_t iw = left + kw;
          if (iw < 0 || iw >= g.w) {
            std::memset(dst + kw * g.c, 0, sizeof(float) * g.c);
          } else {
            std::memcpy(dst + kw * g.c, x + ((p.n * g.h + ih) * g.w + iw) * g.c, sizeof(float) * g.c);
          }
        }
      }
    }
  }
}

// dx += the windows of cols (rows, KH·KW·C) for output pixels [first, first + rows), whole output rows. Windows
// of output rows oh and oh + P never share an input row when P·SH ≥ KH, so the rows run in P parallel phases.
void col2im_add(const Window2D& g, const float* cols, int64_t first, int64_t rows, float* dx) {
  const int64_t width = g.kh * g.kw * g.c;
  const int64_t first_row = first / g.ow, row_count = rows / g.ow;  // flat (n, oh) output rows
  const int64_t phases = (g.kh + g.sh - 1) / g.sh;
  for (int64_t phase = 0; phase < phases; ++phase) {
#pragma omp parallel for schedule(static) if (rows * width > (1 << 16))
    for (int64_t k = 0; k < row_count; ++k) {
      const int64_t flat_row = first_row + k;
      if ((flat_row % g.oh) % phases != phase) continue;
      for (int64_t r = k * g.ow; r < (k + 1) * g.ow; ++r) {
        Pixel p = pixel_of(g, first + r);
        const float* row = cols + r * width;
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          int64_t ih = p.oh * g.sh - g.pad_top + kh;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            int64_t iw = p.ow * g.sw - g.pad_left + kw;
            if (iw < 0 || iw >= g.w) continue;
            float* dst = dx + ((p.n * g.h + ih) * g.w + iw) * g.c;
            const float* src = row + (kh * g.kw + kw) * g.c;
#pragma omp simd
            for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
          }
        }
      }
    }
  }
}

// An unpadded stride-1 convolution as a sum of KH implicit GEMMs, with no im2col: for a window row kh, the KW·C
// values under output pixel (oh, ow) are contiguous in x, and consecutive pixels are C floats apart. Computed
// "wide" — W columns per output row instead of OW, the KW − 1 extra ones wrapping into the next input row and
// discarded — so that one GEMM covers the whole image. Only where the windows fit the image on every side: a stride-1
// "same" window of extent 2 pads after only (pad_top = pad_left = 0) — its last window of each row would take the
// next row's first pixel for padding, and the last row's would read past the image.
bool unpadded_stride_1(const Window2D& g) {
  return g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0 && g.oh + g.kh - 1 == g.h &&
         g.ow + g.kw - 1 == g.w && g.kh * g.kw > 1;
}
// At the avx512 level on the AVX-512 GEMM, which reads overlapping rows (lda < K) at full speed; BLAS does not take
// them.
bool wide_gemm(const Window2D& g) {
  return kCompiledIsa == Isa::avx512 && unpadded_stride_1(g) && g.oh * g.ow >= 1024;
}
int64_t wide_rows(const Window2D& g) {
  return g.oh * g.w - (g.kw - 1);
}

void conv2d_forward_wide(const Window2D& g, const float* x, const float* w, const float* bias, float* y, float* wide) {
  const int64_t run = g.kw * g.c;
  for (int64_t n = 0; n < g.n; ++n) {
    const float* image = x + n * g.h * g.w * g.c;
    for (int64_t kh = 0; kh < g.kh; ++kh) {
      gemm({.m = as_int(wide_rows(g)), .n = as_int(g.oc), .k = as_int(run), .lda = as_int(g.c)}, 1.0f,
           image + kh * g.w * g.c, w + kh * run * g.oc, kh == 0 ? 0.0f : 1.0f, wide);
    }
#pragma omp parallel for schedule(static)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const float* src = wide + (oh * g.w + ow) * g.oc;
        float* dst = y + ((n * g.oh + oh) * g.ow + ow) * g.oc;
        for (int64_t o = 0; o < g.oc; ++o) dst[o] = src[o] + (bias ? bias[o] : 0.0f);
      }
  }
}

bool direct_gemm(const Window2D& g) {
  return g.is_pointwise() && g.sh == 1 && g.sw == 1;
}

// Below AVX-512 the same implicit GEMM, forward only, on gemm_panels (gemm.h) in one pass: the window's KH rows its
// taps, the wrapped output rows dropped in its store — no im2col (9·C floats a pixel written, then read) and no wide
// buffer. Where gemm() would run the product on gemm_panels (gemm_takes_panels: at the avx2 level, at most
// kPanelsMaxK values a window, 32–768 output channels, not gemm_narrow's shapes), where it was measured: Xception's
// block1_conv2 (3 × 3, 32 → 64 channels at 149 × 149) on the 2-core Zen 3, im2col + gemm_panels and this alternated
// three times (conv_kernels --shape 149,149,32,64 --kernel 3 --padding valid): forward 9.0–10.8 → 6.2–6.3 ms,
// 40–48 → 69–70 % of the FMA peak.
//
// The implicit GEMM of one image: wide_rows(g) × OC × KH·KW·C, consecutive pixels C floats apart.
GemmShape panels_shape(const Window2D& g) {
  return {.m = as_int(wide_rows(g)), .n = as_int(g.oc), .k = as_int(g.kh * g.kw * g.c), .lda = as_int(g.c)};
}
bool panels_gemm(const Window2D& g) {
  return kCompiledIsa == Isa::avx2 && unpadded_stride_1(g) && gemm_takes_panels(panels_shape(g));
}

void conv2d_forward_panels(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  for (int64_t n = 0; n < g.n; ++n) {
    gemm_panels<kCompiledIsa>(
        panels_shape(g), 1.0f, x + n * g.h * g.w * g.c, w, 0.0f, y + n * g.oh * g.ow * g.oc, bias,
        {.taps = as_int(g.kh), .tap_stride = g.w * g.c, .wide = as_int(g.w), .kept = as_int(g.ow)});
  }
}

}  // namespace

template <>
int64_t conv2d_workspace_floats<kCompiledIsa>(const Window2D& g) {
  if (direct_gemm(g)) return 0;
  if (wide_gemm(g)) return wide_rows(g) * g.oc;          // the wide output (forward) or wide dy (backward)
  if (g.is_pointwise()) return g.n * g.oh * g.ow * g.c;  // the gathered pixels
  return im2col_chunk_rows(g) * g.kh * g.kw * g.c;
}

template <>
void conv2d_forward<kCompiledIsa>(const Window2D& g, const float* x, const float* w, const float* bias, float* y,
                                  float* workspace) {
  const int64_t rows = g.n * g.oh * g.ow;
  const int64_t width = g.kh * g.kw * g.c;
  if (wide_gemm(g)) {
    conv2d_forward_wide(g, x, w, bias, y, workspace);
    return;
  }
  if (panels_gemm(g)) {
    conv2d_forward_panels(g, x, w, bias, y);
    return;
  }
  if (direct_gemm(g)) {
    gemm({.m = as_int(rows), .n = as_int(g.oc), .k = as_int(g.c)}, 1.0f, x, w, 0.0f, y, bias);
    return;
  }
  // A strided pointwise convolution is im2col with a 1×1 window: a gather of the sampled pixels.
  const int64_t step = im2col_chunk_rows(g);
  for (int64_t first = 0; first < rows; first += step) {
    int64_t count = std::min(step, rows - first);
    im2col(g, x, first, count, workspace);
    gemm({.m = as_int(count), .n = as_int(g.oc), .k = as_int(width)}, 1.0f, workspace, w, 0.0f, y + first * g.oc, bias);
  }
}

namespace {

// dy (N,OH,OW,OC) of image n widened to W columns per output row, zeros in the discarded ones: `wide` holds
// wide_rows(g) rows of OC.
void widen(const Window2D& g, const float* dy, int64_t n, float* wide) {
#pragma omp parallel for schedule(static)
  for (int64_t oh = 0; oh < g.oh; ++oh) {
    float* row = wide + oh * g.w * g.oc;
    std::memcpy(row, dy + (n * g.oh + oh) * g.ow * g.oc, sizeof(float) * g.ow * g.oc);
    if (oh + 1 < g.oh) std::fill(row + g.ow * g.oc, row + g.w * g.oc, 0.0f);
  }
}

}  // namespace

template <>
void conv2d_backward_input<kCompiledIsa>(const Window2D& g, const float* dy, const float* w, float* dx,
                                         float* workspace) {
  const int64_t rows = g.n * g.oh * g.ow;
  const int64_t width = g.kh * g.kw * g.c;
  if (direct_gemm(g)) {
    gemm({.m = as_int(rows), .n = as_int(g.c), .k = as_int(g.oc), .transpose_b = true}, 1.0f, dy, w, 0.0f, dx);
    return;
  }
  if (wide_gemm(g)) {
    // Each tap (kh, kw) adds dY_wide · W_tapᵀ to dx shifted by (kh, kw): KH·KW GEMMs whose output rows (C floats
    // apart, C wide) never overlap, written straight into dx.
    std::fill_n(dx, g.input_size(), 0.0f);
    for (int64_t n = 0; n < g.n; ++n) {
      widen(g, dy, n, workspace);
      float* image = dx + n * g.h * g.w * g.c;
      for (int64_t kh = 0; kh < g.kh; ++kh)
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          gemm({.m = as_int(wide_rows(g)),
                .n = as_int(g.c),
                .k = as_int(g.oc),
                .transpose_b = true,
                .ldb = as_int(g.oc)},
               1.0f, workspace, w + (kh * g.kw + kw) * g.c * g.oc, 1.0f, image + (kh * g.w + kw) * g.c);
        }
    }
    return;
  }
  std::fill_n(dx, g.input_size(), 0.0f);
  const int64_t step = im2col_chunk_rows(g);
  for (int64_t first = 0; first < rows; first += step) {
    int64_t count = std::min(step, rows - first);
    gemm({.m = as_int(count), .n = as_int(width), .k = as_int(g.oc), .transpose_b = true}, 1.0f, dy + first * g.oc, w,
         0.0f, workspace);
    col2im_add(g, workspace, first, count, dx);
  }
}

template <>
void conv2d_backward_weight<kCompiledIsa>(const Window2D& g, const float* x, const float* dy, float* dw,
                                          float* workspace) {
  const int64_t rows = g.n * g.oh * g.ow;
  const int64_t width = g.kh * g.kw * g.c;
  if (rows == 0) {
    std::fill_n(dw, width * g.oc, 0.0f);
    return;
  }
  if (wide_gemm(g)) {
    // dW_kh = A_khᵀ · dY_wide, with dY widened to W columns per row (zeros in the discarded ones).
    const int64_t run = g.kw * g.c;
    for (int64_t n = 0; n < g.n; ++n) {
      widen(g, dy, n, workspace);
      const float* image = x + n * g.h * g.w * g.c;
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        gemm({.m = as_int(run), .n = as_int(g.oc), .k = as_int(wide_rows(g)), .transpose_a = true, .lda = as_int(g.c)},
             1.0f, image + kh * g.w * g.c, workspace, n == 0 ? 0.0f : 1.0f, dw + kh * run * g.oc);
      }
    }
    return;
  }
  if (direct_gemm(g)) {
    gemm({.m = as_int(g.c), .n = as_int(g.oc), .k = as_int(rows), .transpose_a = true}, 1.0f, x, dy, 0.0f, dw);
    return;
  }
  const int64_t step = im2col_chunk_rows(g);
  for (int64_t first = 0; first < rows; first += step) {
    int64_t count = std::min(step, rows - first);
    im2col(g, x, first, count, workspace);
    gemm({.m = as_int(width), .n = as_int(g.oc), .k = as_int(count), .transpose_a = true}, 1.0f, workspace,
         dy + first * g.oc, first == 0 ? 0.0f : 1.0f, dw);
  }
}

template <>
void bias_backward<kCompiledIsa>(int64_t rows, int64_t channels, const float* dy, float* db) {
  // Summed in double (rows can be 10⁵ pixels), vectorised along the contiguous channels; blocks of channels shared
  // among the threads (each channel still summed in row order: the same bits on any thread count).
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * channels > (1 << 17) && blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock, width = std::min(kBlock, channels - first);
    double acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = dy + r * channels + first;
#pragma omp simd
      for (int64_t o = 0; o < width; ++o) acc[o] += row[o];
    }
    for (int64_t o = 0; o < width; ++o) db[first + o] = static_cast<float>(acc[o]);
  }
}

}  // namespace nn::kernels
