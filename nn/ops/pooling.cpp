// Pooling over NHWC windows: max (gradient to the arg-max), average (padding excluded), global average. A bf16 x
// pools natively into a bf16 result (max and average are exact or rounded once); its gradient takes the conversion
// path (nn/ops/convert.h): the backward is f32 only.
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/window.h"

namespace nn {

namespace {

kernels::Window2D plan_pool(const char* op, const Tensor& x, const PoolOptions& o) {
  int64_t sh = o.strides[0] == 0 ? o.size[0] : o.strides[0];
  int64_t sw = o.strides[1] == 0 ? o.size[1] : o.strides[1];
  kernels::Window2D g = plan_window(op, x.shape(), {o.size[0], o.size[1], sh, sw, o.padding}, 0);
  g.oc = g.c;
  return g;
}

// y (N,OH,OW,C) of x's dtype = the pooling `kind` of x over the windows g.
Tensor pool_forward(kernels::Pool kind, const kernels::Window2D& g, const Tensor& x) {
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c}, x.dtype());
  backend_for(x).pool_forward(kind, g, x.dtype(), x.raw_data(), y.raw_data());
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const PoolOptions& options) {
  const kernels::Window2D g = plan_pool("max_pool2d", x, options);
  if (x.dtype() != DType::f32 && (x.dtype() != DType::bf16 || needs_grad({&x}))) {
    return max_pool2d(detail::to_f32(x), options).to(x.dtype());
  }
  Tensor y = pool_forward(kernels::Pool::max, g, x);
  record("max_pool2d", {x}, y, [g, x, y = y.detach()](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    backend_for(dy).pool_backward(kernels::Pool::max, g, x.data(), y.data(), dy.data(), dx.data());
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor avg_pool2d(const Tensor& x, const PoolOptions& options) {
  const kernels::Window2D g = plan_pool("avg_pool2d", x, options);
  if (x.dtype() != DType::f32 && (x.dtype() != DType::bf16 || needs_grad({&x}))) {
    return avg_pool2d(detail::to_f32(x), options).to(x.dtype());
  }
  Tensor y = pool_forward(kernels::Pool::average, g, x);
  record("avg_pool2d", {x}, y, [g, shape = x.shape()](const Tensor& dy) {
    Tensor dx = Tensor::empty(shape);
    backend_for(dy).pool_backward(kernels::Pool::average, g, nullptr, nullptr, dy.data(), dx.data());
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
  if (x.rank() != 4) fail_expected("global_avg_pool2d", "an NHWC input of rank 4", "shape " + to_string(x.shape()));
  return mean(x, {1, 2});
}

}  // namespace nn
