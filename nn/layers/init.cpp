#include "nn/layers/init.h"

#include <Eigen/Dense>
#include <cmath>

#include "nn/core/error.h"

namespace nn::init {

Tensor glorot_uniform(const Shape& shape, Generator& gen) {
  if (shape.size() < 2) fail_expected("glorot_uniform", "a shape of rank ≥ 2", to_string(shape));
  int64_t receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= shape[i];
  double fan_in = static_cast<double>(receptive * shape[shape.size() - 2]);
  double fan_out = static_cast<double>(receptive * shape.back());
  float limit = static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out)));
  return Tensor::uniform(shape, -limit, limit, gen);
}

Tensor orthogonal(const Shape& shape, Generator& gen) {
  if (shape.size() < 2) fail_expected("orthogonal", "a shape of rank ≥ 2", to_string(shape));
  int64_t cols = shape.back();
  int64_t rows = numel(shape) / cols;
  bool transposed = rows < cols;
  int64_t r = transposed ? cols : rows, c = transposed ? rows : cols;
  Eigen::MatrixXd a(r, c);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) a(i, j) = gen.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(r, c);
  Eigen::MatrixXd upper = qr.matrixQR();
  for (int64_t j = 0; j < c; ++j) {
    if (upper(j, j) < 0) q.col(j) *= -1.0;
  }
  Tensor out = Tensor::empty(shape);
  float* p = out.data();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) p[i * cols + j] = static_cast<float>(transposed ? q(j, i) : q(i, j));
  return out;
}

Tensor uniform(const Shape& shape, float low, float high, Generator& gen) {
  return Tensor::uniform(shape, low, high, gen);
}

}  // namespace nn::init
