// OutputScreen's exact int8 products (output_screen_kernels.h): AMX's tdpbusd for 7 to 16 rows and AVX512-VNNI's
// vpdpbusd otherwise where the processor has them (nn::kernels::cpu_supports_amx_int8(), cpu_supports_vnni(): run-time
// checks), AVX2's vpmaddubsw and vpmaddwd at the avx2 and avx512 levels without VNNI, plain integer loops elsewhere
// (the same sums: integer arithmetic has no rounding to differ in). A kernel file (its name ends in _fast.cpp): its
// only code beyond baseline x86-64 is in those functions, each compiled for its instructions by a target attribute
// and called only where the processor has them, which scripts/check_isa.sh accepts there and nowhere else.
#include <algorithm>
#include <cstring>

#include <omp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <nn/backends/cpu/isa.h>

#include "captioning/output_screen_kernels.h"

namespace captioning {

namespace {

// Baseline: acc[r][64t + c] = Σ_g Σ_i u[r][4g + i] · q[t][g][c][i] for one tile.
void tile_plain(int64_t rows, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r) {
    int32_t sum[kScreenTile] = {};
    const uint8_t* ur = u + r * 4 * quads;
    for (int64_t g = 0; g < quads; ++g) {
      const int8_t* qg = q + g * kScreenQuadBytes;
      for (int64_t c = 0; c < kScreenTile; ++c)
        for (int i = 0; i < 4; ++i) sum[c] += int32_t{ur[4 * g + i]} * qg[4 * c + i];
    }
    std::memcpy(acc + r * ldc, sum, sizeof(sum));
  }
}

#if defined(__x86_64__)
constexpr int64_t kPrefetchQuads = 8;

// Asks for the line `offset` bytes past p: it may lie past the end of q (the last tile's next quads), which a prefetch
// never faults on — the address is computed as an integer, not as a pointer past the array.
__attribute__((always_inline)) inline void prefetch(const int8_t* p, int64_t offset) {
  _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(offset)),
               _MM_HINT_T0);
}

// One tile for R rows: 4 × 16 int32 sums per row in registers; each quad's 256 bytes of q loaded once, every row's 4
// bytes of u broadcast against them (vpdpbusd: 16 lanes × 4 byte products each).
template <int R>
__attribute__((target("arch=x86-64-v4,avx512vnni"), always_inline)) inline void tile_vnni_rows(
    int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc, int64_t ldc) {
  __m512i sum[R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) sum[r][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < quads; ++g) {
    const int8_t* qg = q + g * kScreenQuadBytes;
    for (int line = 0; line < 4; ++line) prefetch(qg, kPrefetchQuads * kScreenQuadBytes + 64 * line);
    __m512i q0 = _mm512_loadu_si512(qg), q1 = _mm512_loadu_si512(qg + 64), q2 = _mm512_loadu_si512(qg + 128),
            q3 = _mm512_loadu_si512(qg + 192);
    // In registers: for R < 4 GCC 12 folds the loads into every row's vpdpbusd instead (one load per row and vector),
    // and 2 rows took longer than 4 (14.6 against 11.8 µs for V = 7,579 on 2 threads of an Intel Xeon).
    asm("" : "+v"(q0), "+v"(q1), "+v"(q2), "+v"(q3));
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, u + r * 4 * quads + 4 * g, sizeof(four));
      const __m512i ur = _mm512_set1_epi32(four);
      sum[r][0] = _mm512_dpbusd_epi32(sum[r][0], ur, q0);
      sum[r][1] = _mm512_dpbusd_epi32(sum[r][1], ur, q1);
      sum[r][2] = _mm512_dpbusd_epi32(sum[r][2], ur, q2);
      sum[r][3] = _mm512_dpbusd_epi32(sum[r][3], ur, q3);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_si512(acc + r * ldc + 16 * v, sum[r][v]);
}

// A tile for any number of rows, six at a time (the tile's 16 KB of q stays in L1 for the later groups): six rows' 24
// sums and q's 4 vectors take 28 of the 32 registers. Six rows in one pass rather than four and two: 18.5 → 15.6 µs
// (screen_products at V = 7,579, 2 threads of an Intel Xeon).
__attribute__((target("arch=x86-64-v4,avx512vnni"))) void tile_vnni(int64_t rows, int64_t quads, const uint8_t* u,
                                                                    const int8_t* q, int32_t* acc, int64_t ldc) {
  for (int64_t r0 = 0; r0 < rows; r0 += 6) {
    const uint8_t* ur = u + r0 * 4 * quads;
    int32_t* ar = acc + r0 * ldc;
    switch (std::min<int64_t>(6, rows - r0)) {
      case 5:
        tile_vnni_rows<5>(quads, ur, q, ar, ldc);
        break;
      case 6:
        tile_vnni_rows<6>(quads, ur, q, ar, ldc);
        break;
      case 1:
        tile_vnni_rows<1>(quads, ur, q, ar, ldc);
        break;
      case 2:
        tile_vnni_rows<2>(quads, ur, q, ar, ldc);
        break;
      case 3:
        tile_vnni_rows<3>(quads, ur, q, ar, ldc);
        break;
      case 4:
        tile_vnni_rows<4>(quads, ur, q, ar, ldc);
    }
  }
}

// The products on AMX tiles (tdpbusd), where the processor has AMX-INT8: up to 16 rows of u × 16 columns of int32
// sums a tile register, 16 quads (64 depths) a step. VNNI's cost grows with the rows (each vpdpbusd serves one row); a
// tile's cost hardly does up to 16 rows — a beam of 16 takes one tdpbusd per step and 16 columns, as a beam of 1 would.
constexpr int64_t kAmxMaxRows = 16;  // rows of u in the A tile, and so in one call of tile_amx
constexpr int64_t kAmxQuads = 16;    // quads a step: an A tile row is 64 bytes of u, a B tile 16 quads
constexpr int64_t kAmxQuarter = kScreenQuadBytes / 4;  // one B tile row: 16 columns' 4 bytes of a quad
constexpr int64_t kLine = 64;                          // bytes of a cache line

// The 64 bytes LDTILECFG reads (palette 1). Registers: C0–C3 the sums of the four 16-column quarters of a tile, A the
// rows' bytes of a step, B0–B2 quarters of q (B0 twice a step).
struct alignas(64) ScreenTileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(ScreenTileConfig) == 64);

// Configures this thread's tiles for `rows` ≤ kAmxMaxRows rows of u; tile_amx then runs until amx_screen_end().
__attribute__((target("amx-tile,amx-int8"))) void amx_screen_begin(int64_t rows) {
  ScreenTileConfig config;
  for (int tile = 0; tile < 8; ++tile) {
    config.rows[tile] = static_cast<uint8_t>(tile < 5 ? rows : kAmxQuads);  // C0–C3 and A: the rows; B: 16 quads
    config.bytes_per_row[tile] = 64;
  }
  // LDTILECFG as an asm statement whose input is the whole object: GCC 12's _tile_loadconfig names only its first 8
  // bytes as read ("m" of a pointer's size), and the stores past them were dropped (the configuration loaded was then
  // zeros but the palette, and LDTILECFG faulted). The bf16 GEMM's is a static constant, which no store builds.
  asm volatile("ldtilecfg %0" : : "m"(config));
}

__attribute__((target("amx-tile,amx-int8"))) void amx_screen_end() {
  _tile_release();
}

// One tile for rows ≤ kAmxMaxRows rows of u (configured by amx_screen_begin(rows)): each step one A tile (64 bytes of
// each row, read in place: rows 4·quads bytes apart) against the four 16-column quarters of q, read in place too (a
// quad's 16 columns are 64 contiguous bytes, the next quad's kScreenQuadBytes on), while the next step's 16 quads — or
// the next tile's first — are prefetched: B tiles read 16 lines 256 bytes apart, which the hardware prefetchers follow
// poorly (one thread over 1.9 MB of q, six rows: 48.3 → 38.8 µs). The quads past the last whole step (quads mod 16:
// none at K = 256) are added with vpdpbusd.
__attribute__((target("arch=x86-64-v4,avx512vnni,amx-tile,amx-int8"))) void tile_amx(int64_t rows, int64_t quads,
                                                                                     const uint8_t* u, const int8_t* q,
                                                                                     int32_t* acc, int64_t ldc) {
  const int64_t ldu = 4 * quads, steps = quads / kAmxQuads, c_stride = ldc * static_cast<int64_t>(sizeof(int32_t));
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t step = 0; step < steps; ++step) {
    const int8_t* qs = q + step * kAmxQuads * kScreenQuadBytes;
    for (int64_t line = 0; line < kAmxQuads * kScreenQuadBytes / kLine; ++line)
      prefetch(qs, kAmxQuads * kScreenQuadBytes + line * kLine);
    _tile_loadd(4, u + step * 64, ldu);
    _tile_loadd(5, qs, kScreenQuadBytes);
    _tile_loadd(6, qs + kAmxQuarter, kScreenQuadBytes);
    _tile_loadd(7, qs + 2 * kAmxQuarter, kScreenQuadBytes);
    _tile_dpbusd(0, 4, 5);
    _tile_dpbusd(1, 4, 6);
    _tile_dpbusd(2, 4, 7);
    _tile_loadd(5, qs + 3 * kAmxQuarter, kScreenQuadBytes);
    _tile_dpbusd(3, 4, 5);
  }
  _tile_stored(0, acc, c_stride);
  _tile_stored(1, acc + 16, c_stride);
  _tile_stored(2, acc + 32, c_stride);
  _tile_stored(3, acc + 48, c_stride);
  const int64_t done = steps * kAmxQuads;
  if (done == quads) return;  // K a multiple of 64 (the captioner's 256): the tiles took every quad
  for (int64_t r = 0; r < rows; ++r) {
    for (int v = 0; v < 4; ++v) {
      int32_t* sums = acc + r * ldc + 16 * v;
      __m512i sum = _mm512_loadu_si512(sums);
      for (int64_t g = done; g < quads; ++g) {
        int32_t four;
        std::memcpy(&four, u + r * ldu + 4 * g, sizeof(four));
        sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi32(four), _mm512_loadu_si512(q + g * kScreenQuadBytes + 64 * v));
      }
      _mm512_storeu_si512(sums, sum);
    }
  }
}

// The products on AVX2, which has no vpdpbusd. vpmaddubsw multiplies u8 by s8 and adds adjacent pairs into int16,
// saturating: with u's bytes ≤ kScreenByteMax (127) and q's ≥ −127 a pair is at most 2·127·127 = 32,258 in magnitude,
// and vpmaddwd then widens a quad's two pairs into its int32 sum. Each 32 bytes of q (8 columns × 4 rows) are loaded
// once for both rows: per row and quad, a vpmaddubsw, a vpmaddwd and an add for 8 columns × 4 depths (where VNNI
// takes one vpdpbusd).
//
// Quad g of one half of a tile (32 columns, 4 vectors) into the int32 sums of R rows of u, ldu bytes apart.
template <int R>
__attribute__((target("arch=x86-64-v3"), always_inline)) inline void add_quad(int64_t g, const uint8_t* u, int64_t ldu,
                                                                              const int8_t* qh, __m256i (&sum)[R][4]) {
  static_assert(2 * kScreenByteMax * 127 <= 32767, "a quad's pairs must fit in int16");
  __m256i ur[R];
  for (int r = 0; r < R; ++r) {  // u's 4 bytes of the quad in every 32-bit lane
    int32_t four;
    std::memcpy(&four, u + r * ldu + 4 * g, sizeof(four));
    ur[r] = _mm256_set1_epi32(four);
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int v = 0; v < 4; ++v) {
    __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + g * kScreenQuadBytes + 32 * v));
    // In registers, loaded once for both rows (GCC 12 folded it into each row's vpmaddubsw, as tile_vnni_rows's q: 2
    // rows 21.0 → 18.2 µs at V = 7,579 on 2 threads, NN_ISA=avx2, Intel Xeon).
    asm("" : "+x"(qv));
    for (int r = 0; r < R; ++r)
      sum[r][v] = _mm256_add_epi32(sum[r][v], _mm256_madd_epi16(_mm256_maddubs_epi16(ur[r], qv), ones));
  }
}

// One tile (64 columns, in two halves of 32: 4 vectors of int32 sums a row) for R ≤ 2 rows of u, ldu bytes apart: at
// R = 2 the 8 sums, 2 broadcasts, q's vector and the constant take 12 of the 16 registers; a third row would need 17.
template <int R>
__attribute__((target("arch=x86-64-v3"), always_inline)) inline void tile_avx2_rows(int64_t quads, const uint8_t* u,
                                                                                    int64_t ldu, const int8_t* q,
                                                                                    int32_t* acc, int64_t ldc) {
  for (int64_t half = 0; half < 2; ++half) {
    __m256i sum[R][4];
    for (auto& row : sum)
      for (auto& s : row) s = _mm256_setzero_si256();
    const int8_t* qh = q + half * (kScreenQuadBytes / 2);
    for (int64_t g = 0; g < quads; ++g) add_quad<R>(g, u, ldu, qh, sum);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < 4; ++v)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * ldc + half * (kScreenTile / 2) + 8 * v), sum[r][v]);
  }
}

// A tile for any number of rows, two at a time (the tile's 16 KB of q stays in L1 for the later pairs).
__attribute__((target("arch=x86-64-v3"))) void tile_avx2(int64_t rows, int64_t quads, const uint8_t* u, const int8_t* q,
                                                         int32_t* acc, int64_t ldc) {
  const int64_t ldu = 4 * quads;
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) tile_avx2_rows<2>(quads, u + r * ldu, ldu, q, acc + r * ldc, ldc);
  if (r < rows) tile_avx2_rows<1>(quads, u + r * ldu, ldu, q, acc + r * ldc, ldc);
}
#endif

}  // namespace

void ScreenTileProducts::begin(int64_t rows) const {
#if defined(__x86_64__)
  if (kind == ScreenProducts::amx) amx_screen_begin(rows);
#else
  (void)rows;
#endif
}

void ScreenTileProducts::end() const {
#if defined(__x86_64__)
  if (kind == ScreenProducts::amx) amx_screen_end();
#endif
}

// The kernel for calls of `rows` rows (a row of bytes per row of the beam). AMX for 7 to 16: below that a tile step
// costs more than the rows' vpdpbusd (screen_products at V = 7,579, 2 threads of an Intel Xeon, VNNI against AMX:
// 4 rows 12.0 against 17.3 µs, 6 rows 15.6 / 17.7, 7 rows 21.1 / 18.0, 8 rows 22.4 / 18.3; 16 rows 40.4 / 25.2;
// greedy's 1 row 9.3 µs and beam 3's 3 rows 10.5 on VNNI) — beams of up to 6 stay on VNNI, of 7 to 16 go to AMX;
// more than 16 rows would take a second pass, and stay on VNNI.
ScreenTileProducts screen_tile_products(int64_t rows) {
#if defined(__x86_64__)
  if (rows > 6 && rows <= kAmxMaxRows && nn::kernels::cpu_supports_amx_int8()) return {ScreenProducts::amx, &tile_amx};
  if (nn::kernels::cpu_supports_vnni()) return {ScreenProducts::vnni, &tile_vnni};
  if (nn::kernels::active_isa() != nn::kernels::Isa::scalar) return {ScreenProducts::avx2, &tile_avx2};
#endif
  return {ScreenProducts::plain, &tile_plain};
}

ScreenProducts screen_products_kind(int64_t rows) {
  return screen_tile_products(rows).kind;
}

const char* screen_products_name(ScreenProducts kind) {
  switch (kind) {
    case ScreenProducts::amx:
      return "AMX tiles";
    case ScreenProducts::vnni:
      return "AVX512-VNNI";
    case ScreenProducts::avx2:
      return "AVX2";
    case ScreenProducts::plain:
      break;
  }
  return "plain loops";
}

void screen_products(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc) {
  const ScreenTileProducts products = screen_tile_products(m);
  const int64_t ldc = tiles * kScreenTile;
#pragma omp parallel if (tiles * quads * kScreenQuadBytes >= (1 << 20))
  {
    products.begin(m);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t)
      products.tile(m, quads, u, q + t * quads * kScreenQuadBytes, acc + t * kScreenTile, ldc);
    products.end();
  }
}

}  // namespace captioning
