#include "nn/core/random.h"

#include <cmath>
#include <numbers>

#include "nn/core/error.h"

namespace nn {

float Generator::uniform() {
  return static_cast<float>(engine_() >> 40) * 0x1.0p-24f;
}

void Generator::fill_uniform(float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = uniform();  // inlined here: one call for the n draws
}

float Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // 1 - u lies in (0, 1], so the logarithm is finite.
  double u1 = 1.0 - static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  double radius = std::sqrt(-2.0 * std::log(u1));
  double angle = 2.0 * std::numbers::pi * u2;
  spare_ = static_cast<float>(radius * std::sin(angle));
  has_spare_ = true;
  return static_cast<float>(radius * std::cos(angle));
}

uint64_t Generator::below(uint64_t n) {
  if (n == 0) fail_expected("Generator::below", "n >= 1", "0");
  // Rejection sampling avoids the modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do r = engine_();
  while (r >= limit);
  return r % n;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) {
  default_generator() = Generator(seed);
}

}  // namespace nn
