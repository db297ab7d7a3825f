#include "nn/layers/sequential.h"

#include "nn/core/error.h"

namespace nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Layer>> layers) {
  for (const auto& layer : layers) add(layer);
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  if (!layer) fail_expected("Sequential::add", "a layer", "a null pointer (layer " + std::to_string(size()) + ")");
  layers_.push_back(register_module(std::to_string(layers_.size()), std::move(layer)));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& layer : layers_) y = (*layer)(y);
  return y;
}

std::string Sequential::to_string() const {
  return "Sequential(" + std::to_string(layers_.size()) + " layers)";
}

Layer& Sequential::operator[](size_t index) const {
  if (index >= layers_.size()) {
    fail_expected("Sequential", "a layer index below " + std::to_string(layers_.size()), std::to_string(index));
  }
  return *layers_[index];
}

// Each layer cloned on its own (values included); clone() then copies the same values once more, harmlessly.
std::shared_ptr<Module> Sequential::clone_module() const {
  auto copy = std::make_shared<Sequential>();
  for (const auto& layer : layers_) copy->add(std::static_pointer_cast<Layer>(layer->clone()));
  return copy;
}

}  // namespace nn
