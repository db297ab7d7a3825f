// STUB (issue 16 scaffolding): replaced by the real primitives.
#include "nn/backends/ref/ref.h"
#include "nn/core/error.h"

namespace nn::ref {

void channel_moments(int64_t rows, int64_t channels, const float* x, float* mean, float* variance) {
  for (int64_t j = 0; j < channels; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += x[r * channels + j];
    const double mu = sum / static_cast<double>(rows);
    double squares = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const double d = x[r * channels + j] - mu;
      squares += d * d;
    }
    mean[j] = static_cast<float>(mu);
    variance[j] = static_cast<float>(squares / static_cast<double>(rows));
  }
}

void gather_rows(int64_t, const int32_t*, int64_t, const float*, float*) {
  throw Error("ref backend: gather_rows is not written yet");
}

void scatter_add_rows(int64_t, const int32_t*, int64_t, const float*, float*) {
  throw Error("ref backend: scatter_add_rows is not written yet");
}

void adam_update(const kernels::AdamStep&, int64_t, float*, float*, float*, const float*) {
  throw Error("ref backend: adam_update is not written yet");
}

void lstm_step_forward(const kernels::LstmStep&, const float*, float*, const float*, const float*, float*, float*) {
  throw Error("ref backend: lstm_step_forward is not written yet");
}

void lstm_step_backward(const kernels::LstmStep&, const float*, const float*, const float*, const float*, float*,
                        float*, float*) {
  throw Error("ref backend: lstm_step_backward is not written yet");
}

}  // namespace nn::ref
