// Internal: walking a broadcast. Used by the elementwise ops, the reductions, matmul's batch and the layout ops.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/backends/primitives.h"
#include "nn/core/shape.h"
#include "nn/core/tensor.h"

namespace nn::detail {

// Calls visit(i, offset_a, offset_b) for every element i of `out` in row-major order, with the offsets of the
// element of a and of b that broadcast onto it (strides from broadcast_strides).
template <class Visit>
void for_each_broadcast(const Shape& out, const std::vector<int64_t>& stride_a, const std::vector<int64_t>& stride_b,
                        Visit visit) {
  int64_t total = numel(out);
  if (total == 0) return;
  if (out.empty()) {
    visit(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  size_t rank = out.size();
  int64_t inner = out[rank - 1];
  int64_t inner_a = stride_a[rank - 1], inner_b = stride_b[rank - 1];
  std::vector<int64_t> counter(rank, 0);
  int64_t base_a = 0, base_b = 0;
  for (int64_t i = 0; i < total; i += inner) {
    for (int64_t j = 0; j < inner; ++j) visit(i + j, base_a + j * inner_a, base_b + j * inner_b);
    // Advance the counter over every axis but the innermost.
    for (size_t axis = rank - 1; axis-- > 0;) {
      base_a += stride_a[axis];
      base_b += stride_b[axis];
      if (++counter[axis] < out[axis]) break;
      base_a -= stride_a[axis] * out[axis];
      base_b -= stride_b[axis] * out[axis];
      counter[axis] = 0;
    }
  }
}

// The Broadcast a primitive walks for y of shape `out` reading a and b at these strides (one per axis of out, 0
// along a broadcast axis; any strides, so a permutation too): axes of extent 1 dropped and neighbouring axes that
// both operands read contiguously merged, so equal shapes become one flat run. Throws nn::Error naming `op` when more
// than Broadcast::kMaxRank axes remain.
kernels::Broadcast plan_broadcast(const Shape& out, const std::vector<int64_t>& stride_a,
                                  const std::vector<int64_t>& stride_b, const char* op);

// out = a ∘ b elementwise over the broadcast shape of a and b (backend zip); nothing recorded. Throws nn::Error
// naming `op` for shapes that do not broadcast.
Tensor binary_forward(const char* op, kernels::Binary f, const Tensor& a, const Tensor& b);

// a (any shape that broadcasts to `shape`) read at `strides` (one per axis of `shape`) into a new tensor of
// `shape`: a broadcast or a permutation, exact (each element times 1); nothing recorded.
Tensor restride(const char* op, const Tensor& a, const Shape& shape, const std::vector<int64_t>& strides);

// Sums `g` (of a broadcast shape) down to `shape`: the gradient of broadcasting a tensor of `shape`.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace nn::detail
