// embedding: weight (V,E), ids S → out S+[E], out[p] = weight[ids[p]]. The backward scatter-adds each position's
// gradient row into the row of its id (a dense (V,E) gradient).
#include <cstring>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

Tensor embedding(const Tensor& weight, const Indices& ids) {
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
  for (size_t p = 0; p < ids.values.size(); ++p) {
    std::memcpy(out.data() + p * width, weight.data() + ids.values[p] * width, sizeof(float) * width);
  }
  record("embedding", {weight}, out, [ids, vocab, width](const Tensor& g) {
    Tensor gw = Tensor::zeros({vocab, width});
    const float* pg = g.data();
    float* pw = gw.data();
    for (size_t p = 0; p < ids.values.size(); ++p) {
      float* row = pw + ids.values[p] * width;
      const float* src = pg + p * width;
      for (int64_t e = 0; e < width; ++e) row[e] += src[e];
    }
    return std::vector<Tensor>{gw};
  });
  return out;
}

}  // namespace nn
