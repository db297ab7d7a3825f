#include "nn/backends/cpu/pool.h"
#include "nn/backends/cpu/pool_span.h"

#include <algorithm>
#include <limits>

namespace nn::kernels {

// ---- dispatch to the active instruction-set level (pool_fast.cpp) ----

void max_pool_forward(const Window2D& g, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { max_pool_forward<isa>(g, x, y); });
}

void max_pool_backward(const Window2D& g, const float* x, const float* y, const float* dy, float* dx) {
  with_active_isa([&]<Isa isa> { max_pool_backward<isa>(g, x, y, dy, dx); });
}

void avg_pool_forward(const Window2D& g, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { avg_pool_forward<isa>(g, x, y); });
}

void avg_pool_backward(const Window2D& g, const float* dy, float* dx) {
  with_active_isa([&]<Isa isa> { avg_pool_backward<isa>(g, dy, dx); });
}

}  // namespace nn::kernels
