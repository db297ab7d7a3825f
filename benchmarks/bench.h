// Shared by the benchmark programs: timing (minimum over repetitions), the machine's FP32 peak measured with a
// short FMA loop, and the PyTorch peer run in a subprocess.
#pragma once

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <string>

namespace bench {

inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The fastest of at least `min_reps` runs of `f`, repeating until `budget` seconds have passed (after a warm-up).
inline double min_time(const std::function<void()>& f, int min_reps = 3, double budget = 0.3) {
  f();
  double best = 1e30, start = now();
  for (int i = 0; i < min_reps || now() - start < budget; ++i) {
    double t0 = now();
    f();
    best = std::min(best, now() - t0);
    if (i > 1000) break;
  }
  return best;
}

// kIters rounds of 12 independent chains of 16 fused multiply-adds, compiled for AVX-512, for AVX2+FMA and for
// baseline x86-64 and run at the best level the processor has (GCC's target_clones), whatever -march the benchmark
// itself was built with: the figure is the machine's peak, not the build's.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static float fma_chains(long iters) {
  constexpr int kChains = 12, kWidth = 16;
  float acc[kChains][kWidth];
  for (int c = 0; c < kChains; ++c)
    for (int j = 0; j < kWidth; ++j) acc[c][j] = 1.0f + 1e-3f * static_cast<float>(c + j);
  const float m = 0.999999f, a = 1e-7f;
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
#pragma omp simd
      for (int j = 0; j < kWidth; ++j) acc[c][j] = acc[c][j] * m + a;
  float sum = 0;
  for (int c = 0; c < kChains; ++c)
    for (int j = 0; j < kWidth; ++j) sum += acc[c][j];
  return sum;
}

// The FP32 multiply-add peak of `threads` threads in GFLOP/s: independent chains of fused multiply-adds, enough of
// them to hide the FMA latency. On a machine whose two vCPUs share one core the 2-thread figure comes out near the
// 1-thread one: print it beside every result.
inline double fma_peak_gflops(int threads) {
  constexpr int kChains = 12, kWidth = 16;
  constexpr long kIters = 4'000'000;
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    double t0 = now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_chains(kIters);
    double seconds = now() - t0;
    if (sink == 12345.0f) std::puts("");  // keeps the loop alive
    best = std::max(best, 2.0 * kChains * kWidth * kIters * threads / seconds / 1e9);
  }
  return best;
}

// Runs a peer program (the PyTorch scripts) and reads its "key value [key value…]" lines; empty when it cannot run
// (python3-torch missing).
inline std::map<std::string, double> run_peer(const std::string& command) {
  std::map<std::string, double> out;
  if (FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, pipe)) {
      std::istringstream in(line);
      std::string key;
      double value;
      while (in >> key >> value) out[key] = value;
    }
    ::pclose(pipe);
  }
  return out;
}

}  // namespace bench
