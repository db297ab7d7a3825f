// A seeded random generator whose streams are the same on every platform and standard library
// (std::uniform_real_distribution and std::normal_distribution are not), so seeded runs reproduce to the bit.
#pragma once

#include <cstdint>
#include <random>

namespace nn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : engine_(seed) {}

  // Uniform in [0, 1) with 24 random bits: every value is exactly representable in float32.
  float uniform();
  // Uniform in [low, high).
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  // Standard normal by the Box–Muller transform (one value per call; the pair's second value is kept).
  float normal();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  float spare_ = 0;
};

// The generator layers draw their initial weights from unless given one; reseeded by manual_seed.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace nn
