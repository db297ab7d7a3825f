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
  const Tensor rows = x.reshape({-1, options_.in});
  Tensor y;
  if (bias_.defined() && rows.dtype() == DType::f32 && kernel_.dtype() == DType::f32) {
    y = linear(rows, kernel_, bias_);  // the bias added in the product's store
  } else {
    y = matmul(rows, kernel_);
    // The bias stays f32 in a converted model (Module::to): the sum keeps the product's dtype, so a bf16 Dense gives
    // bf16 and the next layer does not convert back.
    if (bias_.defined()) y = add(y, bias_).to(y.dtype());
  }
  return activate(y.reshape(out_shape), options_.activation);
}

std::string Dense::to_string() const {
  return "Dense(in=" + std::to_string(options_.in) + ", out=" + std::to_string(options_.out) +
         (options_.bias ? "" : ", bias=false") + ", activation=" + nn::to_string(options_.activation) + ")";
}

}  // namespace nn
