/// @file
/// A seeded random generator whose streams are the same on every platform and standard library
/// (std::uniform_real_distribution and std::normal_distribution are not), so seeded runs reproduce to the bit.
#pragma once

#include <cstdint>
#include <random>

namespace nn {

/// A stream of random numbers from a seed (std::mt19937_64 with our own distributions). Not shared between threads:
/// give each thread its own.
class Generator {
 public:
  /// The same seed gives the same stream everywhere.
  explicit Generator(uint64_t seed = 0x5eed) : engine_(seed) {}

  /// Uniform in [0, 1) with 24 random bits: every value is exactly representable in float32.
  float uniform();
  /// Uniform in [low, high).
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  /// n draws of uniform() into out, in order: the same stream as n calls, without a call per draw. (Not an overload
  /// of uniform: uniform(0, 1) would become ambiguous.)
  void fill_uniform(float* out, int64_t n);
  /// Standard normal by the Box–Muller transform (one value per call; the pair's second value is kept).
  float normal();
  /// Uniform integer in [0, n), without modulo bias. Throws nn::Error for n = 0.
  uint64_t below(uint64_t n);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  float spare_ = 0;
};

/// The generator layers draw their initial weights from unless given one; reseeded by manual_seed.
/// One generator for the whole process, not guarded by a lock: seed it and draw from it on one thread.
Generator& default_generator();
/// Restarts default_generator() from `seed` (torch.manual_seed's role): layers built afterwards get the same
/// initial weights on every run.
void manual_seed(uint64_t seed);

}  // namespace nn
