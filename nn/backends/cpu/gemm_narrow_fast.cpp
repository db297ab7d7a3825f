// The GEMMs below AVX-512 that beat OpenBLAS on their shapes (gemm.h's gemm_narrow, gemm_long and gemm_panels),
// compiled once per instruction-set level (isa.h): kCompiledIsa is this copy's.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "nn/backends/cpu/gemm.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

namespace {

// Rows per group for V vectors of columns: R·V accumulators of 16 floats, at most 4 — 8 of AVX2's 16 registers,
// which leaves room for B's row and a broadcast up to V = 2 (V = 4 and the scalar level's 4-lane parts spill some).
template <int V>
constexpr int kGroupRows = V <= 2 ? 4 / V : 1;

// The one inner loop of the three kernels: acc[r][v] += Σ_{p < depth} A(r, p) · B(p, [16v, 16v + 16)) for R rows of
// C, with A(r, p) = a[r·row_step + p·depth_step] broadcast (gemm_narrow: rows of A as stored; gemm_long: its columns)
// and B's row p at b + p·b_step. R rows at a time so that the chains of fused multiply-adds interleave.
template <int V, int R>
NN_SIMD void add_products(int64_t depth, const float* a, long row_step, long depth_step, const float* b, long b_step,
                          v16 (&acc)[R][V]) {
  for (int64_t p = 0; p < depth; ++p) {
    v16 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load16(b + p * b_step + v * 16);
    for (int r = 0; r < R; ++r) {
      const v16 ar = splat16(a[r * row_step + p * depth_step]);
      for (int v = 0; v < V; ++v) acc[r][v] += ar * bv[v];
    }
  }
}

// The same sums from nothing: acc[r][v] = Σ_{p < depth} …. The first depth's products set them: zeroing the array
// first made GCC clear it in memory (a rep stos, ~20 % of gemm_panels' time at K = 64) before loading it into
// registers.
template <int V, int R>
NN_SIMD void sum_rows(int64_t depth, const float* a, long row_step, long depth_step, const float* b, long b_step,
                      v16 (&acc)[R][V]) {
  if (depth <= 0) {
    for (auto& row : acc)
      for (auto& part : row) part = v16{};
    return;
  }
  {
    v16 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load16(b + v * 16);
    for (int r = 0; r < R; ++r) {
      const v16 ar = splat16(a[r * row_step]);
      for (int v = 0; v < V; ++v) acc[r][v] = ar * bv[v];
    }
  }
  add_products<V, R>(depth - 1, a + depth_step, row_step, depth_step, b + b_step, b_step, acc);
}

// Rows [p0, p0 + depth) of op(B) into `block`, 16·V floats a row, zeros past N.
template <int V>
void pack_rows(const GemmShape& s, const float* b, long ldb, int64_t p0, int64_t depth, float* block) {
  for (int64_t p = 0; p < depth; ++p) {
    float* row = block + p * 16 * V;
    if (s.transpose_b) {
      for (int j = 0; j < s.n; ++j) row[j] = b[j * ldb + p0 + p];
    } else {
      std::memcpy(row, b + (p0 + p) * ldb, sizeof(float) * s.n);
    }
    for (int j = s.n; j < 16 * V; ++j) row[j] = 0.0f;
  }
}

// Rows [i0, i0 + R) of C from the packed op(B) (all K rows): C = alpha·sum + beta·C on the N columns that exist.
template <int V, int R>
NN_SIMD void narrow_rows(const GemmShape& s, int64_t i0, float alpha, const float* a, long lda, const float* block,
                         float beta, float* c, long ldc) {
  v16 acc[R][V];
  sum_rows<V, R>(s.k, a + i0 * lda, lda, 1, block, 16 * V, acc);
  for (int r = 0; r < R; ++r) {
    float* row = c + (i0 + r) * ldc;
    for (int v = 0; v < V; ++v) {
      const int64_t count = std::min<int64_t>(16, s.n - 16 * v);
      v16 out = acc[r][v] * alpha;
      if (beta != 0.0f) out += load16_partial(row + 16 * v, count, 0.0f) * beta;
      store16_partial(row + 16 * v, out, count);
    }
  }
}

template <int V>
void narrow_product(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  constexpr int R = kGroupRows<V>;
  const long lda = s.lda ? s.lda : s.k, ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n), ldc = s.ldc ? s.ldc : s.n;
  // op(B), all K ≤ 64 rows, read from L1 by every row of C.
  alignas(64) float block[kNarrowMaxK * 16 * V];
  pack_rows<V>(s, b, ldb, 0, s.k, block);
  const int64_t groups = s.m / R;
  const bool threads = int64_t{s.m} * s.k * s.n > (1 << 18);
#pragma omp parallel for schedule(static) if (threads)
  for (int64_t g = 0; g < groups; ++g) narrow_rows<V, R>(s, g * R, alpha, a, lda, block, beta, c, ldc);
  for (int64_t i = groups * R; i < s.m; ++i) narrow_rows<V, 1>(s, i, alpha, a, lda, block, beta, c, ldc);
}

// gemm_long's depths [p0, p1) into sums (M, 16·V), kLongBlock depths at a time: op(B)'s rows read in place where they
// fill the vectors, else packed (they stay in L1); each group of R rows of C summed over the block in registers (row
// p of the stored A holds C's rows' depth p) and added to sums.
constexpr int kLongBlock = 128;
template <int V>
void long_slice(const GemmShape& s, const float* a, long lda, const float* b, long ldb, int64_t p0, int64_t p1,
                float* block, float* sums) {
  constexpr int R = kGroupRows<V>;
  const bool in_place = !s.transpose_b && s.n == 16 * V;
  for (int64_t q0 = p0; q0 < p1; q0 += kLongBlock) {
    const int64_t depth = std::min<int64_t>(kLongBlock, p1 - q0);
    if (!in_place) pack_rows<V>(s, b, ldb, q0, depth, block);
    const float* rows_of_b = in_place ? b + q0 * ldb : block;
    const long b_step = in_place ? ldb : 16 * V;
    auto add_rows = [&]<int G>(int64_t i0) {  // rows [i0, i0 + G) of C
      v16 acc[G][V];
      sum_rows<V, G>(depth, a + q0 * lda + i0, 1, lda, rows_of_b, b_step, acc);
      for (int r = 0; r < G; ++r)
        for (int v = 0; v < V; ++v) {
          float* out = sums + ((i0 + r) * V + v) * 16;
          store16(out, load16(out) + acc[r][v]);
        }
    };
    int64_t i = 0;
    for (; i + R <= s.m; i += R) add_rows.template operator()<R>(i);
    for (; i < s.m; ++i) add_rows.template operator()<1>(i);
  }
}

// gemm_panels: op(B) packed into panels of 16 columns (K ≤ kPanelsMaxK rows each: at most 18 KB, in L1), A read in
// place, each group of kPanelRows rows of C summed in registers one panel at a time — 6 × 16 floats, 12 of AVX2's 16
// vector registers, beside B's row and a broadcast (the register tile OpenBLAS's Haswell kernel uses too).
constexpr int kPanelRows = 6;

// Rows [0, R) of C's 16 columns (count of them exist) from one packed panel: C = alpha·sum + bias + beta·C, row r
// stored at rows[r] (null: a row the windows drop). Row r of A at a + r·lda, its K products in `taps` runs of
// K / taps, tap_stride floats apart (gemm.h's PanelWindows; one run for a plain matrix).
template <int R>
NN_SIMD void panel_rows(int64_t k, const float* a, long lda, int taps, long tap_stride, const float* panel,
                        int64_t count, float alpha, const float* bias, float beta, float* const (&rows)[R]) {
  v16 acc[R][1];
  const int64_t run = k / taps;
  sum_rows<1, R>(run, a, lda, 1, panel, 16, acc);
  for (int t = 1; t < taps; ++t) add_products<1, R>(run, a + t * tap_stride, lda, 1, panel + t * run * 16, 16, acc);
  const v16 add = bias != nullptr ? load16_partial(bias, count, 0.0f) : v16{};
  for (int r = 0; r < R; ++r) {
    float* row = rows[r];
    if (row == nullptr) continue;
    v16 out = acc[r][0] * alpha + add;
    if (beta != 0.0f) out += load16_partial(row, count, 0.0f) * beta;
    store16_partial(row, out, count);
  }
}

// Uninitialised floats on a 64-byte boundary (a panel's rows are whole cache lines), freed at scope exit. Not
// std::vector: a template instantiated in this file would be compiled for this level and could be the copy the
// linker keeps for the whole program (isa.h).
struct Floats {
  float* data;
  explicit Floats(size_t count)
      : data(static_cast<float*>(std::aligned_alloc(64, (std::max<size_t>(count, 1) * sizeof(float) + 63) / 64 * 64))) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~Floats() { std::free(data); }
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
};

void panels_product(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
                    const float* bias, const PanelWindows& win) {
  const long lda = s.lda ? s.lda : s.k, ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n), ldc = s.ldc ? s.ldc : s.n;
  const int64_t k = s.k, panels = (int64_t{s.n} + 15) / 16;
  const bool threads = int64_t{s.m} * s.k * s.n > (1 << 18);
  // Panel j: K rows of op(B)'s columns [16j, 16j + 16), zeros past N.
  Floats packed(static_cast<size_t>(panels * 16 * k));
#pragma omp parallel for schedule(static) if (threads)
  for (int64_t j = 0; j < panels; ++j) {
    const int64_t j0 = 16 * j, count = std::min<int64_t>(16, s.n - j0);
    for (int64_t p = 0; p < k; ++p) {
      float* row = packed.data + (j * k + p) * 16;
      if (!s.transpose_b) {  // a row of B's 16 columns is contiguous: one vector
        store16(row, load16_partial(b + p * ldb + j0, count, 0.0f));
        continue;
      }
      for (int64_t q = 0; q < 16; ++q) row[q] = q >= count ? 0.0f : b[(j0 + q) * ldb + p];
    }
  }
  // Each thread its share of the groups of rows; the panels in chunks of 256 KB, which stay in L2 while the thread's
  // groups read them.
  const int64_t groups = s.m / kPanelRows, chunk = std::max<int64_t>(1, (256 << 10) / (64 * std::max<int64_t>(k, 1)));
  // Where row i of C goes: c + i·ldc, or with wide windows its kept rows packed, the others nowhere.
  auto c_row = [&](int64_t i) -> float* {
    if (win.wide == 0) return c + i * ldc;
    const int64_t col = i % win.wide;
    return col < win.kept ? c + (i / win.wide * win.kept + col) * ldc : nullptr;
  };
  auto panel = [&]<int R>(int64_t i0, int64_t j) {
    const int64_t j0 = 16 * j;
    float* rows[R];
    for (int r = 0; r < R; ++r) {
      float* row = c_row(i0 + r);
      rows[r] = row != nullptr ? row + j0 : nullptr;
    }
    panel_rows<R>(k, a + i0 * lda, lda, win.taps, win.tap_stride, packed.data + j * k * 16,
                  std::min<int64_t>(16, s.n - j0), alpha, bias != nullptr ? bias + j0 : nullptr, beta, rows);
  };
#pragma omp parallel if (threads)
  {
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t g0 = groups * me / team, g1 = groups * (me + 1) / team;
    for (int64_t first = 0; first < panels; first += chunk)
      for (int64_t g = g0; g < g1; ++g)
        for (int64_t j = first; j < std::min(panels, first + chunk); ++j)
          panel.template operator()<kPanelRows>(g * kPanelRows, j);
  }
  for (int64_t i = groups * kPanelRows; i < s.m; ++i)  // the last M mod 6 rows, one at a time
    for (int64_t j = 0; j < panels; ++j) panel.template operator()<1>(i, j);
}

// Floats buffer, zeroed.
struct Zeros : Floats {
  explicit Zeros(size_t count) : Floats(count) { std::memset(data, 0, count * sizeof(float)); }
};

// gemm_long for V vectors of columns: each thread sums a slice of the depths into its own (M, 16·V) sums, which are
// then added up in thread order and written as C = alpha·Σ + beta·C.
template <int V>
void long_product(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  const long lda = s.lda ? s.lda : s.m, ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n), ldc = s.ldc ? s.ldc : s.n;
  const int team = omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads());
  const int64_t size = int64_t{s.m} * 16 * V;
  Zeros zeros(static_cast<size_t>(size * team));
  float* const sums = zeros.data;
  int used = 1;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    if (t == 0) used = n;  // read after the region
    alignas(64) float block[kLongBlock * 16 * V];
    long_slice<V>(s, a, lda, b, ldb, int64_t{s.k} * t / n, int64_t{s.k} * (t + 1) / n, block, sums + size * t);
  }
  for (int i = 0; i < s.m; ++i)
    for (int j = 0; j < s.n; ++j) {
      float total = 0.0f;
      for (int t = 0; t < used; ++t) total += sums[size * t + i * 16 * V + j];
      float& out = c[i * ldc + j];
      out = alpha * total + (beta == 0.0f ? 0.0f : beta * out);
    }
}

// f.template operator()<V>() for V = ⌈n / 16⌉ vectors of columns, 1 ≤ n ≤ 64.
template <class F>
void with_vectors(int n, F&& f) {
  switch ((n + 15) / 16) {
    case 1:
      return f.template operator()<1>();
    case 2:
      return f.template operator()<2>();
    case 3:
      return f.template operator()<3>();
    default:
      return f.template operator()<4>();
  }
}

}  // namespace

template <>
void gemm_long<kCompiledIsa>(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  if (!s.transpose_a || s.m > kNarrowMaxN || s.n > kNarrowMaxN)
    throw std::invalid_argument("gemm_long: expected a transposed A and M, N <= 64");
  if (s.m <= 0 || s.n <= 0) return;
  with_vectors(s.n, [&]<int V> { long_product<V>(s, alpha, a, b, beta, c); });
}

template <>
void gemm_panels<kCompiledIsa>(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
                               const float* bias, const PanelWindows& windows) {
  if (s.transpose_a || s.k > kPanelsMaxK)
    throw std::invalid_argument("gemm_panels: expected A not transposed and K <= 288");
  if (windows.taps < 1 || s.k % windows.taps != 0 || windows.wide < 0 ||
      (windows.wide > 0 && (windows.kept < 1 || windows.kept > windows.wide)))
    throw std::invalid_argument("gemm_panels: expected windows of taps dividing K and 1 <= kept <= wide");
  if (s.m <= 0 || s.n <= 0) return;
  panels_product(s, alpha, a, b, beta, c, bias, windows);
}

template <>
void gemm_narrow<kCompiledIsa>(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  if (s.transpose_a || s.n > kNarrowMaxN || s.k > kNarrowMaxK)
    throw std::invalid_argument("gemm_narrow: expected A not transposed and N, K <= 64");
  if (s.m <= 0 || s.n <= 0) return;
  with_vectors(s.n, [&]<int V> { narrow_product<V>(s, alpha, a, b, beta, c); });
}

}  // namespace nn::kernels
