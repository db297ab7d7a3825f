// A 16-float vector through GCC's vector extension: one AVX-512 register where the build targets AVX-512, two AVX2
// or four SSE registers elsewhere. Kernels use it where the auto-vectoriser keeps accumulators in memory.
// Only the kernel files compiled once per instruction-set level (isa.h) include it; its functions have internal
// linkage (an unnamed namespace), so each level keeps its own copies and the linker never swaps one for another.
#pragma once

#include <cstring>

namespace nn::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above

using v16 = float __attribute__((vector_size(64)));
using v16i = int __attribute__((vector_size(64)));  // lane masks: comparisons of v16 give all-ones or zero lanes

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store16(float* p, v16 v) {
  std::memcpy(p, &v, sizeof v);
}

inline v16 splat16(float x) {
  return v16{} + x;
}

inline v16 max16(v16 a, v16 b) {
  return a > b ? a : b;
}

// The lanes of v where mask is set, zero elsewhere.
inline v16 select16(v16i mask, v16 v) {
  return reinterpret_cast<v16>(mask & reinterpret_cast<v16i>(v));
}

}  // namespace
}  // namespace nn::kernels
