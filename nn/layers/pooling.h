#pragma once

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

// Max over each window (PoolOptions: size, strides — 0 for the size —, padding).
class MaxPool2D : public Layer {
 public:
  explicit MaxPool2D(const PoolOptions& options = {}) : options_(options) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, options_); }
  std::string to_string() const override;

 private:
  PoolOptions options_;
};

// Average over the real pixels of each window.
class AvgPool2D : public Layer {
 public:
  explicit AvgPool2D(const PoolOptions& options = {}) : options_(options) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, options_); }
  std::string to_string() const override;

 private:
  PoolOptions options_;
};

// (N,H,W,C) → (N,C).
class GlobalAvgPool2D : public Layer {
 public:
  Tensor forward(const Tensor& x) override { return global_avg_pool2d(x); }
  std::string to_string() const override { return "GlobalAvgPool2D()"; }
};

}  // namespace nn
