/// @file
/// Pooling layers over NHWC images: max, average and global average.
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// Max over each window (PoolOptions: size, strides — 0 for the size —, padding).
class MaxPool2D : public Layer {
 public:
  /// `MaxPool2D({.size = {3, 3}, .strides = {2, 2}, .padding = Padding::same})`; the default is 2×2, stride 2.
  explicit MaxPool2D(const PoolOptions& options = {}) : options_(options) {}
  /// x (N,H,W,C) → (N,OH,OW,C) (nn::max_pool2d).
  Tensor forward(const Tensor& x) override { return max_pool2d(x, options_); }
  /// The configuration, e.g. "MaxPool2D(size=3x3, strides=2x2, padding=same)".
  std::string to_string() const override;

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<MaxPool2D>(options_); }
  PoolOptions options_;
};

/// Average over the real pixels of each window.
class AvgPool2D : public Layer {
 public:
  /// The same options as MaxPool2D.
  explicit AvgPool2D(const PoolOptions& options = {}) : options_(options) {}
  /// x (N,H,W,C) → (N,OH,OW,C) (nn::avg_pool2d).
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, options_); }
  /// The configuration, e.g. "AvgPool2D(size=2x2, strides=2x2, padding=valid)".
  std::string to_string() const override;

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<AvgPool2D>(options_); }
  PoolOptions options_;
};

/// (N,H,W,C) → (N,C).
class GlobalAvgPool2D : public Layer {
 public:
  /// The mean over H and W (nn::global_avg_pool2d).
  Tensor forward(const Tensor& x) override { return global_avg_pool2d(x); }
  /// "GlobalAvgPool2D()".
  std::string to_string() const override { return "GlobalAvgPool2D()"; }

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<GlobalAvgPool2D>(); }
};

}  // namespace nn
