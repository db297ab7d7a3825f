// reshape (a view), concat and slice (copies). A tensor of shape S seen around `axis` is (outer, S[axis], inner):
// concat and slice copy contiguous runs of S[axis]·inner floats per outer index.
#include <cstring>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct AroundAxis {
  int64_t outer = 1, extent = 1, inner = 1;
};

AroundAxis around(const Shape& shape, int axis) {
  AroundAxis v;
  for (int a = 0; a < axis; ++a) v.outer *= shape[a];
  v.extent = shape[axis];
  for (size_t a = axis + 1; a < shape.size(); ++a) v.inner *= shape[a];
  return v;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  return x.reshape(shape);
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) fail_expected("concat", "at least one tensor", "none");
  const Shape& first = xs[0].shape();
  int a = normalize_axis(axis, static_cast<int>(first.size()), "concat");
  Shape shape = first;
  shape[a] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    Shape probe = xs[i].shape();
    if (probe.size() == first.size()) probe[a] = first[a];
    if (probe != first) {
      fail_expected("concat",
                    "shapes equal except along axis " + std::to_string(a) + " (tensor 0 is " + to_string(first) + ")",
                    "tensor " + std::to_string(i) + " " + to_string(xs[i].shape()));
    }
    shape[a] += xs[i].dim(a);
  }
  Tensor out = Tensor::empty(shape);
  AroundAxis o = around(shape, a);
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    AroundAxis v = around(x.shape(), a);
    if (x.numel() == 0) continue;  // nothing to copy (and no storage: memcpy from null is undefined)
    for (int64_t r = 0; r < v.outer; ++r) {
      std::memcpy(out.data() + (r * o.extent + offset) * o.inner, x.data() + r * v.extent * v.inner,
                  sizeof(float) * v.extent * v.inner);
    }
    offset += v.extent;
  }
  record("concat", xs, out, [xs, a](const Tensor& g) {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (const Tensor& x : xs) {
      grads.push_back(x.requires_grad() ? slice(g, a, start, start + x.dim(a)) : Tensor());
      start += x.dim(a);
    }
    return grads;
  });
  return out;
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
  int a = normalize_axis(axis, x.rank(), "slice");
  if (start < 0 || end < start || end > x.dim(a)) {
    fail_expected("slice",
                  "0 ≤ start ≤ end ≤ " + std::to_string(x.dim(a)) + " along axis " + std::to_string(a) + " of " +
                      to_string(x.shape()),
                  "[" + std::to_string(start) + ", " + std::to_string(end) + ")");
  }
  Shape shape = x.shape();
  shape[a] = end - start;
  AroundAxis v = around(x.shape(), a);
  Tensor out;
  if (v.outer == 1) {  // one run of x's elements: a view from an offset, no copy
    out = detail::view(x, shape, start * v.inner);
  } else {
    out = Tensor::empty(shape);
    int64_t run = (end - start) * v.inner;
    for (int64_t r = 0; run > 0 && r < v.outer; ++r) {
      std::memcpy(out.data() + r * run, x.data() + (r * v.extent + start) * v.inner, sizeof(float) * run);
    }
  }
  Shape input_shape = x.shape();
  record("slice", {x}, out, [input_shape, a, start, end](const Tensor& g) {
    // The gradient is g placed back into zeros at [start, end).
    Shape before = input_shape, after = input_shape;
    before[a] = start;
    after[a] = input_shape[a] - end;
    return std::vector<Tensor>{concat({Tensor::zeros(before), g, Tensor::zeros(after)}, a)};
  });
  return out;
}

}  // namespace nn
