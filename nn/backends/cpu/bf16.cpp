// The cpu backend's bfloat16 primitives (cpu.h): the GEMM on AMX tiles where cpu_supports_amx(), on AVX512_BF16
// where cpu_supports_bf16() (isa.h), else a conversion fallback (A and B widened to f32, the f32 GEMM, C rounded
// once); convolution as that GEMM (pointwise: one product; others: im2col into bf16 workspace first); depthwise,
// pooling and batch norm through the per-level kernels of bf16_fast.cpp. Baseline x86-64 code: the instructions
// beyond it live in the kernel files.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "nn/backends/cpu/bf16.h"
#include "nn/backends/cpu/conv2d.h"
#include "nn/backends/cpu/cpu.h"
#include "nn/backends/cpu/gemm.h"
#include "nn/backends/cpu/isa.h"
#include "nn/core/error.h"

namespace nn::cpu {

using kernels::GemmShape;
using kernels::Isa;
using kernels::Window2D;

namespace {

int as_int(int64_t v) {
  return static_cast<int>(v);
}

// Elements a matrix of `rows` rows of `cols` elements `ld` apart spans (ld may be shorter than a row).
int64_t span_of(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

// Leading dimensions as stored (GemmShape's 0 = packed).
struct Strides {
  int lda, ldb, ldc;
};
Strides strides_of(const GemmShape& s) {
  return {s.lda ? s.lda : (s.transpose_a ? s.m : s.k), s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n),
          s.ldc ? s.ldc : s.n};
}

// Rows of C per pass of the conversion paths: their f32 copies of A's rows and of C stay near 4 MB each (freed after
// the call: nothing large is kept between calls).
int64_t rows_per_pass(const GemmShape& s, int64_t lda) {
  return std::max<int64_t>(16, (int64_t{1} << 20) / std::max<int64_t>({int64_t{s.n}, lda, 1}));
}

// The f32 GEMM (bias included) on a C of `c_type` (f32 A and B, explicit leading dimensions): a bf16 C goes
// through an f32 copy, rounded once at the end.
void gemm_into(const GemmShape& s, float alpha, const float* a, const float* b, float beta, const float* bias,
               DType c_type, void* c) {
  if (c_type == DType::f32) {
    kernels::gemm(s, alpha, a, b, beta, static_cast<float*>(c), bias);
    return;
  }
  std::vector<float> f(static_cast<size_t>(s.m) * s.n);
  if (beta != 0.0f) {
    for (int64_t i = 0; i < s.m; ++i)
      cast(s.n, DType::bf16, static_cast<bfloat16*>(c) + i * s.ldc, DType::f32, f.data() + i * s.n);
  }
  GemmShape packed = s;
  packed.ldc = s.n;
  kernels::gemm(packed, alpha, a, b, beta, f.data(), bias);
  for (int64_t i = 0; i < s.m; ++i) narrow_run(s.n, f.data() + i * s.n, static_cast<bfloat16*>(c) + i * s.ldc);
}

// Rows [i0, i0 + rows) of C = α·op(A)·op(B) + bias + β·C: the shape of that pass, leading dimensions explicit.
GemmShape rows_of(const GemmShape& s, const Strides& ld, int64_t rows) {
  GemmShape part = s;
  part.m = as_int(rows);
  part.lda = ld.lda, part.ldb = ld.ldb, part.ldc = ld.ldc;
  return part;
}

// f32 A and B into a bf16 C, a pass of rows at a time.
void gemm_f32_into_bf16(const GemmShape& s, float alpha, const float* a, const float* b, float beta, void* c) {
  const Strides ld = strides_of(s);
  const int64_t step = rows_per_pass(s, ld.lda);
  for (int64_t i0 = 0; i0 < s.m; i0 += step) {
    const int64_t rows = std::min<int64_t>(step, s.m - i0);
    gemm_into(rows_of(s, ld, rows), alpha, a + i0 * (s.transpose_a ? 1 : ld.lda), b, beta, nullptr, DType::bf16,
              static_cast<bfloat16*>(c) + i0 * ld.ldc);
  }
}

// C = α·op(A)·op(B) + bias + β·C with A and B bf16: AMX tiles or vdpbf16ps where the processor has them, else A and
// B widened to f32 (each span as stored, so that lda and ldb keep their meaning; A a pass of rows at a time unless
// transposed) for the f32 GEMM.
void gemm_bf16_one(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta, const float* bias,
                   DType c_type, void* c) {
  if (s.m <= 0 || s.n <= 0) return;
#if defined(__x86_64__)
  if (s.k > 0 && kernels::cpu_supports_amx()) {
    kernels::gemm_bf16_amx<Isa::avx512>(s, alpha, a, b, beta, bias, c_type, c);
    return;
  }
  if (s.k > 0 && kernels::cpu_supports_bf16()) {
    kernels::gemm_bf16<Isa::avx512>(s, alpha, a, b, beta, bias, c_type, c);
    return;
  }
#endif
  const Strides ld = strides_of(s);
  auto widen = [](const bfloat16* x, int64_t n, std::vector<float>& out) {
    out.resize(static_cast<size_t>(n));
    cast(n, DType::bf16, x, DType::f32, out.data());
  };
  std::vector<float> af, bf;
  widen(b, s.transpose_b ? span_of(s.n, s.k, ld.ldb) : span_of(s.k, s.n, ld.ldb), bf);
  if (s.transpose_a) widen(a, span_of(s.k, s.m, ld.lda), af);
  const int64_t step = rows_per_pass(s, ld.lda);
  const size_t c_size = dtype_size(c_type);
  for (int64_t i0 = 0; i0 < s.m; i0 += step) {
    const int64_t rows = std::min<int64_t>(step, s.m - i0);
    if (!s.transpose_a) widen(a + i0 * ld.lda, span_of(rows, s.k, ld.lda), af);
    gemm_into(rows_of(s, ld, rows), alpha, af.data() + (s.transpose_a ? i0 : 0), bf.data(), beta, bias, c_type,
              static_cast<char*>(c) + i0 * ld.ldc * c_size);
  }
}

bool direct_gemm(const Window2D& g) {
  return g.is_pointwise() && g.sh == 1 && g.sw == 1;
}

// cols (rows, KH·KW·C) for output pixels [first, first + rows): the window under each, zeros over the padding.
void im2col(const Window2D& g, const bfloat16* x, int64_t first, int64_t rows, bfloat16* cols) {
  const int64_t width = g.kh * g.kw * g.c;
#pragma omp parallel for if (rows * width > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = first + r, n = p / (g.oh * g.ow), oh = (p / g.ow) % g.oh, ow = p % g.ow;
    bfloat16* row = cols + r * width;
    for (int64_t kh = 0; kh < g.kh; ++kh)
      for (int64_t kw = 0; kw < g.kw; ++kw) {
        const int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
        bfloat16* dst = row + (kh * g.kw + kw) * g.c;
        if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
          std::memset(static_cast<void*>(dst), 0, sizeof(bfloat16) * g.c);
        } else {
          std::memcpy(static_cast<void*>(dst), x + ((n * g.h + ih) * g.w + iw) * g.c, sizeof(bfloat16) * g.c);
        }
      }
  }
}

}  // namespace

void widen_run(int64_t n, const bfloat16* x, float* y) {
  kernels::with_active_isa([&]<Isa isa> { kernels::widen_bf16<isa>(n, x, y); });
}

void narrow_run(int64_t n, const float* x, bfloat16* y) {
  kernels::with_active_isa([&]<Isa isa> { kernels::narrow_to_bf16<isa>(n, x, y); });
}

void relu_run(int64_t n, const bfloat16* x, bfloat16* y) {
  kernels::with_active_isa([&]<Isa isa> { kernels::relu_bf16<isa>(n, x, y); });
}

void cast(int64_t n, DType from, const void* x, DType to, void* y) {
  kernels::active_isa();                      // a bad NN_ISA is reported here, before the parallel loops (isa.cpp)
  constexpr int64_t kRun = int64_t{1} << 14;  // elements per thread's run
  const int64_t runs = (n + kRun - 1) / kRun;
  if (from == to) {
    if (n > 0) std::memcpy(y, x, static_cast<size_t>(n) * dtype_size(from));
  } else if (from == DType::f32 && to == DType::bf16) {
    const auto* in = static_cast<const float*>(x);
    auto* out = static_cast<bfloat16*>(y);
#pragma omp parallel for if (runs > 4)
    for (int64_t r = 0; r < runs; ++r) narrow_run(std::min(kRun, n - r * kRun), in + r * kRun, out + r * kRun);
  } else if (from == DType::bf16 && to == DType::f32) {
    const auto* in = static_cast<const bfloat16*>(x);
    auto* out = static_cast<float*>(y);
#pragma omp parallel for if (runs > 4)
    for (int64_t r = 0; r < runs; ++r) widen_run(std::min(kRun, n - r * kRun), in + r * kRun, out + r * kRun);
  } else {
    throw Error(std::string("cpu backend: cast from ") + dtype_name(from) + " to " + dtype_name(to) +
                " is not supported");
  }
}

// Accepts A and B bf16 with C f32 or bf16, and A and B f32 with C bf16 (the f32 GEMM, rounded once).
void gemm_bf16(const kernels::GemmCall& call) {
  const bool f32_in = call.ab_type == DType::f32 && call.c_type == DType::bf16;
  if (!(call.ab_type == DType::bf16 || f32_in) || !(call.c_type == DType::f32 || call.c_type == DType::bf16)) {
    throw Error(std::string("cpu backend: gemm of ") + dtype_name(call.ab_type) + " into " + dtype_name(call.c_type) +
                " is not supported");
  }
  const size_t ab_size = dtype_size(call.ab_type), c_size = dtype_size(call.c_type);
  for (int64_t i = 0; i < call.batch; ++i) {
    const auto* a = static_cast<const char*>(call.a) + i * call.stride_a * ab_size;
    const auto* b = static_cast<const char*>(call.b) + i * call.stride_b * ab_size;
    void* c = static_cast<char*>(call.c) + i * call.stride_c * c_size;
    if (f32_in) {
      gemm_f32_into_bf16(call.shape, call.alpha, reinterpret_cast<const float*>(a), reinterpret_cast<const float*>(b),
                         call.beta, c);
    } else {
      gemm_bf16_one(call.shape, call.alpha, reinterpret_cast<const bfloat16*>(a), reinterpret_cast<const bfloat16*>(b),
                    call.beta, nullptr, call.c_type, c);
    }
  }
}

// In floats: the bf16 im2col chunk (rows × KH·KW·C elements of 2 bytes), rounded up; none for a 1×1, stride-1
// convolution, which is one GEMM on x as it is.
int64_t conv2d_workspace_bf16(const Window2D& g) {
  return direct_gemm(g) ? 0 : (kernels::im2col_chunk_rows(g) * g.kh * g.kw * g.c + 1) / 2;
}

void conv2d_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y, void* workspace) {
  const auto* xb = static_cast<const bfloat16*>(x);
  const auto* wb = static_cast<const bfloat16*>(w);
  auto* yb = static_cast<bfloat16*>(y);
  const int64_t pixels = g.n * g.oh * g.ow, width = g.kh * g.kw * g.c;
  if (direct_gemm(g)) {  // y (N·H·W, OC) = x (N·H·W, C) · w (C, OC)
    gemm_bf16_one({.m = as_int(pixels), .n = as_int(g.oc), .k = as_int(g.c)}, 1.0f, xb, wb, 0.0f, bias, DType::bf16,
                  yb);
    return;
  }
  auto* cols = static_cast<bfloat16*>(workspace);
  const int64_t step = kernels::im2col_chunk_rows(g);
  for (int64_t first = 0; first < pixels; first += step) {
    const int64_t rows = std::min(step, pixels - first);
    im2col(g, xb, first, rows, cols);
    gemm_bf16_one({.m = as_int(rows), .n = as_int(g.oc), .k = as_int(width)}, 1.0f, cols, wb, 0.0f, bias, DType::bf16,
                  yb + first * g.oc);
  }
}

void depthwise_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y) {
  kernels::with_active_isa([&]<Isa isa> {
    kernels::depthwise_forward_bf16<isa>(g, static_cast<const bfloat16*>(x), static_cast<const bfloat16*>(w), bias,
                                         static_cast<bfloat16*>(y));
  });
}

void pool_forward_bf16(kernels::Pool kind, const Window2D& g, const void* x, void* y) {
  kernels::with_active_isa([&]<Isa isa> {
    kernels::pool_forward_bf16<isa>(kind, g, static_cast<const bfloat16*>(x), static_cast<bfloat16*>(y));
  });
}

void channel_affine_bf16(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, const void* x, void* y) {
  kernels::with_active_isa([&]<Isa isa> {
    kernels::channel_affine_bf16<isa>(rows, channels, p, static_cast<const bfloat16*>(x), static_cast<bfloat16*>(y));
  });
}

}  // namespace nn::cpu
