// Pooling over NHWC windows: max (gradient to the arg-max), average (padding excluded), global average.
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/pool.h"
#include "nn/core/error.h"
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

}  // namespace

Tensor max_pool2d(const Tensor& x, const PoolOptions& options) {
  const kernels::Window2D g = plan_pool("max_pool2d", x, options);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c});
  kernels::max_pool_forward(g, x.data(), y.data());
  record("max_pool2d", {x}, y, [g, x, y = y.detach()](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    kernels::max_pool_backward(g, x.data(), y.data(), dy.data(), dx.data());
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor avg_pool2d(const Tensor& x, const PoolOptions& options) {
  const kernels::Window2D g = plan_pool("avg_pool2d", x, options);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.c});
  kernels::avg_pool_forward(g, x.data(), y.data());
  record("avg_pool2d", {x}, y, [g, shape = x.shape()](const Tensor& dy) {
    Tensor dx = Tensor::empty(shape);
    kernels::avg_pool_backward(g, dy.data(), dx.data());
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor global_avg_pool2d(const Tensor& x) {
  if (x.rank() != 4) fail_expected("global_avg_pool2d", "an NHWC input of rank 4", "shape " + to_string(x.shape()));
  return mean(x, {1, 2});
}

}  // namespace nn
