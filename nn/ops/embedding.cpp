// embedding: weight (V,E), ids S → out S+[E], out[p] = weight[ids[p]]. The backward scatter-adds each position's
// gradient row into the row of its id (a dense (V,E) gradient).
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

Tensor embedding(const Tensor& weight, const Indices& ids) {
  if (detail::any_low_precision({weight}))
    return embedding(detail::to_f32(weight), ids).to(detail::result_dtype({weight}));
  if (weight.rank() != 2) fail_expected("embedding", "a weight of shape (V,E)", to_string(weight.shape()));
  int64_t vocab = weight.dim(0), width = weight.dim(1);
  for (size_t p = 0; p < ids.values.size(); ++p) {
    if (ids.values[p] < 0 || ids.values[p] >= vocab) {
      fail_expected("embedding", "ids in [0," + std::to_string(vocab) + ") (weight " + to_string(weight.shape()) + ")",
                    std::to_string(ids.values[p]) + " at flat position " + std::to_string(p));
    }
  }
  Shape shape = ids.shape;
  shape.push_back(width);
  Tensor out = Tensor::empty(shape);
  const auto count = static_cast<int64_t>(ids.values.size());
  const Backend& be = backend_for(weight);
  be.gather_rows(count, ids.values.data(), width, weight.data(), out.data());
  record("embedding", {weight}, out, [ids, vocab, width, count](const Tensor& g) {
    Tensor gw = Tensor::zeros({vocab, width});
    backend_for(g).scatter_add_rows(count, ids.values.data(), width, g.data(), gw.data());
    return std::vector<Tensor>{gw};
  });
  return out;
}

}  // namespace nn
