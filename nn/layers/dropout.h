#pragma once

#include "nn/module.h"
#include "nn/random.h"

namespace nn {

struct DropoutOptions {
  float rate = 0.5f;  // probability of zeroing an element in training
  uint64_t seed = 0;  // the layer's own generator, so runs are reproducible
};

// Inverted dropout in training mode; the identity in eval mode.
class Dropout : public Layer {
 public:
  explicit Dropout(const DropoutOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string to_string() const override;
  // Restarts the mask stream (a trainer reseeds per epoch, so that a resumed run draws the same masks).
  void reseed(uint64_t seed) { gen_ = Generator(seed); }

 private:
  DropoutOptions options_;
  Generator gen_;
};

}  // namespace nn
