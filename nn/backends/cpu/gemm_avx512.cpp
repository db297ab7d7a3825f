// The AVX-512 GEMM (gemm.h), compiled for the avx512 level only (isa.h).
#include "nn/backends/cpu/gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

namespace nn::kernels {

namespace {

constexpr int kMR = 14;       // rows of C per micro-kernel: 14 × 2 accumulators + 2 B vectors + 1 broadcast ≤ 32 zmm
constexpr int kNR = 32;       // columns of C per micro-kernel: two 16-float vectors
constexpr int kKC = 256;      // depth of a packed block: an A micro-panel (14 KB) and a B micro-panel (32 KB) in L1
constexpr int kMC = 14 * 12;  // rows of a packed A block (168 × 256 floats = 168 KB, in L2)
constexpr int kNC = 4096;     // columns of a packed B block (256 × 4096 floats = 4 MB, in L3)
constexpr int kWideBand = 2048;    // the columns each thread takes at least where the threads split the columns
constexpr int kPackedPanels = 12;  // B panels from which a row block of A is packed in any case (gemm<avx512>)

// Element (i, j) of a matrix stored with row stride rs and column stride cs.
struct View {
  const float* p;
  long rs, cs;
  float at(long i, long j) const { return p[i * rs + j * cs]; }
};

// Transposes the 16 × 16 floats of r in place: r[j] becomes what was column j. Four rounds of shuffles: pairs of
// floats, of pairs, then 128-bit quarters twice. (The zero-masking forms with every lane kept are the same
// instructions; GCC 12's plain forms start from _mm512_undefined_ps and warn "may be used uninitialized".)
inline void transpose16(__m512 r[16]) {
  constexpr __mmask16 kAll = 0xFFFF;
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // t[i]: rows i, i+1 interleaved by column pairs (0 1 4 5 8 9 12 13 of each)
    t[i] = _mm512_maskz_unpacklo_ps(kAll, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // r[i + k]: column k (+4, +8, +12 by quarter) of rows i … i+3
    r[i] = _mm512_maskz_shuffle_ps(kAll, t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_maskz_shuffle_ps(kAll, t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_maskz_shuffle_ps(kAll, t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_maskz_shuffle_ps(kAll, t[i + 1], t[i + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {  // quarters of rows 0–7 and of rows 8–15 brought together
    t[k] = _mm512_maskz_shuffle_f32x4(kAll, r[k], r[4 + k], 0x88);
    t[4 + k] = _mm512_maskz_shuffle_f32x4(kAll, r[k], r[4 + k], 0xDD);
    t[8 + k] = _mm512_maskz_shuffle_f32x4(kAll, r[8 + k], r[12 + k], 0x88);
    t[12 + k] = _mm512_maskz_shuffle_f32x4(kAll, r[8 + k], r[12 + k], 0xDD);
  }
  for (int k = 0; k < 4; ++k) {  // then all 16 rows
    r[k] = _mm512_maskz_shuffle_f32x4(kAll, t[k], t[8 + k], 0x88);
    r[k + 8] = _mm512_maskz_shuffle_f32x4(kAll, t[k], t[8 + k], 0xDD);
    r[k + 4] = _mm512_maskz_shuffle_f32x4(kAll, t[4 + k], t[12 + k], 0x88);
    r[k + 12] = _mm512_maskz_shuffle_f32x4(kAll, t[4 + k], t[12 + k], 0xDD);
  }
}

// Packs rows [0, mc) × depth [0, kc) of A into micro-panels of kMR rows, each stored depth-major (kMR floats per
// depth step), zero-padded to a multiple of kMR rows.
void pack_a(View a, int mc, int kc, float* out) {
  static_assert(kMR <= 16, "a depth step of a micro-panel is one masked vector");
  for (int ir = 0; ir < mc; ir += kMR) {
    int rows = std::min(kMR, mc - ir);
    if (a.rs == 1) {  // a transposed A: the rows of a depth step are contiguous, one masked load and store each
      // (std::copy_n called memcpy for each 56 bytes: 2.7 % of an Xception training step, in weight gradients)
      const __mmask16 valid = static_cast<__mmask16>((1u << rows) - 1), panel = (1u << kMR) - 1;
      for (int p = 0; p < kc; ++p, out += kMR)
        _mm512_mask_storeu_ps(out, panel, _mm512_maskz_loadu_ps(valid, a.p + ir + p * a.cs));
      continue;
    }
    int p = 0;
    if (a.cs == 1 && rows == kMR) {  // a row-major A: 16 depth steps of the 14 rows at a time, through registers
      // (one float at a time, this packing was 3.3 % of a batch of 8 through the folded Xception on Zen 5)
      __m512 block[16];
      for (; p + 16 <= kc; p += 16, out += 16 * kMR) {
        for (int r = 0; r < kMR; ++r) block[r] = _mm512_loadu_ps(a.p + (ir + r) * a.rs + p);
        for (int r = kMR; r < 16; ++r) block[r] = _mm512_setzero_ps();
        transpose16(block);  // block[d]: depth step p + d of the 14 rows (and two zeros, not stored)
        for (int d = 0; d < 16; ++d) _mm512_mask_storeu_ps(out + d * kMR, (1u << kMR) - 1, block[d]);
      }
    }
    for (; p < kc; ++p) {
      for (int r = 0; r < rows; ++r) out[r] = a.at(ir + r, p);
      for (int r = rows; r < kMR; ++r) out[r] = 0.0f;
      out += kMR;
    }
  }
}

// Packs depth [0, kc) × columns [0, nc) of B into micro-panels of kNR columns, each depth-major, zero-padded.
void pack_b_panel(View b, int kc, int nc, int jr, float* out) {
  int cols = std::min(kNR, nc - jr);
  // Offsets of 16 columns of a transposed B, for gathers (when 31 column strides fit in an int).
  const bool gather_fits = b.cs < (1l << 31) / kNR;
  const __m512i columns = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(gather_fits ? static_cast<int>(b.cs) : 0));
  for (int p = 0; p < kc; ++p) {
    if (b.cs == 1 && cols == kNR) {
      const float* src = b.p + p * b.rs + jr;  // two vectors, not a call to memmove per depth step
      _mm512_storeu_ps(out, _mm512_loadu_ps(src));
      _mm512_storeu_ps(out + 16, _mm512_loadu_ps(src + 16));
    } else if (b.rs == 1 && cols == kNR && gather_fits) {  // a transposed B: a depth step's columns are cs apart
      const float* src = b.p + p + jr * b.cs;
      _mm512_storeu_ps(out, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, columns, src, 4));
      _mm512_storeu_ps(out + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, columns, src + 16 * b.cs, 4));
    } else {
      for (int j = 0; j < cols; ++j) out[j] = b.at(p, jr + j);
      for (int j = cols; j < kNR; ++j) out[j] = 0.0f;
    }
    out += kNR;
  }
}

// acc (kMR × kNR) = Σ_p A(:, p) ⊗ B(p, :) with A(r, p) = a[r·row_step + p·depth_step] — a packed micro-panel
// (row_step 1, depth_step kMR) or rows read in place (row_step lda, depth_step 1) —; then
// C = alpha·acc + bias + beta·C on the rows × cols that exist (bias at the tile's first column, or null).
// B's depth rows are b_step floats apart (kNR when packed, ldb when read in place).
void micro_kernel(int kc, const float* a, long row_step, long depth_step, const float* b, long b_step, float alpha,
                  float beta, const float* bias, float* c, long ldc, int rows, int cols) {
  // The C tile's lines asked for now, so that they arrive while the products run: stored without it, each row's
  // first touch waited on memory (fresh output, 14 rows in 14 places), 4–10 % of the time of a K = 256 product.
  for (int r = 0; r < rows; ++r) {
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + 16, 1, 3);
    __builtin_prefetch(c + r * ldc + (cols - 1), 1, 3);
  }
  __m512 acc[kMR][2];
#pragma GCC unroll 14
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    // B and A asked for 16 and 32 depth steps ahead (B read in place is ldb floats a step: 8 KB, two pages, for the
    // exit flow's 2,048 columns; A read in place, its first row only). Near the end of a block the hints point past
    // the operands, which a prefetch may: it never faults.
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * b_step), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * b_step + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + 32 * depth_step), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int r = 0; r < kMR; ++r) {
      __m512 av = _mm512_set1_ps(a[r * row_step]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    a += depth_step;
    b += b_step;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int r = 0; r < kMR; ++r) {
    if (r >= rows) break;
    float* row = c + r * ldc;
    __m512 v0 = _mm512_fmadd_ps(acc[r][0], va, bias0), v1 = _mm512_fmadd_ps(acc[r][1], va, bias1);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, row), vb, v0);
      v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, row + 16), vb, v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// Per-thread packing buffers, kept between calls (no fresh pages after the first product of a size). Plain
// malloc, not std::vector: a template instantiated in this file would be compiled for AVX-512 and could be the copy
// the linker keeps for the whole program (isa.h).
enum class Panel { a, b, partial };
struct Buffer {
  float* data = nullptr;
  size_t size = 0;
  ~Buffer() { std::free(data); }
};
template <Panel>
float* thread_buffer(size_t floats) {
  thread_local Buffer buffer;
  if (buffer.size < floats) {
    std::free(buffer.data);
    buffer.data = static_cast<float*>(std::malloc(floats * sizeof(float)));
    if (buffer.data == nullptr) throw std::bad_alloc();
    buffer.size = floats;
  }
  return buffer.data;
}

}  // namespace

template <>
void gemm<Isa::avx512>(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
                       const float* bias) {
  const long lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k);
  const long ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  const long ldc = s.ldc ? s.ldc : s.n;
  const View A = s.transpose_a ? View{a, 1, lda} : View{a, lda, 1};  // A(i, p)
  const View B = s.transpose_b ? View{b, 1, ldb} : View{b, ldb, 1};  // B(p, j)
  if (s.m <= 0 || s.n <= 0) return;
  if (s.k <= 0) {  // C = bias + beta·C
    for (long i = 0; i < s.m; ++i)
      for (long j = 0; j < s.n; ++j)
        c[i * ldc + j] = (bias ? bias[j] : 0.0f) + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
    return;
  }
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads > 1 && s.k >= 8 * std::max(s.m, s.n) && static_cast<long>(s.m) * s.n <= (1l << 20)) {
    // A long, thin product (a weight gradient: K = pixels): the threads split K, each into its own partial C
    // (the first one into C itself), which are then added up.
    const std::unique_ptr<float*[]> partials(new float*[threads]());
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();  // the team given, perhaps not all asked for
      const int k0 = static_cast<int>(static_cast<long>(s.k) * t / team);
      const int k1 = static_cast<int>(static_cast<long>(s.k) * (t + 1) / team);
      GemmShape part = s;
      part.k = k1 - k0;
      part.lda = static_cast<int>(lda);
      part.ldb = static_cast<int>(ldb);
      const float* a_part = A.p + k0 * A.cs;
      const float* b_part = B.p + k0 * B.rs;
      if (t == 0) {
        part.ldc = static_cast<int>(ldc);
        gemm<Isa::avx512>(part, alpha, a_part, b_part, beta, c, bias);
      } else {
        partials[t] = thread_buffer<Panel::partial>(static_cast<size_t>(s.m) * s.n);
        part.ldc = s.n;
        gemm<Isa::avx512>(part, alpha, a_part, b_part, 0.0f, partials[t]);
      }
#pragma omp barrier
#pragma omp for schedule(static)
      for (int i = 0; i < s.m; ++i)
        for (int u = 1; u < team; ++u)
          for (int j = 0; j < s.n; ++j) c[i * ldc + j] += partials[u][static_cast<long>(i) * s.n + j];
    }
    return;
  }
  if (threads > 1 && s.n / threads >= kWideBand) {
    // A wide product (the caption model's output layer: N = 7,579 words): each thread takes a band of whole B panels
    // and the C columns under them — B packed by the thread that reads it, C written by one core — instead of the
    // threads sharing row blocks of one shared packed B. Measured on the output layer's forward and weight gradient,
    // 2 threads: +13 % and +25 %.
#pragma omp parallel num_threads(threads)
    {
      // Split among the team the runtime gave (it may be smaller than asked for), so that no band goes missing.
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      const int panels = (s.n + kNR - 1) / kNR;
      const int j0 = panels * t / team * kNR, j1 = std::min(s.n, panels * (t + 1) / team * kNR);
      GemmShape band = s;
      band.n = j1 - j0;
      band.lda = static_cast<int>(lda);
      band.ldb = static_cast<int>(ldb);
      band.ldc = static_cast<int>(ldc);
      if (band.n > 0) gemm<Isa::avx512>(band, alpha, a, B.p + j0 * B.cs, beta, c + j0, bias ? bias + j0 : nullptr);
    }
    return;
  }
  float* const bp = thread_buffer<Panel::b>(static_cast<size_t>(kKC) * (kNC + kNR));
  for (int jc = 0; jc < s.n; jc += kNC) {
    const int nc = std::min(kNC, s.n - jc);
    const int panels = (nc + kNR - 1) / kNR;
    for (int pc = 0; pc < s.k; pc += kKC) {
      const int kc = std::min(kKC, s.k - pc);
      const float beta_here = pc == 0 ? beta : 1.0f;
      const float* bias_here = pc == 0 && bias ? bias + jc : nullptr;  // added once, with the first depth block
      const View Bblock{B.p + pc * B.rs + jc * B.cs, B.rs, B.cs};
      // With few rows of A, packing B costs more than it saves: full panels of a row-major B are read in place.
      const bool b_in_place = B.cs == 1 && s.m <= kMC;
      if (!b_in_place) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int q = 0; q < panels; ++q) pack_b_panel(Bblock, kc, nc, q * kNR, bp + static_cast<long>(q) * kNR * kc);
      }
      // Work items: (block of rows, group of B panels). Row blocks are sized so that they share evenly among the
      // threads; with fewer row blocks than threads, the B panels are split among threads too.
      int row_blocks = (s.m + kMC - 1) / kMC;
      if (row_blocks >= threads) {
        // A multiple of the thread count; rounded down when the blocks stay within 1.5 × kMC rows.
        const int down = row_blocks / threads * threads;
        const bool fits = static_cast<long>(s.m) <= static_cast<long>(down) * kMC * 3 / 2;
        row_blocks = fits ? down : (row_blocks + threads - 1) / threads * threads;
      }
      const int mc_step = ((s.m + row_blocks - 1) / row_blocks + kMR - 1) / kMR * kMR;  // ≤ 1.5 × kMC
      row_blocks = (s.m + mc_step - 1) / mc_step;
      const int groups = row_blocks >= threads ? 1 : std::min(panels, (threads + row_blocks - 1) / row_blocks);
      // A is packed a row block at a time when several threads share the block (they would each fetch it from
      // memory), when it is transposed (a depth step's rows are contiguous: a copy), or when the block meets
      // kPackedPanels B panels or more; otherwise read in place, row by row. On the Intel Xeon of session 20 (2
      // threads, ms, in place → packed, both with the prefetch above): 361×728×728 1.17 → 1.14, 361×1,024×728
      // 1.76 → 1.58, 5,476×384×256 3.43 → 3.33, 5,476×512×256 4.68 → 4.40; in place without the prefetch → packed
      // with it: 728×728×2,888 with A transposed 10.8 → 8.2 (the two gains not told apart), but 5,476×256×128 1.14
      // → 1.24, 21,609×128×128 2.28 → 2.60, 21,609×64×288 2.87 → 3.68 (the scalar packing is not paid back by so few
      // panels).
      const bool pack = groups > 1 || A.rs == 1 || panels >= kPackedPanels;
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
      for (int ib = 0; ib < row_blocks; ++ib) {
        for (int gi = 0; gi < groups; ++gi) {
          const int ic = ib * mc_step, mc = std::min(mc_step, s.m - ic);
          const View block{A.p + ic * A.rs + pc * A.cs, A.rs, A.cs};
          float* ap = nullptr;
          if (pack) {
            ap = thread_buffer<Panel::a>(static_cast<size_t>(mc_step + kMR) * kKC);
            pack_a(block, mc, kc, ap);
          }
          const int q0 = panels * gi / groups, q1 = panels * (gi + 1) / groups;
          for (int q = q0; q < q1; ++q) {
            const int jr = q * kNR;
            for (int ir = 0; ir < mc; ir += kMR) {
              const int rows = std::min(kMR, mc - ir);
              const float* bq = bp + static_cast<long>(q) * kNR * kc;
              long b_step = kNR;
              if (b_in_place && jr + kNR <= nc) {
                bq = Bblock.p + jr;
                b_step = Bblock.rs;
              } else if (b_in_place && ir == 0) {  // the last, partial panel: packed by whoever meets it
                pack_b_panel(Bblock, kc, nc, jr, const_cast<float*>(bq));
              }
              float* cq = c + (ic + ir) * ldc + jc + jr;
              const float* bias_q = bias_here ? bias_here + jr : nullptr;
              if (pack) {
                micro_kernel(kc, ap + static_cast<long>(ir) * kc, 1, kMR, bq, b_step, alpha, beta_here, bias_q, cq, ldc,
                             rows, std::min(kNR, nc - jr));
              } else if (rows == kMR) {
                micro_kernel(kc, block.p + ir * block.rs, block.rs, block.cs, bq, b_step, alpha, beta_here, bias_q, cq,
                             ldc, rows, std::min(kNR, nc - jr));
              } else {  // a partial row tile: pack it, so the kernel never reads past the last row
                float* tail = thread_buffer<Panel::a>(static_cast<size_t>(kMR) * kKC);
                pack_a(View{block.p + ir * block.rs, block.rs, block.cs}, rows, kc, tail);
                micro_kernel(kc, tail, 1, kMR, bq, b_step, alpha, beta_here, bias_q, cq, ldc, rows,
                             std::min(kNR, nc - jr));
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace nn::kernels
