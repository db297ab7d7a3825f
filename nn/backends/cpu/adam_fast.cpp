// Adam's update (rows_fast.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this copy's. Its own
// file because it is compiled without FMA contraction (nn/CMakeLists.txt says why), where the softmax rows contract.
// Without errno for sqrt (-fno-math-errno) GCC vectorises it.
#include "nn/backends/cpu/rows_fast.h"

#if defined(__SSE__)
#include <xmmintrin.h>  // _mm_getcsr/_mm_setcsr (baseline x86-64)
#endif

namespace nn::kernels {
namespace {

// Denormal floats flushed to zero (MXCSR's FTZ and DAZ) in the calling thread while it lives. Late in training the
// output layer's columns of rare words get gradients near 1e-20, whose squares (1e-40) are denormal, and every
// operation on a denormal costs a micro-code assist: on the Flickr8k captioner Adam's share of an epoch grew from 5 %
// to 18 % and epochs from 95 to 119 s. Values below 1.2e-38 have no effect on a step, so they are taken as zero.
struct FlushDenormals {
#if defined(__SSE__)
  unsigned saved = _mm_getcsr();
  FlushDenormals() {
    _mm_setcsr(saved | 0x8040);
  }  // FTZ (bit 15) | DAZ (bit 6)
  ~FlushDenormals() {
    _mm_setcsr(saved);
  }
#endif
};

}  // namespace

template <>
void adam_update<kCompiledIsa>(const AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g) {
  const bool shrink = s.shrink != 1.0f, decay = s.coupled_decay != 0.0f;
#pragma omp parallel if (n > (1 << 16))
  {
    FlushDenormals flush;
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      float t = shrink ? theta[i] * s.shrink : theta[i];
      const float gi = decay ? g[i] + s.coupled_decay * t : g[i];
      const float mi = s.b1 * m[i] + (1.0f - s.b1) * gi;
      const float vi = s.b2 * v[i] + (1.0f - s.b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      theta[i] = t - s.step_size * mi / (__builtin_sqrtf(vi) / s.sqrt_bc2 + s.eps);
    }
  }
}

}  // namespace nn::kernels
