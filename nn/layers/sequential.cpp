#include "nn/layers/sequential.h"

namespace nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Layer>> layers) {
  for (const auto& layer : layers) add(layer);
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& layer : layers_) y = layer->forward(y);
  return y;
}

std::string Sequential::to_string() const {
  return "Sequential(" + std::to_string(layers_.size()) + " layers)";
}

}  // namespace nn
