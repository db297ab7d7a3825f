// reshape (a view), concat and slice (copies). A tensor of shape S seen around `axis` is (outer, S[axis], inner):
// concat and slice copy contiguous runs of S[axis]·inner floats per outer index (the backend's copy).
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
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

bool any_low_precision(const std::vector<Tensor>& xs) {
  for (const Tensor& x : xs) {
    if (detail::any_low_precision({x})) return true;
  }
  return false;
}

// Each of xs converted to f32 (recorded).
std::vector<Tensor> in_f32(const std::vector<Tensor>& xs) {
  std::vector<Tensor> converted;
  for (const Tensor& x : xs) converted.push_back(detail::to_f32(x));
  return converted;
}

// The dtype of concat's result: bf16 when every input is bf16 (as detail::result_dtype).
DType result_dtype(const std::vector<Tensor>& xs) {
  bool all_bf16 = true;
  for (const Tensor& x : xs) all_bf16 = all_bf16 && x.dtype() == DType::bf16;
  return all_bf16 ? DType::bf16 : DType::f32;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  return x.reshape(shape);
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) fail_expected("concat", "at least one tensor", "none");
  if (any_low_precision(xs)) return concat(in_f32(xs), axis).to(result_dtype(xs));
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
  const Backend& be = backend_for(out);
  AroundAxis o = around(shape, a);
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    AroundAxis v = around(x.shape(), a);
    if (x.numel() == 0) continue;  // nothing to copy (and no storage)
    for (int64_t r = 0; r < v.outer; ++r) {
      be.copy(DType::f32, v.extent * v.inner, x.data() + r * v.extent * v.inner,
              out.data() + (r * o.extent + offset) * o.inner);
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
    out = Tensor::empty(shape, x.dtype());  // any dtype: runs of whole elements are copied
    const int64_t run = (end - start) * v.inner;
    const auto size = static_cast<int64_t>(dtype_size(x.dtype()));
    const auto* from = static_cast<const char*>(x.raw_data());
    auto* to = static_cast<char*>(out.raw_data());
    const Backend& be = backend_for(x);
    for (int64_t r = 0; run > 0 && r < v.outer; ++r) {
      be.copy(x.dtype(), run, from + (r * v.extent + start) * v.inner * size, to + r * run * size);
    }
  }
  Shape input_shape = x.shape();
  record("slice", {x}, out, [input_shape, a, start, end](const Tensor& g) {
    // The gradient is g placed back into zeros (of g's dtype) at [start, end).
    auto zeros = [&](Shape s) {
      Tensor z = Tensor::empty(s, g.dtype());
      z.fill(0.0f);
      return z;
    };
    Shape before = input_shape, after = input_shape;
    before[a] = start;
    after[a] = input_shape[a] - end;
    return std::vector<Tensor>{concat({zeros(before), g, zeros(after)}, a)};
  });
  return out;
}

}  // namespace nn
