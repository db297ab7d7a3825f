// The bf16 GEMMs (bf16.h), compiled for the avx512 level only, with -mavx512bf16 -mamx-tile -mamx-bf16
// (nn/CMakeLists.txt): one on AMX tiles (tdpbf16ps) and one on AVX512_BF16 (vdpbf16ps). bf16.cpp calls the first
// only where cpu_supports_amx() and the second only where cpu_supports_bf16(), and either only with M, N, K ≥ 1.
// One driver serves both: the f32 GEMM's blocking (gemm_avx512.cpp) without its depth blocks — a kernel runs the
// whole depth, so that a bf16 C is rounded once from f32 — with B packed the same way for both kernels (panels of
// 32 columns, depth pairs in 32-bit lanes: the "VNNI" layout AMX's B tiles read) and A packed as each kernel reads it.
// A column chunk of packed B stays within 2 MB (L2); a 32-row block of A with K = 728 is 47 KB and a 32-column panel
// of B 47 KB, so the inner loop reads from L1 and L2.
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

constexpr int kNR = 32;                 // columns per kernel call: two vectors (or two AMX tiles) of 16 lanes
constexpr long kChunkBytes = 1l << 21;  // packed B per column chunk

// Element (i, j), as bf16 bits, of a matrix stored with row stride rs and column stride cs.
struct View {
  const uint16_t* p;
  long rs, cs;
  uint16_t at(long i, long j) const { return p[i * rs + j * cs]; }
};

// Two bf16 values in one 32-bit lane, as vdpbf16ps and tdpbf16ps pair them: the even depth low, the odd one high.
uint32_t pair(uint16_t even, uint16_t odd) {
  return even | (static_cast<uint32_t>(odd) << 16);
}

// Depth [0, k) × columns [jr, jr + kNR) of B → `pairs` steps of kNR lanes (B(2p, j), B(2p + 1, j)); columns past
// nc and depth past k (an odd k's last pair, and the padding up to `pairs` ≥ ⌈k/2⌉) are zeros.
void pack_b_panel(View b, int k, int pairs, int nc, int jr, uint32_t* out) {
  const int cols = std::min(kNR, nc - jr);
  for (int p = 0; p < pairs; ++p, out += kNR) {
    const bool even = 2 * p < k, odd = 2 * p + 1 < k;
    for (int j = 0; j < cols; ++j) out[j] = pair(even ? b.at(2 * p, jr + j) : 0, odd ? b.at(2 * p + 1, jr + j) : 0);
    for (int j = cols; j < kNR; ++j) out[j] = 0;
  }
}

// Where a kernel's tile goes: C = α·acc + bias + β·C, f32 or rounded to bf16.
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

// Writes rows of a tile's 32 f32 sums: the two 16-lane halves, masked to the columns that exist.
class RowWriter {
 public:
  RowWriter(const Tile& t, int cols)
      : t_(t),
        m0_(cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1)),
        m1_(cols >= 32   ? 0xFFFF
            : cols <= 16 ? 0
                         : static_cast<__mmask16>((1u << (cols - 16)) - 1)),
        alpha_(_mm512_set1_ps(t.alpha)),
        beta_(_mm512_set1_ps(t.beta)),
        bias0_(t.bias ? _mm512_maskz_loadu_ps(m0_, t.bias) : _mm512_setzero_ps()),
        bias1_(t.bias ? _mm512_maskz_loadu_ps(m1_, t.bias + 16) : _mm512_setzero_ps()) {}

  void write(int r, __m512 acc0, __m512 acc1) const {
    const long row = r * t_.ldc;
    __m512 v0 = _mm512_fmadd_ps(acc0, alpha_, bias0_), v1 = _mm512_fmadd_ps(acc1, alpha_, bias1_);
    if (t_.beta != 0.0f) {
      v0 = _mm512_fmadd_ps(load_c(t_, row, m0_), beta_, v0);
      v1 = _mm512_fmadd_ps(load_c(t_, row + 16, m1_), beta_, v1);
    }
    store_c(t_, row, m0_, v0);
    store_c(t_, row + 16, m1_, v1);
  }

 private:
  const Tile& t_;
  __mmask16 m0_, m1_;
  __m512 alpha_, beta_, bias0_, bias1_;
};

// ---- AVX512_BF16: 14 rows × 32 columns in registers, one vdpbf16ps per 16 lanes and depth pair ----

constexpr int kMR = 14;  // 14 × 2 accumulators + 2 B + 1 broadcast ≤ 32 zmm

// A rows [0, mc) × depth [0, k) → micro-panels of kMR rows, each `pairs` steps of kMR lanes (A(r, 2p), A(r, 2p + 1));
// rows past mc and the depth past an odd k are zeros (pairs = ⌈k/2⌉ for this kernel).
void pack_a_vnni(View a, int mc, int k, int pairs, uint32_t* out) {
  const int even = k / 2;
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

// acc (kMR × kNR) = Σ over `pairs` depth pairs of a packed A micro-panel times a packed B panel, one vdpbf16ps per
// 16 lanes (two products each, summed in f32); then the tile's rows × cols that exist are written.
void vnni_kernel(int pairs, const uint32_t* a, const uint32_t* b, const Tile& t, int rows, int cols) {
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
  const RowWriter out(t, cols);
#pragma GCC unroll 14
  for (int r = 0; r < kMR; ++r) {
    if (r >= rows) break;
    out.write(r, acc[r][0], acc[r][1]);
  }
}

// ---- AMX: 32 rows × 32 columns in four 16 × 16 f32 tiles, one tdpbf16ps per tile and 32 depths ----

constexpr int kAmxRows = 32;   // two A tiles of 16 rows
constexpr int kAmxPairs = 16;  // depth pairs per step: a tile row is 64 bytes (32 bf16 of A, 16 pairs of B lanes)

// Tile registers: C00 C01 C10 C11 (rows 0–15 / 16–31 × columns 0–15 / 16–31), A0 A1, B0 B1; every one 16 rows of
// 64 bytes. The layout of the 64-byte configuration LDTILECFG reads (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
static_assert(sizeof(TileConfig) == 64);

// A rows [0, mc) × depth [0, k) → blocks of kAmxRows rows, each `pairs` / kAmxPairs steps of one kAmxRows × 32
// bf16 tile pair (rows 0–15, then rows 16–31; row r's 32 depths contiguous), so each step's A is 2 KB in a row.
// Rows past mc and depths past k are zeros (pairs is ⌈k/2⌉ rounded up to a multiple of kAmxPairs).
void pack_a_amx(View a, int mc, int k, int pairs, uint32_t* out) {
  const int steps = pairs / kAmxPairs;
  auto* o = reinterpret_cast<uint16_t*>(out);
  for (int ir = 0; ir < mc; ir += kAmxRows) {
    for (int step = 0; step < steps; ++step) {
      const int k0 = step * 2 * kAmxPairs, depths = std::clamp(k - k0, 0, 2 * kAmxPairs);
      for (int r = 0; r < kAmxRows; ++r, o += 2 * kAmxPairs) {
        const long i = ir + r;
        int d = 0;
        if (i < mc) {
          if (a.cs == 1) {
            std::memcpy(o, a.p + i * a.rs + k0, static_cast<size_t>(depths) * sizeof(uint16_t));
            d = depths;
          } else {
            for (; d < depths; ++d) o[d] = a.at(i, k0 + d);
          }
        }
        std::fill(o + d, o + 2 * kAmxPairs, uint16_t{0});
      }
    }
  }
}

// The tile configuration, loaded once per work item of a thread (amx_begin) and released after it (amx_end).
void amx_begin() {
  static const TileConfig config;
  _tile_loadconfig(&config);
}

void amx_end() {
  _tile_release();
}

// acc (kAmxRows × kNR) = Σ over the steps of an A block times a packed B panel; the four C tiles go through a 4 KB
// buffer to the row writer (α, bias, β, rounding). The tiles are configured (amx_begin). A is read as tiles of 16
// rows `a_row_bytes` apart, the step's rows 16–31 `a_half` bytes after its rows 0–15, and the next step `a_step`
// bytes on: packed (pack_a_amx) or A's own rows read in place (any 2-byte alignment: tile loads need none).
void amx_tiles(int pairs, const char* a, long a_row_bytes, long a_half, long a_step, const uint32_t* b, const Tile& t,
               int rows, int cols) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  constexpr long b_step = kAmxPairs * kNR;  // in lanes
  for (int step = 0; step < pairs / kAmxPairs; ++step, a += a_step, b += b_step) {
    _tile_loadd(4, a, a_row_bytes);
    _tile_loadd(5, a + a_half, a_row_bytes);
    _tile_loadd(6, b, kNR * 4);
    _tile_loadd(7, b + 16, kNR * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float acc[kAmxRows][kNR];
  _tile_stored(0, &acc[0][0], kNR * 4);
  _tile_stored(1, &acc[0][16], kNR * 4);
  _tile_stored(2, &acc[16][0], kNR * 4);
  _tile_stored(3, &acc[16][16], kNR * 4);
  const RowWriter out(t, cols);
  for (int r = 0; r < rows; ++r) out.write(r, _mm512_load_ps(&acc[r][0]), _mm512_load_ps(&acc[r][16]));
}

// On an A block packed by pack_a_amx.
void amx_kernel(int pairs, const uint32_t* a, const uint32_t* b, const Tile& t, int rows, int cols) {
  amx_tiles(pairs, reinterpret_cast<const char*>(a), 64, 16 * 64, kAmxRows * 64, b, t, rows, cols);
}

// On 32 whole rows of a row-major A (depth contiguous, lda elements apart, K a multiple of 32): no packing.
void amx_kernel_in_place(int pairs, const uint16_t* a, long lda, const uint32_t* b, const Tile& t, int rows, int cols) {
  amx_tiles(pairs, reinterpret_cast<const char*>(a), lda * 2, 16 * lda * 2, 64, b, t, rows, cols);
}

// ---- the driver ----

// A kernel: rows per call, the multiple its packed depth pairs are padded to, its packing of A, its tile, its tile on
// `rows` whole rows of a row-major A read in place when K is a multiple of 2·pair_multiple (null: it always packs),
// and what a thread does before and after a work item's calls (may be null).
struct Kernel {
  int rows;
  int pair_multiple;
  void (*pack_a)(View a, int mc, int k, int pairs, uint32_t* out);  // ⌈mc / rows⌉ · rows · pairs lanes
  void (*run)(int pairs, const uint32_t* a, const uint32_t* b, const Tile& t, int rows, int cols);
  void (*run_in_place)(int pairs, const uint16_t* a, long lda, const uint32_t* b, const Tile& t, int rows, int cols);
  void (*begin)();
  void (*end)();
};
constexpr Kernel kVnni{kMR, 1, pack_a_vnni, vnni_kernel, nullptr, nullptr, nullptr};
constexpr Kernel kAmx{kAmxRows, kAmxPairs, pack_a_amx, amx_kernel, amx_kernel_in_place, amx_begin, amx_end};

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
    buffer.data = static_cast<uint32_t*>(std::aligned_alloc(64, (lanes * sizeof(uint32_t) + 63) / 64 * 64));
    if (buffer.data == nullptr) throw std::bad_alloc();
    buffer.size = lanes;
  }
  return buffer.data;
}

// How many leading rows of an mc-row block of A the kernel reads in place: its whole blocks of rows, when it can and
// A is row-major with a depth that needs no padding; 0 otherwise.
int in_place_rows(const Kernel& kernel, View a, int k, int mc) {
  if (kernel.run_in_place == nullptr || a.cs != 1 || k % (2 * kernel.pair_multiple) != 0) return 0;
  return mc / kernel.rows * kernel.rows;
}

void run_gemm(const Kernel& kernel, const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta,
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
  const int pairs = ((s.k + 1) / 2 + kernel.pair_multiple - 1) / kernel.pair_multiple * kernel.pair_multiple;
  const long panel_lanes = static_cast<long>(pairs) * kNR;
  const int all_panels = (s.n + kNR - 1) / kNR;
  const int chunk_panels = static_cast<int>(std::clamp<long>(kChunkBytes / (panel_lanes * 4), 1, all_panels));
  const int block = kernel.rows * 12;  // rows of A packed together (168 or 384)
  // One thread for a small product (the threads' start costs more than it saves) or inside a parallel region.
  const bool small = static_cast<double>(s.m) * s.n * s.k < static_cast<double>(1 << 18);
  const int threads = omp_in_parallel() || small ? 1 : omp_get_max_threads();
  uint32_t* const bp = thread_buffer<Panel::b>(static_cast<size_t>(panel_lanes) * chunk_panels);
  for (int jc = 0; jc < s.n; jc += chunk_panels * kNR) {
    const int nc = std::min(chunk_panels * kNR, s.n - jc);
    const int panels = (nc + kNR - 1) / kNR;
    const View Bchunk{B.p + jc * B.cs, B.rs, B.cs};
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int q = 0; q < panels; ++q) pack_b_panel(Bchunk, s.k, pairs, nc, q * kNR, bp + q * panel_lanes);
    // Work items (block of rows, group of B panels), shared among the threads as gemm<Isa::avx512> shares them.
    int row_blocks = (s.m + block - 1) / block;
    if (row_blocks >= threads) {
      const int down = row_blocks / threads * threads;
      const bool fits = static_cast<long>(s.m) <= static_cast<long>(down) * block * 3 / 2;
      row_blocks = fits ? down : (row_blocks + threads - 1) / threads * threads;
    }
    const int mc_step = ((s.m + row_blocks - 1) / row_blocks + kernel.rows - 1) / kernel.rows * kernel.rows;
    row_blocks = (s.m + mc_step - 1) / mc_step;
    const int groups = row_blocks >= threads ? 1 : std::min(panels, (threads + row_blocks - 1) / row_blocks);
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
    for (int ib = 0; ib < row_blocks; ++ib) {
      for (int gi = 0; gi < groups; ++gi) {
        const int ic = ib * mc_step, mc = std::min(mc_step, s.m - ic);
        // AMX reads whole 32-row blocks of a row-major A in place (an odd lda is fine: a tile row is any 64 bytes);
        // only the rest is packed.
        const int in_place = in_place_rows(kernel, A, s.k, mc);
        uint32_t* ap = thread_buffer<Panel::a>(static_cast<size_t>(mc_step + kernel.rows) * pairs);
        if (in_place < mc) kernel.pack_a(View{A.p + (ic + in_place) * A.rs, A.rs, A.cs}, mc - in_place, s.k, pairs, ap);
        const int q0 = panels * gi / groups, q1 = panels * (gi + 1) / groups;
        if (kernel.begin) kernel.begin();
        for (int q = q0; q < q1; ++q) {
          const int jr = q * kNR;
          for (int ir = 0; ir < mc; ir += kernel.rows) {
            const Tile tile{alpha,
                            beta,
                            bias ? bias + jc + jr : nullptr,
                            c_bf16,
                            static_cast<char*>(c) + ((ic + ir) * ldc + jc + jr) * c_size,
                            ldc};
            if (ir < in_place) {
              kernel.run_in_place(pairs, A.p + (ic + ir) * A.rs, A.rs, bp + q * panel_lanes, tile, kernel.rows,
                                  std::min(kNR, nc - jr));
            } else {
              kernel.run(pairs, ap + static_cast<long>(ir - in_place) * pairs, bp + q * panel_lanes, tile,
                         std::min(kernel.rows, mc - ir), std::min(kNR, nc - jr));
            }
          }
        }
        if (kernel.end) kernel.end();
      }
    }
  }
}

}  // namespace

template <>
void gemm_bf16<Isa::avx512>(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta,
                            const float* bias, DType c_type, void* c) {
  run_gemm(kVnni, s, alpha, a, b, beta, bias, c_type, c);
}

template <>
void gemm_bf16_amx<Isa::avx512>(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta,
                                const float* bias, DType c_type, void* c) {
  run_gemm(kAmx, s, alpha, a, b, beta, bias, c_type, c);
}

}  // namespace nn::kernels
