#include "nn/backends/cpu/depthwise.h"

#include <omp.h>
#include <algorithm>

#include <cstring>

namespace nn::kernels {

int64_t depthwise_workspace_floats(const Window2D& g) {
  // The flipped filter for the input gradient, or one partial dw per thread for the weight gradient.
  return g.kh * g.kw * g.c * std::max(1, omp_get_max_threads());
}

// ---- dispatch to the active instruction-set level (depthwise_fast.cpp) ----

void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  with_active_isa([&]<Isa isa> { depthwise_forward<isa>(g, x, w, bias, y); });
}

void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace) {
  with_active_isa([&]<Isa isa> { depthwise_backward_input<isa>(g, dy, w, dx, workspace); });
}

void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace) {
  with_active_isa([&]<Isa isa> { depthwise_backward_weight<isa>(g, x, dy, dw, workspace); });
}

}  // namespace nn::kernels
