// permute / transpose (copies through the backend's zip, x read at permuted strides: libnn tensors are always
// contiguous, so a transposed view would need strides everywhere), squeeze / unsqueeze (views through reshape), stack
// (unsqueeze + concat) and split (slices). Their gradients are the inverse layout change, so every backward here is
// composed from forward ops.
#include <string>
#include <utility>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

// "(2,0,1)"
template <class Int>
std::string list_string(const std::vector<Int>& values) {
  std::string s = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(values[i]);
  }
  return s + ")";
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  if (detail::any_low_precision({x})) return permute(detail::to_f32(x), dims).to(detail::result_dtype({x}));
  int rank = x.rank();
  if (static_cast<int>(dims.size()) != rank) {
    fail_expected("permute", std::to_string(rank) + " axes for " + to_string(x.shape()), list_string(dims));
  }
  std::vector<int> axes(rank), inverse(rank, -1);
  for (int i = 0; i < rank; ++i) {
    axes[i] = normalize_axis(dims[i], rank, "permute");
    if (inverse[axes[i]] >= 0) {
      fail_expected("permute", "each axis of " + to_string(x.shape()) + " once", list_string(dims));
    }
    inverse[axes[i]] = i;
  }
  Shape shape(rank);
  std::vector<int64_t> in_strides(rank, 1), strides(rank);  // strides[i]: x's stride of result axis i
  for (int a = rank - 2; a >= 0; --a) in_strides[a] = in_strides[a + 1] * x.dim(a + 1);
  for (int i = 0; i < rank; ++i) {
    shape[i] = x.dim(axes[i]);
    strides[i] = in_strides[axes[i]];
  }
  Tensor out = detail::restride("permute", x, shape, strides);
  record("permute", {x}, out, [inverse](const Tensor& g) { return std::vector<Tensor>{permute(g, inverse)}; });
  return out;
}

Tensor transpose(const Tensor& x, int a, int b) {
  std::vector<int> dims(x.rank());
  for (int i = 0; i < x.rank(); ++i) dims[i] = i;
  std::swap(dims[normalize_axis(a, x.rank(), "transpose")], dims[normalize_axis(b, x.rank(), "transpose")]);
  return permute(x, dims);
}

Tensor squeeze(const Tensor& x, int axis) {
  int a = normalize_axis(axis, x.rank(), "squeeze");
  if (x.dim(a) != 1) {
    fail_expected("squeeze", "extent 1 along axis " + std::to_string(a), to_string(x.shape()));
  }
  Shape shape = x.shape();
  shape.erase(shape.begin() + a);
  return x.reshape(shape);
}

Tensor unsqueeze(const Tensor& x, int axis) {
  int a = normalize_axis(axis, x.rank() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + a, 1);
  return x.reshape(shape);
}

Tensor stack(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) fail_expected("stack", "at least one tensor", "none");
  std::vector<Tensor> pieces;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].shape() != xs[0].shape()) {
      fail_expected("stack", "tensors of one shape (tensor 0 is " + to_string(xs[0].shape()) + ")",
                    "tensor " + std::to_string(i) + " " + to_string(xs[i].shape()));
    }
    pieces.push_back(unsqueeze(xs[i], axis));
  }
  return concat(pieces, axis);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
  int a = normalize_axis(axis, x.rank(), "split");
  int64_t total = 0;
  bool negative = false;
  for (int64_t s : sizes) {
    total += s;
    negative = negative || s < 0;
  }
  if (negative || total != x.dim(a)) {
    fail_expected("split",
                  "non-negative sizes adding up to " + std::to_string(x.dim(a)) + " (axis " + std::to_string(a) +
                      " of " + to_string(x.shape()) + ")",
                  list_string(sizes));
  }
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(slice(x, a, start, start + s));
    start += s;
  }
  return pieces;
}

}  // namespace nn
