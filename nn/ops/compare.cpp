// Comparisons (0/1 masks, no gradient), where, and elementwise minimum / maximum, all with NumPy broadcasting,
// through the backend's zip and select. The differentiable ones compute full-shape gradients and sum them back to
// each input's shape.
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

// out = 1 where a ∘ b holds, 0 elsewhere, over the broadcast shape (backend zip); nothing recorded.
Tensor compare(const char* op, kernels::Binary f, const Tensor& a, const Tensor& b) {
  if (detail::any_low_precision({a, b})) {
    return compare(op, f, detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  }
  return detail::binary_forward(op, f, a, b);
}

// `a` copied to `shape` outside the graph.
Tensor expanded(const Tensor& a, const Shape& shape) {
  NoGradGuard no_grad;
  return broadcast_to(a.detach(), shape);
}

// maximum (take_larger) or minimum of a and b, NaN propagating (backend zip); on ties each gets half of g. The
// backward is composed from forward ops: a's share of g is ½ on ties, else 1 where a wins.
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, bool take_larger) {
  if (detail::any_low_precision({a, b})) {
    return extremum(op, detail::to_f32(a), detail::to_f32(b), take_larger).to(detail::result_dtype({a, b}));
  }
  Tensor out = detail::binary_forward(op, take_larger ? kernels::Binary::maximum : kernels::Binary::minimum, a, b);
  record(op, {a, b}, out, [a, b, pa = a.detach(), pb = b.detach(), take_larger](const Tensor& g) {
    Tensor a_above = gt(pa, pb);
    Tensor wins = take_larger ? a_above : eq(a_above, 0.0f);  // (a > b) == take_larger
    Tensor share_a = where(eq(pa, pb), Tensor::scalar(0.5f), wins);
    return std::vector<Tensor>{
        a.requires_grad() ? detail::sum_to(mul(g, share_a), a.shape()) : Tensor(),
        b.requires_grad() ? detail::sum_to(mul(g, sub(Tensor::scalar(1.0f), share_a)), b.shape()) : Tensor()};
  });
  return out;
}

}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum("minimum", a, b, false);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum("maximum", a, b, true);
}

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare("eq", kernels::Binary::eq, a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare("ne", kernels::Binary::ne, a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare("lt", kernels::Binary::lt, a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare("le", kernels::Binary::le, a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare("gt", kernels::Binary::gt, a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare("ge", kernels::Binary::ge, a, b);
}
Tensor eq(const Tensor& a, float s) {
  return eq(a, Tensor::scalar(s));
}
Tensor ne(const Tensor& a, float s) {
  return ne(a, Tensor::scalar(s));
}
Tensor lt(const Tensor& a, float s) {
  return lt(a, Tensor::scalar(s));
}
Tensor le(const Tensor& a, float s) {
  return le(a, Tensor::scalar(s));
}
Tensor gt(const Tensor& a, float s) {
  return gt(a, Tensor::scalar(s));
}
Tensor ge(const Tensor& a, float s) {
  return ge(a, Tensor::scalar(s));
}

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  if (detail::any_low_precision({mask, a, b})) {
    return where(detail::to_f32(mask), detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
  }
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
  } catch (const Error&) {  // name all three shapes, not the intermediate one
    fail_expected("where", "shapes that broadcast",
                  "mask " + to_string(mask.shape()) + ", a " + to_string(a.shape()) + " and b " + to_string(b.shape()));
  }
  Tensor m = expanded(mask, shape), ea = expanded(a, shape), eb = expanded(b, shape);
  Tensor out = Tensor::empty(shape);
  backend_for(out).select(out.numel(), m.data(), ea.data(), eb.data(), out.data());
  record("where", {a, b}, out, [a, b, m](const Tensor& g) {  // the mask is not an input of the graph
    const Backend& be = backend_for(g);
    Tensor zeros = Tensor::zeros(g.shape());
    Tensor full_a = Tensor::empty(g.shape()), full_b = Tensor::empty(g.shape());
    be.select(g.numel(), m.data(), g.data(), zeros.data(), full_a.data());
    be.select(g.numel(), m.data(), zeros.data(), g.data(), full_b.data());
    return std::vector<Tensor>{a.requires_grad() ? detail::sum_to(full_a, a.shape()) : Tensor(),
                               b.requires_grad() ? detail::sum_to(full_b, b.shape()) : Tensor()};
  });
  return out;
}

}  // namespace nn
