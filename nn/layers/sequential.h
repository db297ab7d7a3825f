#pragma once

#include <initializer_list>
#include <memory>

#include "nn/module.h"

namespace nn {

// Layers applied in order; children are named "0", "1", …
class Sequential : public Layer {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Layer>> layers);
  Sequential& add(std::shared_ptr<Layer> layer);
  Tensor forward(const Tensor& x) override;
  std::string to_string() const override;
  size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace nn
