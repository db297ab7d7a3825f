// STUB (issue 16 scaffolding): replaced by the real primitives.
#include <vector>

#include "nn/backends/cpu/cpu.h"
#include "nn/core/error.h"

namespace nn::cpu {

void channel_moments(int64_t rows, int64_t channels, const float* x, float* mean, float* variance) {
  // Two passes over x (rows, C) in row order, each accumulating every channel at once in double (vectorised along
  // the contiguous channels): the mean first, then the squared deviations from it.
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  double* s = sum.data();
  double* q = squares.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
#pragma omp simd
    for (int64_t j = 0; j < channels; ++j) s[j] += row[j];
  }
  for (int64_t j = 0; j < channels; ++j) s[j] /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
#pragma omp simd
    for (int64_t j = 0; j < channels; ++j) {
      const double d = row[j] - s[j];
      q[j] += d * d;
    }
  }
  for (int64_t j = 0; j < channels; ++j) {
    mean[j] = static_cast<float>(s[j]);
    variance[j] = static_cast<float>(q[j] / static_cast<double>(rows));
  }
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
