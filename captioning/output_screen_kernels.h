/// @file
/// OutputScreen's two loops over the vocabulary (output_screen.h), in output_screen_fast.cpp: compiled for each
/// instruction-set level, the active one chosen as nn/backends/cpu/isa.h's kernels are.
#pragma once

#include <cstdint>

namespace captioning {

inline constexpr int64_t kScreenTile = 64;  ///< columns per tile of screen_products' q

/// Step 1's products, exact in int32: acc (M, 64·tiles) = u (M, 4·quads) uint8 · q (4·quads, 64·tiles) int8,
/// M ≤ kMaxStepRows. q is stored tile after tile (64 columns each), in a tile quad after quad (4 rows each), a column's
/// 4 weights of a quad together — q[t][g][c][i] is element (4g + i, 64t + c) —, the layout AVX512-VNNI's vpdpbusd
/// reads (used where nn::kernels::cpu_supports_vnni(); plain loops elsewhere, with the same sums).
void screen_products(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc);

/// Step 2 for one row: its estimates and which words stay candidates.
struct ScreenRow {
  int64_t vocab;                             ///< V
  int32_t first;                             ///< the lowest id a search may pick
  int keep;                                  ///< the words per row that must be exact, ≤ V − first
  float x_scale, x_norm, x_error;            ///< sₓ, ‖x‖ and ‖x − sₓ·qₓ‖ (finite)
  const int32_t* sums;                       ///< (V): Σ (qₓ + 128)·q, from screen_products
  const int32_t* q_sums;                     ///< (V): Σ q
  const float *scale, *bias;                 ///< (V): s, b
  const float *spread, *int8_norm, *offset;  ///< (V): E, S, G
};
/// z (V) = b + sₓ·s·(sums − 128·Σ q), the estimates, and candidate[j] set to 1 (never cleared) for each j ≥ first
/// whose upper bound z + e reaches the keep-th largest lower bound z − e of the row; bound (V) is scratch.
void screen_row(const ScreenRow& row, float* z, float* bound, uint8_t* candidate);

}  // namespace captioning
