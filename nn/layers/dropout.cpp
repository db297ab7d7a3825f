#include "nn/layers/dropout.h"

#include <cstdio>

#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

Dropout::Dropout(const DropoutOptions& options) : options_(options), gen_(options.seed) {
  if (!(options.rate >= 0.0f && options.rate < 1.0f)) {
    fail_expected("Dropout", "a rate in [0, 1)", std::to_string(options.rate));
  }
}

Tensor Dropout::forward(const Tensor& x) {
  return dropout(x, options_.rate, is_training(), gen_);
}

std::string Dropout::to_string() const {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "Dropout(rate=%g)", static_cast<double>(options_.rate));
  return buffer;
}

}  // namespace nn
