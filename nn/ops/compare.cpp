// Comparisons (0/1 masks, no gradient), where, and elementwise minimum / maximum, all with NumPy broadcasting.
// The differentiable ones expand their inputs to the broadcast shape (scratch copies outside the graph), compute
// full-shape gradients and sum them back to each input's shape.
#include <cmath>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

// out = 1 where f(a, b) holds, 0 elsewhere, over the broadcast shape; nothing recorded.
template <class F>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, F f) {
  return detail::binary_forward(op, a, b, [f](float x, float y) { return f(x, y) ? 1.0f : 0.0f; });
}

// `a` copied to `shape` outside the graph.
Tensor expanded(const Tensor& a, const Shape& shape) {
  NoGradGuard no_grad;
  return broadcast_to(a.detach(), shape);
}

// maximum (take_larger) or minimum of a and b; on ties each gets half of g.
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, bool take_larger) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor ea = expanded(a, shape), eb = expanded(b, shape);
  Tensor out = Tensor::empty(shape);
  const float* pa = ea.data();
  const float* pb = eb.data();
  float* po = out.data();
  for (int64_t i = 0; i < out.numel(); ++i) {  // NaN propagates, as in PyTorch (std::fmax would drop it)
    if (std::isnan(pa[i]) || std::isnan(pb[i])) {
      po[i] = std::nanf("");
    } else {
      po[i] = take_larger ? std::fmax(pa[i], pb[i]) : std::fmin(pa[i], pb[i]);
    }
  }
  record(op, {a, b}, out, [a, b, ea, eb, take_larger](const Tensor& g) {
    Tensor full_a = Tensor::empty(g.shape()), full_b = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* pav = ea.data();
    const float* pbv = eb.data();
    float* ga = full_a.data();
    float* gb = full_b.data();
    for (int64_t i = 0; i < g.numel(); ++i) {
      float share_a = pav[i] == pbv[i] ? 0.5f : ((pav[i] > pbv[i]) == take_larger ? 1.0f : 0.0f);
      ga[i] = pg[i] * share_a;
      gb[i] = pg[i] * (1.0f - share_a);
    }
    return std::vector<Tensor>{a.requires_grad() ? detail::sum_to(full_a, a.shape()) : Tensor(),
                               b.requires_grad() ? detail::sum_to(full_b, b.shape()) : Tensor()};
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
  return compare("eq", a, b, [](float x, float y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare("ne", a, b, [](float x, float y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare("lt", a, b, [](float x, float y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare("le", a, b, [](float x, float y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare("gt", a, b, [](float x, float y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare("ge", a, b, [](float x, float y) { return x >= y; });
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
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
  } catch (const Error&) {  // name all three shapes, not the intermediate one
    fail_expected("where", "shapes that broadcast",
                  "mask " + to_string(mask.shape()) + ", a " + to_string(a.shape()) + " and b " + to_string(b.shape()));
  }
  Tensor m = expanded(mask, shape), ea = expanded(a, shape), eb = expanded(b, shape);
  Tensor out = Tensor::empty(shape);
  const float* pm = m.data();
  const float* pa = ea.data();
  const float* pb = eb.data();
  float* po = out.data();
  for (int64_t i = 0; i < out.numel(); ++i) po[i] = pm[i] != 0.0f ? pa[i] : pb[i];
  record("where", {a, b}, out, [a, b, m](const Tensor& g) {  // the mask is not an input of the graph
    Tensor full_a = Tensor::empty(g.shape()), full_b = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* pmv = m.data();
    float* ga = full_a.data();
    float* gb = full_b.data();
    for (int64_t i = 0; i < g.numel(); ++i) {
      ga[i] = pmv[i] != 0.0f ? pg[i] : 0.0f;
      gb[i] = pmv[i] != 0.0f ? 0.0f : pg[i];
    }
    return std::vector<Tensor>{a.requires_grad() ? detail::sum_to(full_a, a.shape()) : Tensor(),
                               b.requires_grad() ? detail::sum_to(full_b, b.shape()) : Tensor()};
  });
  return out;
}

}  // namespace nn
