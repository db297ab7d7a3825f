// OutputScreen's pass over the vocabulary (output_screen_kernels.h): the products (output_screen_products_fast.cpp),
// then the rows' estimates, bounds and candidates — one generic loop each, compiled for each instruction-set level —
// and the rows' sums of e^z. A kernel file (its name ends in _fast.cpp): its only code beyond baseline x86-64 is in the
// level copies of those loops, each compiled for its instructions by a target attribute and called only where the
// processor has them, which scripts/check_isa.sh accepts there and nowhere else.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include <omp.h>

#include <nn/backends/cpu/isa.h>
#include <nn/backends/cpu/rows_fast.h>

#include "captioning/output_screen_kernels.h"

namespace captioning {

namespace {

// The estimates and bounds of one tile's columns [j0, j0 + width) for `rows` rows, from its sums (rows, 64); each
// row's largest estimate so far in largest[r].
__attribute__((always_inline)) inline void tile_estimates(int64_t rows, int64_t j0, int64_t width,
                                                          const int32_t* __restrict sums, const ScreenColumns& col,
                                                          const ScreenRowNorms* norms, float* __restrict z,
                                                          float* __restrict bound, float* largest) {
  constexpr float kWiden = 1 + 0x1p-10f, kRelative = 0x1p-21f;
  // The columns' arrays from j0 on, in locals: read through `col` inside the loop they would be loaded again after
  // every store (a store might change `col`), and the loop would not vectorise.
  const int32_t* __restrict q_sums = col.q_sums + j0;
  const float* __restrict scale = col.scale + j0, * __restrict bias = col.bias + j0;
  const float* __restrict spread = col.spread + j0;
  const float* __restrict int8_norm = col.int8_norm + j0;
  const float* __restrict offset = col.offset + j0;
  for (int64_t r = 0; r < rows; ++r) {
    const ScreenRowNorms n = norms[r];
    const int32_t* __restrict sr = sums + r * kScreenTile;
    float* __restrict zr = z + r * col.vocab + j0;
    float* __restrict br = bound + r * col.vocab + j0;
    float top = largest[r];
#pragma omp simd reduction(max : top)
    for (int64_t c = 0; c < width; ++c) {
      const float estimate = bias[c] + scale[c] * (n.x_scale * static_cast<float>(sr[c] - n.x_zero * q_sums[c]));
      zr[c] = estimate;
      br[c] = (n.x_norm * spread[c] + n.x_error * int8_norm[c] + offset[c] + kRelative * std::fabs(estimate)) * kWiden;
      top = estimate > top ? estimate : top;  // (std::max here kept GCC 12 from vectorising the loop)
    }
    largest[r] = top;
  }
}

// Enters the lower bounds z − e of columns [j0, j0 + width) of each row into that row's sorted list of its `keep`
// largest (best[r][0] largest). Few columns enter after the first ones — so 16 at a time are first compared with the
// list's last entry (a vectorised test), one by one only where one is above it.
__attribute__((always_inline)) inline void tile_best(int64_t rows, int64_t j0, int64_t width, int keep, int64_t v,
                                                     const float* z, const float* bound, float (*best)[16]) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * v;
    const float* br = bound + r * v;
    float* list = best[r];
    for (int64_t i0 = j0; i0 < j0 + width; i0 += 16) {
      const int64_t n = std::min<int64_t>(16, j0 + width - i0);
      if (n == 16) {
        const float last = list[keep - 1];
        int above = 0;
#pragma omp simd reduction(| : above)  // GCC 12 compiled the plain loop to 16 scalar subtractions and comparisons
        for (int i = 0; i < 16; ++i) above |= static_cast<int>(zr[i0 + i] - br[i0 + i] > last);
        if (above == 0) continue;
      }
      for (int64_t j = i0; j < i0 + n; ++j) {
        const float lower = zr[j] - br[j];
        if (!(lower > list[keep - 1])) continue;
        int at = keep - 1;
        for (; at > 0 && list[at - 1] < lower; --at) list[at] = list[at - 1];
        list[at] = lower;
      }
    }
  }
}

// candidate[j] |= 1 where some row's upper bound z + e reaches its threshold; a NaN (an infinite weight) is one too.
__attribute__((always_inline)) inline void tile_mark(int64_t rows, int64_t j0, int64_t width, int64_t v, const float* z,
                                                     const float* bound, const float* threshold,
                                                     uint8_t* __restrict candidate) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * v;
    const float* br = bound + r * v;
    const float t = threshold[r];
    for (int64_t j = j0; j < j0 + width; ++j) candidate[j] |= static_cast<uint8_t>(!(zr[j] + br[j] < t));
  }
}

using TileEstimates = void (*)(int64_t, int64_t, int64_t, const int32_t*, const ScreenColumns&, const ScreenRowNorms*,
                               float*, float*, float*);
using TileBest = void (*)(int64_t, int64_t, int64_t, int, int64_t, const float*, const float*, float (*)[16]);
using TileMark = void (*)(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, uint8_t*);

// Each of the three compiled for each instruction-set level, chosen by the active one.
#define NN_SCREEN_LEVEL(suffix, target_attribute)                                                                \
  target_attribute void tile_estimates_##suffix(int64_t rows, int64_t j0, int64_t width, const int32_t* sums,    \
                                                const ScreenColumns& col, const ScreenRowNorms* norms, float* z, \
                                                float* bound, float* largest) {                                  \
    tile_estimates(rows, j0, width, sums, col, norms, z, bound, largest);                                        \
  }                                                                                                              \
  target_attribute void tile_best_##suffix(int64_t rows, int64_t j0, int64_t width, int keep, int64_t v,         \
                                           const float* z, const float* bound, float(*best)[16]) {               \
    tile_best(rows, j0, width, keep, v, z, bound, best);                                                         \
  }                                                                                                              \
  target_attribute void tile_mark_##suffix(int64_t rows, int64_t j0, int64_t width, int64_t v, const float* z,   \
                                           const float* bound, const float* threshold, uint8_t* candidate) {     \
    tile_mark(rows, j0, width, v, z, bound, threshold, candidate);                                               \
  }
#if defined(__x86_64__)
NN_SCREEN_LEVEL(avx512, __attribute__((target("arch=x86-64-v4"))))
NN_SCREEN_LEVEL(avx2, __attribute__((target("arch=x86-64-v3"))))
#endif
NN_SCREEN_LEVEL(scalar, )
#undef NN_SCREEN_LEVEL

struct LevelKernels {
  TileEstimates estimates;
  TileBest best;
  TileMark mark;
};

LevelKernels level_kernels() {
  return nn::kernels::with_active_isa([]<nn::kernels::Isa isa>() -> LevelKernels {
#if defined(__x86_64__)
    if constexpr (isa == nn::kernels::Isa::avx512) return {tile_estimates_avx512, tile_best_avx512, tile_mark_avx512};
    if constexpr (isa == nn::kernels::Isa::avx2) return {tile_estimates_avx2, tile_best_avx2, tile_mark_avx2};
#endif
    return {tile_estimates_scalar, tile_best_scalar, tile_mark_scalar};
  });
}

}  // namespace

namespace {

// Appends the j in [from, to) whose candidate[j] is set, in order: 8 flags a load, nearly all 0.
void list_candidates(int64_t from, int64_t to, const uint8_t* candidate, std::vector<int32_t>& ids) {
  for (int64_t j = from; j < to; j += 8) {
    const int64_t n = std::min<int64_t>(8, to - j);
    uint64_t eight = 0;
    std::memcpy(&eight, candidate + j, static_cast<size_t>(n));
    if (eight == 0) continue;
    for (int64_t i = j; i < j + n; ++i)
      if (candidate[i]) ids.push_back(static_cast<int32_t>(i));
  }
}

// screen_rows's buffers: each team thread's best lower bounds (16 rows × 16) and largest estimates (16 rows), the
// rows' sums by block (M, blocks), and each team thread's candidates (a pointer to its own list, ascending).
struct PassScratch {
  std::vector<float> lists, tops;
  std::vector<double> block_sums;
  std::vector<std::vector<int32_t>*> found;

  void prepare(int threads, int64_t m, int64_t blocks) {
    lists.resize(static_cast<size_t>(threads) * 16 * 16);
    tops.resize(static_cast<size_t>(threads) * 16);
    block_sums.assign(static_cast<size_t>(m * blocks), 0.0);
    found.assign(static_cast<size_t>(threads), nullptr);
  }
};

// The first tile of thread i of a team of `team` (tiles for i = team). Thread 0 (the caller) takes 10 % less than an
// equal share: its L2 also holds the step's other weights (greedy at V = 7,579, three interleaved runs: 1.95–1.99 ms
// against 2.00–2.16 with equal shares).
int64_t first_tile(int64_t i, int64_t team, int64_t tiles) {
  if (i == 0) return 0;
  if (i == team) return tiles;
  const double first_share = 0.9 / static_cast<double>(team);
  return static_cast<int64_t>(
      static_cast<double>(tiles) * (first_share + (1 - first_share) * static_cast<double>(i - 1) / (team - 1)) + 0.5);
}

// Each row's threshold — the keep-th largest of the team's lists of best lower bounds (16 × 16 floats a thread) —
// and largest estimate (the largest of the team's, 16 a thread).
void merge_lists(int64_t m, int64_t team, int keep, const float* lists, const float* tops, float* threshold,
                 float* largest) {
  for (int64_t r = 0; r < m; ++r) {
    std::vector<float> all;
    largest[r] = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < team; ++i) {
      all.insert(all.end(), &lists[(i * 16 + r) * 16], &lists[(i * 16 + r) * 16 + keep]);
      largest[r] = std::max(largest[r], tops[i * 16 + r]);
    }
    std::nth_element(all.begin(), all.begin() + (keep - 1), all.end(), std::greater<float>());
    threshold[r] = all[keep - 1];
  }
}

}  // namespace

ExpSum active_exp_sum() {
  return nn::kernels::with_active_isa([]<nn::kernels::Isa isa>() -> ExpSum { return &nn::kernels::exp_sum<isa>; });
}

void screen_rows(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q,
                 const ScreenColumns& columns, const ScreenRowNorms* norms, int32_t first, int keep, float* z,
                 float* bound, uint8_t* candidate, std::vector<int32_t>& chosen, float* largest, double* exp_sums) {
  const ScreenTileProducts products = screen_tile_products(m);
  const LevelKernels level = level_kernels();
  const ExpSum exp_sum = active_exp_sum();
  const int64_t v = columns.vocab;
  keep = std::clamp(keep, 1, 16);
  // Each thread's best lower bounds and largest estimate per row, then the rows' thresholds: read by all after the
  // barrier. The sums of e^(z − largest) over blocks of kSumColumns, added in block order after the pass: the same
  // sums on any number of threads. (A call of exp_sum per tile took twice as long: its set-up and final reduction
  // cost as much as 64 e^x.)
  constexpr int64_t kSumColumns = 8 * kScreenTile;
  const int64_t sum_blocks = (v + kSumColumns - 1) / kSumColumns;
  const int threads = omp_get_max_threads();
  // Kept by the calling thread between calls (a search makes one a word): no allocation per call after the first.
  // The team reaches them through these references: inside the region a thread_local would name each thread's own.
  thread_local PassScratch caller;
  std::vector<float>&lists = caller.lists, &tops = caller.tops;
  std::vector<double>& block_sums = caller.block_sums;
  std::vector<std::vector<int32_t>*>& found = caller.found;
  caller.prepare(threads, m, sum_blocks);
  float threshold[16];
  // One parallel pass when q is large (the 1.9 MB of V = 7,579; not a small test vocabulary), each thread keeping
  // the same tiles in both halves, in its L2 from one step to the next.
#pragma omp parallel if (tiles * quads * kScreenQuadBytes >= (1 << 20))
  {
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t t0 = first_tile(me, team, tiles), t1 = first_tile(me + 1, team, tiles);
    float(*best)[16] = reinterpret_cast<float(*)[16]>(lists.data() + me * 16 * 16);
    std::fill_n(lists.data() + me * 16 * 16, 16 * 16, -std::numeric_limits<float>::infinity());
    float* top = tops.data() + me * 16;
    std::fill_n(top, 16, -std::numeric_limits<float>::infinity());
    products.begin(m);
    for (int64_t t = t0; t < t1; ++t) {
      int32_t sums[16 * kScreenTile];  // m ≤ 16 rows, the tile's 64 columns each
      products.tile(m, quads, u, q + t * quads * kScreenQuadBytes, sums, kScreenTile);
      const int64_t j0 = t * kScreenTile, width = std::min(kScreenTile, v - j0);
      if (width <= 0) continue;
      level.estimates(m, j0, width, sums, columns, norms, z, bound, top);
      const int64_t from = std::max<int64_t>(j0, first);
      if (from < j0 + width) level.best(m, from, j0 + width - from, keep, v, z, bound, best);
    }
    products.end();
#pragma omp barrier
#pragma omp single
    merge_lists(m, team, keep, lists.data(), tops.data(), threshold, largest);  // (single ends with a barrier)
    thread_local std::vector<int32_t> mine;  // this team thread's own, kept between calls
    mine.clear();
    found[static_cast<size_t>(me)] = &mine;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t from = std::max<int64_t>(t * kScreenTile, first), to = std::min(v, (t + 1) * kScreenTile);
      if (from >= to) continue;
      level.mark(m, from, to - from, v, z, bound, threshold, candidate);
      list_candidates(from, to, candidate, mine);
    }
    // The blocks nearest this thread's tiles (the few columns past them written by a neighbour before the barrier).
    auto block_edge = [&](int64_t i) {
      return i == team
                 ? sum_blocks
                 : std::min(sum_blocks, (first_tile(i, team, tiles) * kScreenTile + kSumColumns / 2) / kSumColumns);
    };
    for (int64_t b = block_edge(me); b < block_edge(me + 1); ++b) {
      const int64_t j0 = b * kSumColumns, width = std::min(kSumColumns, v - j0);
      for (int64_t r = 0; r < m; ++r) block_sums[r * sum_blocks + b] = exp_sum(width, z + r * v + j0, largest[r]);
    }
  }
  for (int64_t r = 0; r < m; ++r) {
    exp_sums[r] = 0;
    for (int64_t b = 0; b < sum_blocks; ++b) exp_sums[r] += block_sums[r * sum_blocks + b];
  }
  for (const std::vector<int32_t>* ids : found)
    if (ids != nullptr) chosen.insert(chosen.end(), ids->begin(), ids->end());
}

}  // namespace captioning
