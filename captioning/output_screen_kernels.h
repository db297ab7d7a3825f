/// @file
/// OutputScreen's two loops over the vocabulary (output_screen.h), in output_screen_fast.cpp: compiled for each
/// instruction-set level, the active one chosen as nn/backends/cpu/isa.h's kernels are.
#pragma once

#include <cstdint>
#include <vector>

namespace captioning {

inline constexpr int64_t kScreenTile = 64;                    ///< columns per tile of screen_products' q
inline constexpr int64_t kScreenQuadBytes = kScreenTile * 4;  ///< one quad of a tile: 64 columns × 4 rows
/// The largest byte of u (a row's bytes, 7 bits): AVX2's vpmaddubsw then sums a quad's u8 × s8 pairs in int16 without
/// saturating (2 · 127 · 127 = 32,258 ≤ 32,767; q is never −128), where full bytes would need each split in two.
inline constexpr int kScreenByteMax = 127;

/// The products of step 1 alone (screen_rows computes them too; tests check this against an integer loop), exact in
/// int32: acc (M, 64·tiles) = u (M, 4·quads) uint8 · q (4·quads, 64·tiles) int8, every byte of u ≤
/// kScreenByteMax. q is stored tile after tile (64 columns each), in a tile quad after quad (4 rows each), a column's
/// 4 weights of a quad together — q[t][g][c][i] is element (4g + i, 64t + c) —, the layout AVX512-VNNI's vpdpbusd
/// reads, and AMX's tdpbusd as B tiles of 16 quads × 16 columns in place. AMX tiles for 7 to 16 rows where
/// nn::kernels::cpu_supports_amx_int8() (their cost does not grow with the rows up to 16, where vpdpbusd's does),
/// vpdpbusd where cpu_supports_vnni(), AVX2 at the avx2 and avx512 levels without either, plain loops at the scalar
/// level: the same sums.
void screen_products(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc);
/// Which instructions run the products of `rows` rows at the active level.
enum class ScreenProducts { plain, avx2, vnni, amx };
ScreenProducts screen_products_kind(int64_t rows);
/// "AMX tiles", "AVX512-VNNI", "AVX2" or "plain loops".
const char* screen_products_name(ScreenProducts kind);
/// The products' kernel for calls of `rows` rows at the active level (output_screen_products_fast.cpp): `tile` takes
/// one tile of q (64 columns) into acc (rows × 64 sums, rows ldc apart); begin() configures the calling thread's AMX
/// tiles for the rows before its calls and end() releases them after (nothing for the other kinds).
struct ScreenTileProducts {
  ScreenProducts kind;
  void (*tile)(int64_t rows, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc, int64_t ldc);
  void begin(int64_t rows) const;
  void end() const;
};
ScreenTileProducts screen_tile_products(int64_t rows);

/// What the estimates and their bounds need of each column (arrays of V) — output_screen.h has the formula.
struct ScreenColumns {
  int64_t vocab;                             ///< V ≤ 64·tiles
  const int32_t* q_sums;                     ///< Σ q
  const float *scale, *bias;                 ///< s, b
  const float *spread, *int8_norm, *offset;  ///< E, S, G
};
/// … and of each row, quantized to bytes x ≈ sₓ·(u − zₓ) (bytes u ≤ kScreenByteMax, zero point zₓ): sₓ, zₓ, ‖x‖ and
/// ‖x − sₓ·(u − zₓ)‖.
struct ScreenRowNorms {
  float x_scale;
  int32_t x_zero;
  float x_norm, x_error;
};
/// nn::kernels::exp_sum at the active level: Σ e^(x − shift) over n floats, float e^x summed in double.
using ExpSum = double (*)(int64_t n, const float* x, float shift);
ExpSum active_exp_sum();

/// Steps 1 and 2 for M ≤ 16 rows, in one parallel pass over the tiles: screen_products' sums of the rows' bytes u
/// (M, 4·quads), then z (M, V) = b + s·sₓ·(sums − zₓ·Σ q), the estimates, and bound (M, V) = e, while the tile's sums
/// are in L1; then, each row's keep-th largest lower bound z − e among the columns ≥ first and its largest estimate
/// known (each thread's own merged), candidate[j] set to 1 (V bytes, zeros on entry) for each j ≥ first whose upper
/// bound z + e reaches it in any row, and those j appended to `chosen` in ascending order; largest (M) = each row's
/// largest estimate and exp_sums (M) = Σ over all V columns of e^(z − largest) (nn::kernels::exp_sum over blocks of
/// 512 columns, the blocks' sums added in order whatever the threads). 1 ≤ keep ≤ min(16, V − first).
void screen_rows(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q,
                 const ScreenColumns& columns, const ScreenRowNorms* norms, int32_t first, int keep, float* z,
                 float* bound, uint8_t* candidate, std::vector<int32_t>& chosen, float* largest, double* exp_sums);

}  // namespace captioning
