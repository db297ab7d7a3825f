/// @file
/// Dropout, active in training mode only.
#pragma once

#include "nn/core/random.h"
#include "nn/layers/module.h"

namespace nn {

/// Dropout's configuration: `Dropout({.rate = 0.2f, .seed = 7})`.
struct DropoutOptions {
  float rate = 0.5f;  ///< probability of zeroing an element in training, in [0, 1)
  uint64_t seed = 0;  ///< the layer's own generator, so runs are reproducible
};

/// Inverted dropout in training mode; the identity in eval mode.
class Dropout : public Layer {
 public:
  /// Throws nn::Error for a rate outside [0, 1).
  explicit Dropout(const DropoutOptions& options);
  /// x → the same shape: kept elements scaled by 1/(1 − rate) in training, x itself in eval mode.
  Tensor forward(const Tensor& x) override;
  /// "Dropout(rate=0.5)".
  std::string to_string() const override;
  /// Restarts the mask stream (a trainer reseeds per epoch, so that a resumed run draws the same masks).
  void reseed(uint64_t seed) { gen_ = Generator(seed); }

 private:
  std::shared_ptr<Module> clone_module() const override {
    auto copy = std::make_shared<Dropout>(options_);
    copy->gen_ = gen_;
    return copy;
  }
  DropoutOptions options_;
  Generator gen_;
};

}  // namespace nn
