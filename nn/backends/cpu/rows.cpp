// STUB (issue 16 scaffolding): replaced by the real primitives.
#include "nn/backends/cpu/cpu.h"
#include "nn/core/error.h"

namespace nn::cpu {

void channel_moments(int64_t, int64_t, const float*, float*, float*) {
  throw Error("cpu backend: channel_moments is not written yet");
}

void gather_rows(int64_t, const int32_t*, int64_t, const float*, float*) {
  throw Error("cpu backend: gather_rows is not written yet");
}

void scatter_add_rows(int64_t, const int32_t*, int64_t, const float*, float*) {
  throw Error("cpu backend: scatter_add_rows is not written yet");
}

void adam_update(const kernels::AdamStep&, int64_t, float*, float*, float*, const float*) {
  throw Error("cpu backend: adam_update is not written yet");
}

}  // namespace nn::cpu
