// The AVX512_BF16 GEMM (bf16.h), compiled for the avx512 level only and with -mavx512bf16 (nn/CMakeLists.txt);
// bf16.cpp calls it only where cpu_supports_bf16(), and only with M, N, K ≥ 1.
// The f32 GEMM's blocking (gemm_avx512.cpp) without its depth blocks: a micro-kernel runs the whole depth, so that a
// bf16 C is rounded once from registers. A column chunk of packed B stays within 2 MB (L2); a 14-row micro-panel of A
// with K = 728 is 20 KB and a 32-column panel of B 47 KB, so the inner loop reads from L1 and L2.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "nn/backends/cpu/bf16.h"

namespace nn::kernels {

namespace {

constexpr int kMR = 14;                 // rows per micro-kernel: 14 × 2 accumulators + 2 B + 1 broadcast ≤ 32 zmm
constexpr int kNR = 32;                 // columns per micro-kernel: two vectors of 16 lanes, each lane a depth pair
constexpr int kMC = 14 * 12;            // rows of a block of A packed together (168 × 364 pairs = 240 KB at K = 728)
constexpr long kChunkBytes = 1l << 21;  // packed B per column chunk

// Element (i, j), as bf16 bits, of a matrix stored with row stride rs and column stride cs.
struct View {
  const uint16_t* p;
  long rs, cs;
  uint16_t at(long i, long j) const { return p[i * rs + j * cs]; }
};

// Two bf16 values in one 32-bit lane, as vdpbf16ps pairs them: the even depth low, the odd one high.
uint32_t pair(uint16_t even, uint16_t odd) {
  return even | (static_cast<uint32_t>(odd) << 16);
}

// A rows [0, mc) × depth [0, k) → micro-panels of kMR rows, each ⌈k/2⌉ steps of kMR lanes (A(r, 2p), A(r, 2p + 1));
// rows past mc and the depth past an odd k are zeros.
void pack_a(View a, int mc, int k, uint32_t* out) {
  const int pairs = (k + 1) / 2, even = k / 2;
  for (int ir = 0; ir < mc; ir += kMR, out += static_cast<long>(pairs) * kMR) {
    const int rows = std::min(kMR, mc - ir);
    if (a.rs == 1) {  // a transposed A: the rows of one depth step are contiguous
      for (int p = 0; p < pairs; ++p) {
        uint32_t* o = out + static_cast<long>(p) * kMR;
        for (int r = 0; r < rows; ++r) o[r] = pair(a.at(ir + r, 2 * p), 2 * p + 1 < k ? a.at(ir + r, 2 * p + 1) : 0);
        for (int r = rows; r < kMR; ++r) o[r] = 0;
      }
      continue;
    }
    for (int r = 0; r < kMR; ++r) {
      uint32_t* o = out + r;
      if (r >= rows) {
        for (int p = 0; p < pairs; ++p) o[p * kMR] = 0;
        continue;
      }
      const long i = ir + r;
      if (a.cs == 1) {  // a pair is one unaligned 32-bit load
        const uint16_t* row = a.p + i * a.rs;
        for (int p = 0; p < even; ++p) std::memcpy(o + p * kMR, row + 2 * p, sizeof(uint32_t));
      } else {
        for (int p = 0; p < even; ++p) o[p * kMR] = pair(a.at(i, 2 * p), a.at(i, 2 * p + 1));
      }
      if (even < pairs) o[even * kMR] = pair(a.at(i, k - 1), 0);
    }
  }
}

// Depth [0, k) × columns [jr, jr + kNR) of B → ⌈k/2⌉ steps of kNR lanes (B(2p, j), B(2p + 1, j)); columns past nc
// and the depth past an odd k are zeros.
void pack_b_panel(View b, int k, int nc, int jr, uint32_t* out) {
  const int cols = std::min(kNR, nc - jr);
  for (int p = 0; p < (k + 1) / 2; ++p, out += kNR) {
    const bool odd = 2 * p + 1 < k;
    for (int j = 0; j < cols; ++j) out[j] = pair(b.at(2 * p, jr + j), odd ? b.at(2 * p + 1, jr + j) : 0);
    for (int j = cols; j < kNR; ++j) out[j] = 0;
  }
}

// Where a micro-kernel's tile goes: C = α·acc + bias + β·C, f32 or rounded to bf16.
struct Tile {
  float alpha, beta;
  const float* bias;  // at the tile's first column, or null
  bool bf16;          // C's dtype
  void* c;            // the tile's first element
  long ldc;
};

__m512 load_c(const Tile& t, long offset, __mmask16 mask) {
  if (!t.bf16) return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(t.c) + offset);
  const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(t.c) + offset);
  // The maskz forms: GCC 12 warns of the plain ones' undefined source operand.
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
}

void store_c(const Tile& t, long offset, __mmask16 mask, __m512 v) {
  if (t.bf16) {
    _mm256_mask_storeu_epi16(static_cast<uint16_t*>(t.c) + offset, mask,
                             reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  } else {
    _mm512_mask_storeu_ps(static_cast<float*>(t.c) + offset, mask, v);
  }
}

// acc (kMR × kNR) = Σ over `pairs` depth pairs of a packed A micro-panel times a packed B panel, one vdpbf16ps per
// 16 lanes (two products each, summed in f32); then the tile's rows × cols that exist are written.
void micro_kernel(int pairs, const uint32_t* a, const uint32_t* b, const Tile& t, int rows, int cols) {
  __m512 acc[kMR][2];
#pragma GCC unroll 14
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int p = 0; p < pairs; ++p) {
    const auto b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b));
    const auto b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + 16));
#pragma GCC unroll 14
    for (int r = 0; r < kMR; ++r) {
      const auto av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
    a += kMR;
    b += kNR;
  }
  const __m512 va = _mm512_set1_ps(t.alpha), vb = _mm512_set1_ps(t.beta);
  const __mmask16 m0 = cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  const __m512 bias0 = t.bias ? _mm512_maskz_loadu_ps(m0, t.bias) : _mm512_setzero_ps();
  const __m512 bias1 = t.bias ? _mm512_maskz_loadu_ps(m1, t.bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int r = 0; r < kMR; ++r) {
    if (r >= rows) break;
    const long row = r * t.ldc;
    __m512 v0 = _mm512_fmadd_ps(acc[r][0], va, bias0), v1 = _mm512_fmadd_ps(acc[r][1], va, bias1);
    if (t.beta != 0.0f) {
      v0 = _mm512_fmadd_ps(load_c(t, row, m0), vb, v0);
      v1 = _mm512_fmadd_ps(load_c(t, row + 16, m1), vb, v1);
    }
    store_c(t, row, m0, v0);
    store_c(t, row + 16, m1, v1);
  }
}

// Per-thread packing buffers, kept between calls; plain malloc, not std::vector (gemm_avx512.cpp says why).
enum class Panel { a, b };
struct Buffer {
  uint32_t* data = nullptr;
  size_t size = 0;
  ~Buffer() { std::free(data); }
};
template <Panel>
uint32_t* thread_buffer(size_t lanes) {
  thread_local Buffer buffer;
  if (buffer.size < lanes) {
    std::free(buffer.data);
    buffer.data = static_cast<uint32_t*>(std::malloc(lanes * sizeof(uint32_t)));
    if (buffer.data == nullptr) throw std::bad_alloc();
    buffer.size = lanes;
  }
  return buffer.data;
}

}  // namespace

template <>
void gemm_bf16<Isa::avx512>(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta,
                            const float* bias, DType c_type, void* c) {
  const long lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k);
  const long ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  const long ldc = s.ldc ? s.ldc : s.n;
  const auto* a16 = reinterpret_cast<const uint16_t*>(a);
  const auto* b16 = reinterpret_cast<const uint16_t*>(b);
  const View A = s.transpose_a ? View{a16, 1, lda} : View{a16, lda, 1};  // A(i, p)
  const View B = s.transpose_b ? View{b16, 1, ldb} : View{b16, ldb, 1};  // B(p, j)
  const bool c_bf16 = c_type == DType::bf16;
  const long c_size = c_bf16 ? 2 : 4;
  const int pairs = (s.k + 1) / 2;
  const long panel_lanes = static_cast<long>(pairs) * kNR;
  const int all_panels = (s.n + kNR - 1) / kNR;
  const int chunk_panels = static_cast<int>(std::clamp<long>(kChunkBytes / (panel_lanes * 4), 1, all_panels));
  // One thread for a small product (the threads' start costs more than it saves) or inside a parallel region.
  const bool small = static_cast<double>(s.m) * s.n * s.k < static_cast<double>(1 << 18);
  const int threads = omp_in_parallel() || small ? 1 : omp_get_max_threads();
  uint32_t* const bp = thread_buffer<Panel::b>(static_cast<size_t>(panel_lanes) * chunk_panels);
  for (int jc = 0; jc < s.n; jc += chunk_panels * kNR) {
    const int nc = std::min(chunk_panels * kNR, s.n - jc);
    const int panels = (nc + kNR - 1) / kNR;
    const View Bchunk{B.p + jc * B.cs, B.rs, B.cs};
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int q = 0; q < panels; ++q) pack_b_panel(Bchunk, s.k, nc, q * kNR, bp + q * panel_lanes);
    // Work items (block of rows, group of B panels), shared among the threads as gemm<Isa::avx512> shares them.
    int row_blocks = (s.m + kMC - 1) / kMC;
    if (row_blocks >= threads) {
      const int down = row_blocks / threads * threads;
      const bool fits = static_cast<long>(s.m) <= static_cast<long>(down) * kMC * 3 / 2;
      row_blocks = fits ? down : (row_blocks + threads - 1) / threads * threads;
    }
    const int mc_step = ((s.m + row_blocks - 1) / row_blocks + kMR - 1) / kMR * kMR;
    row_blocks = (s.m + mc_step - 1) / mc_step;
    const int groups = row_blocks >= threads ? 1 : std::min(panels, (threads + row_blocks - 1) / row_blocks);
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
    for (int ib = 0; ib < row_blocks; ++ib) {
      for (int gi = 0; gi < groups; ++gi) {
        const int ic = ib * mc_step, mc = std::min(mc_step, s.m - ic);
        uint32_t* ap = thread_buffer<Panel::a>(static_cast<size_t>(mc_step + kMR) * pairs);
        pack_a(View{A.p + ic * A.rs, A.rs, A.cs}, mc, s.k, ap);
        const int q0 = panels * gi / groups, q1 = panels * (gi + 1) / groups;
        for (int q = q0; q < q1; ++q) {
          const int jr = q * kNR;
          for (int ir = 0; ir < mc; ir += kMR) {
            const Tile tile{alpha,
                            beta,
                            bias ? bias + jc + jr : nullptr,
                            c_bf16,
                            static_cast<char*>(c) + ((ic + ir) * ldc + jc + jr) * c_size,
                            ldc};
            micro_kernel(pairs, ap + static_cast<long>(ir) * pairs, bp + q * panel_lanes, tile, std::min(kMR, mc - ir),
                         std::min(kNR, nc - jr));
          }
        }
      }
    }
  }
}

}  // namespace nn::kernels
