// Elementwise arithmetic with NumPy broadcasting, through the backend's zip and map. The gradient of a broadcast
// input is the output gradient summed back to the input's shape (sum_to, the backend's reduce), so every backward
// here is composed from forward ops.
#include <utility>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace detail {

kernels::Broadcast plan_broadcast(const Shape& out, const std::vector<int64_t>& stride_a,
                                  const std::vector<int64_t>& stride_b, const char* op) {
  kernels::Broadcast p;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k] == 1) continue;
    const int r = p.rank;
    if (r > 0 && p.stride_a[r - 1] == stride_a[k] * out[k] && p.stride_b[r - 1] == stride_b[k] * out[k]) {
      p.shape[r - 1] *= out[k];  // axis k continues axis r − 1 in both operands
      p.stride_a[r - 1] = stride_a[k];
      p.stride_b[r - 1] = stride_b[k];
      continue;
    }
    if (r == kernels::Broadcast::kMaxRank) {
      fail_expected(op, "at most " + std::to_string(kernels::Broadcast::kMaxRank) + " axes that do not merge",
                    "shape " + to_string(out));
    }
    p.shape[r] = out[k];
    p.stride_a[r] = stride_a[k];
    p.stride_b[r] = stride_b[k];
    p.rank = r + 1;
  }
  return p;
}

Tensor binary_forward(const char* op, kernels::Binary f, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {  // zip reads both operands as one dtype
    fail_expected(op, std::string("operands of one dtype (") + dtype_name(a.dtype()) + ")", dtype_name(b.dtype()));
  }
  Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype());
  kernels::Broadcast plan =
      plan_broadcast(shape, broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape), op);
  backend_for(out).zip(f, a.dtype(), plan, a.raw_data(), b.raw_data(), out.raw_data());
  return out;
}

Tensor restride(const char* op, const Tensor& a, const Shape& shape, const std::vector<int64_t>& strides) {
  Tensor out = Tensor::empty(shape);
  if (out.numel() == 0) return out;
  const float one = 1.0f;
  kernels::Broadcast plan = plan_broadcast(shape, strides, std::vector<int64_t>(shape.size(), 0), op);
  backend_for(out).zip(kernels::Binary::mul, DType::f32, plan, a.data(), &one, out.data());
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  // g's axes as runs of kept or summed axes (extent-1 axes dropped, neighbours of one kind merged); each summed
  // run is one reduce (outer, extent, inner) of what the runs before it left.
  const size_t lead = g.shape().size() - shape.size();
  std::vector<std::pair<int64_t, bool>> runs;  // (extent, summed)
  for (size_t k = 0; k < g.shape().size(); ++k) {
    const int64_t extent = g.shape()[k];
    if (extent == 1) continue;
    const bool summed = k < lead || shape[k - lead] == 1;
    if (!runs.empty() && runs.back().second == summed) {
      runs.back().first *= extent;
    } else {
      runs.emplace_back(extent, summed);
    }
  }
  const Backend& be = backend_for(g);
  Tensor current = g;
  bool reduced = false;
  for (size_t r = 0; r < runs.size(); ++r) {
    if (!runs[r].second) continue;
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < r; ++k) outer *= runs[k].first;
    for (size_t k = r + 1; k < runs.size(); ++k) inner *= runs[k].first;
    Tensor next = Tensor::empty({outer * inner});
    be.reduce(kernels::Reduce::sum, outer, runs[r].first, inner, current.data(), next.data());
    runs[r].first = 1;
    current = next;
    reduced = true;
  }
  if (!reduced) {  // only extent-1 axes differ: still a new tensor, outside the graph
    current = Tensor::empty(g.shape());
    be.copy(DType::f32, g.numel(), g.data(), current.data());
  }
  return current.reshape(shape);
}

}  // namespace detail

namespace {

Tensor grad_if(const Tensor& input, const Tensor& g) {
  return input.requires_grad() ? detail::sum_to(g, input.shape()) : Tensor();
}

Tensor map_forward(const Tensor& a, kernels::Unary op, float p0) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  backend_for(a).map({.op = op, .p0 = p0}, a.dtype(), a.numel(), a.raw_data(), out.raw_data());
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  if (detail::direct_bf16({&a, &b})) return detail::binary_forward("add", kernels::Binary::add, a, b);
  if (detail::any_low_precision({a, b}))
    return add(detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  Tensor out = detail::binary_forward("add", kernels::Binary::add, a, b);
  record("add", {a, b}, out, [a, b](const Tensor& g) { return std::vector<Tensor>{grad_if(a, g), grad_if(b, g)}; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  if (detail::direct_bf16({&a, &b})) return detail::binary_forward("sub", kernels::Binary::sub, a, b);
  if (detail::any_low_precision({a, b}))
    return sub(detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  Tensor out = detail::binary_forward("sub", kernels::Binary::sub, a, b);
  record("sub", {a, b}, out, [a, b](const Tensor& g) {
    return std::vector<Tensor>{grad_if(a, g), b.requires_grad() ? grad_if(b, neg(g)) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  if (detail::direct_bf16({&a, &b})) return detail::binary_forward("mul", kernels::Binary::mul, a, b);
  if (detail::any_low_precision({a, b}))
    return mul(detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  Tensor out = detail::binary_forward("mul", kernels::Binary::mul, a, b);
  record("mul", {a, b}, out, [a, b](const Tensor& g) {
    return std::vector<Tensor>{a.requires_grad() ? grad_if(a, mul(g, b)) : Tensor(),
                               b.requires_grad() ? grad_if(b, mul(g, a)) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  if (detail::direct_bf16({&a, &b})) return detail::binary_forward("div", kernels::Binary::div, a, b);
  if (detail::any_low_precision({a, b}))
    return div(detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  Tensor out = detail::binary_forward("div", kernels::Binary::div, a, b);
  record("div", {a, b}, out, [a, b, out = out.detach()](const Tensor& g) {
    // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b.
    Tensor g_over_b = div(g, b);
    return std::vector<Tensor>{grad_if(a, g_over_b),
                               b.requires_grad() ? grad_if(b, neg(mul(g_over_b, out))) : Tensor()};
  });
  return out;
}

Tensor add(const Tensor& a, float s) {
  if (detail::any_low_precision({a}) && !detail::direct_bf16({&a})) {
    return add(detail::to_f32(a), s).to(detail::result_dtype({a}));
  }
  Tensor out = map_forward(a, kernels::Unary::add_scalar, s);
  record("add_scalar", {a}, out, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor mul(const Tensor& a, float s) {
  if (detail::any_low_precision({a}) && !detail::direct_bf16({&a})) {
    return mul(detail::to_f32(a), s).to(detail::result_dtype({a}));
  }
  Tensor out = map_forward(a, kernels::Unary::mul_scalar, s);
  record("mul_scalar", {a}, out, [s](const Tensor& g) { return std::vector<Tensor>{mul(g, s)}; });
  return out;
}

Tensor neg(const Tensor& a) {
  return mul(a, -1.0f);
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) {
  if (detail::any_low_precision({a})) return broadcast_to(detail::to_f32(a), shape).to(detail::result_dtype({a}));
  if (broadcast_shapes(a.shape(), shape, "broadcast_to") != shape) {
    fail_expected("broadcast_to", "a shape that " + to_string(a.shape()) + " broadcasts to", to_string(shape));
  }
  Tensor out = detail::restride("broadcast_to", a, shape, broadcast_strides(a.shape(), shape));
  record("broadcast_to", {a}, out, [a](const Tensor& g) { return std::vector<Tensor>{detail::sum_to(g, a.shape())}; });
  return out;
}

}  // namespace nn
