// The row loop the fast depthwise kernels share (f32 in depthwise_fast.cpp, bf16 in bf16_fast.cpp; each compiled
// once per instruction-set level): which output columns are interior, and the forward's walk over rows, channel
// chunks and tiles of columns. Internal linkage (an unnamed namespace), so each level keeps its own copy, as simd.h
// explains.
#pragma once

#include <algorithm>
#include <cstdint>

#include "nn/backends/primitives.h"

namespace nn::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above

// Output columns [begin, end) whose taps all lie inside the image horizontally.
struct InteriorColumns {
  int64_t begin, end;
};
inline InteriorColumns interior_columns(const Window2D& g) {
  const int64_t begin = std::min(g.ow, (g.pad_left + g.sw - 1) / g.sw);
  const int64_t last = g.w - g.kw + g.pad_left;  // the input column where the last interior window starts
  return {begin, last < 0 ? begin : std::max(begin, std::min(g.ow, last / g.sw + 1))};
}

// Channels per pass along a row: a tile's input (3 rows × 10 pixels × 256 channels = 30 KB, f32) then stays in L1.
constexpr int64_t kDepthwiseChannelChunk = 256;

// Calls tile.template operator()<T, Interior>(n, oh, ow, c0, c1) over every output pixel and channel chunk, in
// parallel over (image, row): border columns one at a time, interior ones in tiles of kTile, then 4, then 1.
// Within a chunk, channels innermost: each pixel's channels are read front to back, which the prefetchers follow.
template <int64_t kTile, class Tile>
void for_each_depthwise_tile(const Window2D& g, const Tile& tile) {
  const InteriorColumns inner = interior_columns(g);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t c0 = 0; c0 < g.c; c0 += kDepthwiseChannelChunk) {
        const int64_t c1 = std::min(g.c, c0 + kDepthwiseChannelChunk);
        for (int64_t ow = 0; ow < inner.begin; ++ow) tile.template operator()<1, false>(n, oh, ow, c0, c1);
        int64_t ow = inner.begin;
        for (; ow + kTile <= inner.end; ow += kTile) tile.template operator()<kTile, true>(n, oh, ow, c0, c1);
        for (; ow + 4 <= inner.end; ow += 4) tile.template operator()<4, true>(n, oh, ow, c0, c1);
        for (; ow < g.ow; ++ow) tile.template operator()<1, false>(n, oh, ow, c0, c1);
      }
}

}  // namespace
}  // namespace nn::kernels
