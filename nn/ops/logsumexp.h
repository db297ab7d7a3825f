// The log-sum-exp of one row, shared by the fused softmax cross-entropies (internal: nn/ops/cross_entropy.cpp and
// nn/ops/losses.cpp).
#pragma once

#include <cmath>
#include <cstdint>

namespace nn::detail {

// log Σ_j exp(x[j]) over x (V), V ≥ 1: the row's maximum is taken out first, so no exp overflows; the exps are
// computed in float (vectorisable, their arguments are ≤ 0) and summed in double.
inline float row_logsumexp(const float* x, int64_t v) {
  float max = x[0];
  for (int64_t j = 1; j < v; ++j) max = std::fmax(max, x[j]);
  double total = 0;
  for (int64_t j = 0; j < v; ++j) total += std::exp(x[j] - max);
  return max + static_cast<float>(std::log(total));
}

}  // namespace nn::detail
