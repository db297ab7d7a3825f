#include "nn/layers/dense.h"

#include "nn/core/error.h"
#include "nn/layers/init.h"

namespace nn {

Dense::Dense(const DenseOptions& options, Generator& gen) : options_(options) {
  if (options.in <= 0 || options.out <= 0) {
    fail_expected("Dense", "in > 0 and out > 0",
                  "in=" + std::to_string(options.in) + ", out=" + std::to_string(options.out));
  }
  kernel_ = register_parameter("kernel", init::glorot_uniform({options.in, options.out}, gen));
  if (options.bias) bias_ = register_parameter("bias", Tensor::zeros({options.out}));
}

Tensor Dense::forward(const Tensor& x) {
  if (x.rank() < 1 || x.dim(-1) != options_.in) {
    fail_expected("Dense",
                  "input features " + std::to_string(options_.in) + " (kernel " + nn::to_string(kernel_.shape()) + ")",
                  "input " + nn::to_string(x.shape()));
  }
  Shape out_shape = x.shape();
  out_shape.back() = options_.out;
  // linear adds the bias in the product's store (f32), or after it in the product's dtype: the bias stays f32 in a
  // converted model (Module::to), and a bf16 Dense still gives bf16, so the next layer does not convert back.
  const Tensor rows = x.reshape({-1, options_.in});
  Tensor y = bias_.defined() ? linear(rows, kernel_, bias_) : matmul(rows, kernel_);
  return activate(y.reshape(out_shape), options_.activation);
}

std::string Dense::to_string() const {
  return "Dense(in=" + std::to_string(options_.in) + ", out=" + std::to_string(options_.out) +
         (options_.bias ? "" : ", bias=false") + ", activation=" + nn::to_string(options_.activation) + ")";
}

}  // namespace nn
