// Per-channel sums over the rows of a (rows, channels) tensor — batch norm's statistics and its backward's — with
// the rows split into chunks that run in parallel. The chunks depend on the shape alone and their sums are added in
// chunk order, so the result is the same on any thread count; small tensors are one chunk, summed in row order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace nn::cpu {

// `sums` quantities per channel, in double: add(i0, i1, out) adds rows [i0, i1) into out (sums × channels, zeroed).
// Returns the totals (sums × channels).
template <class AddRows>
std::vector<double> channel_sums(int64_t rows, int64_t channels, int sums, AddRows add) {
  const int64_t width = sums * channels;
  const int64_t chunk = std::max<int64_t>(512, (rows + 255) / 256);  // at most 256 chunks' partial sums
  const int64_t chunks = (rows + chunk - 1) / chunk;
  std::vector<double> total(width, 0.0);
  if (chunks <= 1 || rows * channels < (1 << 16)) {
    add(0, rows, total.data());
    return total;
  }
  std::vector<double> part(chunks * width, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k) add(k * chunk, std::min(rows, (k + 1) * chunk), part.data() + k * width);
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t j = 0; j < width; ++j) total[j] += part[k * width + j];
  return total;
}

}  // namespace nn::cpu
