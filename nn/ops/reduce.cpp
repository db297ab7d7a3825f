// sum and mean over a set of axes: the backend's reduce (through sum_to, sums in double), mean scaled by map. The
// backward broadcasts the output gradient back over the reduced axes.
#include <algorithm>
#include <utility>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

struct ReducePlan {
  Shape kept;     // input rank, reduced axes set to 1
  Shape result;   // kept, or without the reduced axes
  int64_t count;  // elements summed into each output
};

ReducePlan plan_reduction(const Tensor& x, std::vector<int> axes, bool keepdim, const char* op) {
  ReducePlan plan{x.shape(), {}, 1};
  if (axes.empty()) {
    for (int a = 0; a < x.rank(); ++a) axes.push_back(a);
  }
  std::vector<bool> reduced(x.rank(), false);
  for (int axis : axes) {
    int a = normalize_axis(axis, x.rank(), op);
    if (reduced[a]) fail_expected(op, "distinct axes", "axis " + std::to_string(axis) + " twice");
    reduced[a] = true;
    plan.count *= x.dim(a);
    plan.kept[a] = 1;
  }
  for (int a = 0; a < x.rank(); ++a) {
    if (keepdim || !reduced[a]) plan.result.push_back(plan.kept[a]);
  }
  return plan;
}

Tensor reduce_sum(const Tensor& x, const ReducePlan& plan, float scale, const char* op) {
  Tensor out = detail::sum_to(x, plan.kept);
  if (out.impl() == x.impl()) out = x.detach().clone();  // nothing reduced: still return a new tensor
  if (scale != 1.0f)
    backend_for(out).map({.op = kernels::Unary::mul_scalar, .p0 = scale}, DType::f32, out.numel(), out.data(),
                         out.data());
  out = out.reshape(plan.result);
  Shape input_shape = x.shape();
  record(op, {x}, out, [plan, input_shape, scale](const Tensor& g) {
    Tensor gx = broadcast_to(g.reshape(plan.kept), input_shape);
    return std::vector<Tensor>{scale == 1.0f ? gx : mul(gx, scale)};
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
  if (detail::any_low_precision({x}))
    return sum(detail::to_f32(x), std::move(axes), keepdim).to(detail::result_dtype({x}));
  return reduce_sum(x, plan_reduction(x, std::move(axes), keepdim, "sum"), 1.0f, "sum");
}

Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
  if (detail::any_low_precision({x}))
    return mean(detail::to_f32(x), std::move(axes), keepdim).to(detail::result_dtype({x}));
  ReducePlan plan = plan_reduction(x, std::move(axes), keepdim, "mean");
  if (plan.count == 0) fail_expected("mean", "a non-empty reduction", "shape " + to_string(x.shape()));
  return reduce_sum(x, plan, 1.0f / static_cast<float>(plan.count), "mean");
}

}  // namespace nn
