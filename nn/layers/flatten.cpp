#include "nn/layers/flatten.h"

#include "nn/core/error.h"

namespace nn {

Tensor Flatten::forward(const Tensor& x) {
  const int rank = x.rank();
  const int start = options_.start_axis < 0 ? options_.start_axis + rank : options_.start_axis;
  const int end = options_.end_axis < 0 ? options_.end_axis + rank : options_.end_axis;
  if (start < 0 || end >= rank || start > end) {
    fail_expected(
        "Flatten",
        "an input with axes " + std::to_string(options_.start_axis) + " to " + std::to_string(options_.end_axis),
        "input " + nn::to_string(x.shape()));
  }
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t joined = 1;
  for (int axis = start; axis <= end; ++axis) joined *= x.dim(axis);
  shape.push_back(joined);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return x.reshape(shape);
}

std::string Flatten::to_string() const {
  if (options_.start_axis == 1 && options_.end_axis == -1) return "Flatten()";
  return "Flatten(start_axis=" + std::to_string(options_.start_axis) +
         ", end_axis=" + std::to_string(options_.end_axis) + ")";
}

}  // namespace nn
