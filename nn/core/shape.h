/// @file
/// Shapes: a tensor's extents, outermost first (NHWC for images, N T E for sequences).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nn {

/// Extents, outermost first; {} is the shape of a scalar.
using Shape = std::vector<int64_t>;

/// Number of elements; throws nn::Error on a negative extent or an overflowing product.
int64_t numel(const Shape& shape);

/// "[2,3,4]"; "[]" for a scalar.
std::string to_string(const Shape& shape);

/// Resolves a possibly negative axis (-1 = last) against a rank; throws nn::Error naming `where` when out of range.
int normalize_axis(int axis, int rank, const char* where);

/// NumPy broadcasting of two shapes; throws nn::Error naming `where` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* where);

/// Row-major strides of `shape` laid out inside `target` (rank of target ≥ rank of shape, aligned at the right),
/// with stride 0 on every axis where `shape` is 1 or missing: the strides that read `shape` broadcast to `target`.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& target);

}  // namespace nn
