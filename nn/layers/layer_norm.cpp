#include "nn/layers/layer_norm.h"

#include <sstream>

#include "nn/core/error.h"

namespace nn {

LayerNorm::LayerNorm(const LayerNormOptions& o) : options_(o) {
  bool positive = !o.normalized_shape.empty();
  for (int64_t d : o.normalized_shape) positive = positive && d > 0;
  if (!positive) {
    fail_expected("LayerNorm", "a non-empty normalized_shape of positive extents", nn::to_string(o.normalized_shape));
  }
  if (o.scale) gamma_ = register_parameter("gamma", Tensor::ones(o.normalized_shape));
  if (o.center) beta_ = register_parameter("beta", Tensor::zeros(o.normalized_shape));
}

Tensor LayerNorm::forward(const Tensor& x) {
  return layer_norm(x, options_.normalized_shape, gamma_, beta_, options_.epsilon);
}

std::string LayerNorm::to_string() const {
  std::ostringstream out;
  out << "LayerNorm(" << nn::to_string(options_.normalized_shape) << ", epsilon=" << options_.epsilon
      << (options_.center ? "" : ", center=false") << (options_.scale ? "" : ", scale=false") << ")";
  return out.str();
}

}  // namespace nn
