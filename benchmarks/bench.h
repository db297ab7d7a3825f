// Shared by the benchmark programs: timing (minimum over repetitions), the machine's FP32 peak measured with a
// short FMA loop, and the PyTorch peer run in a subprocess — as installed and in its tuned environments.
#pragma once

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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
// (python3-torch missing). `environment` ("NAME=value …", may be empty) is set for the peer alone.
inline std::map<std::string, double> run_peer(const std::string& command, const std::string& environment = "") {
  std::map<std::string, double> out;
  const std::string line_command = (environment.empty() ? "" : "env " + environment + " ") + command + " 2>/dev/null";
  if (FILE* pipe = ::popen(line_command.c_str(), "r")) {
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

// An environment a peer runs in: its name in the tables, and the variables it sets.
struct PeerEnvironment {
  std::string name, variables;
};

// PyTorch's CPU performance guide's advice on memory and threads, each way it can be taken here: jemalloc preloaded
// (Debian's libjemalloc2, when installed), or glibc kept from returning big blocks to the kernel; with
// passive_wait, each of those again with OpenMP's idle threads sleeping instead of spinning (which can help a
// recurrent network's many small parallel regions, and is tried rather than assumed).
inline std::vector<PeerEnvironment> tuned_environments(bool passive_wait) {
  std::vector<PeerEnvironment> out;
  for (const char* path : {"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2"})
    if (::access(path, R_OK) == 0) {
      out.push_back({"jemalloc", std::string("LD_PRELOAD=") + path});
      break;
    }
  out.push_back({"glibc-tuned",
                 "MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184 "
                 "MALLOC_TOP_PAD_=536870912"});
  if (passive_wait) {
    const size_t n = out.size();
    for (size_t i = 0; i < n; ++i)
      out.push_back({out[i].name + "+passive", out[i].variables + " OMP_WAIT_POLICY=PASSIVE"});
  }
  return out;
}

// "jemalloc, glibc-tuned, …": what tuned_environments(passive_wait) tries, for the tables' footnotes.
inline std::string environment_names(bool passive_wait) {
  std::string names;
  for (const PeerEnvironment& e : tuned_environments(passive_wait)) names += (names.empty() ? "" : ", ") + e.name;
  return names;
}

// A peer's figures as installed and at its best. Every figure a peer prints is lower-is-better (seconds, MB) or the
// same in every run (a token count), so "best" is the lowest value of each key over the tuned environments.
struct PeerRuns {
  std::map<std::string, double> installed, tuned;
  std::map<std::string, std::string> tuned_by;  // key → the environment that gave its tuned value

  bool empty() const { return installed.empty() && tuned.empty(); }
  static double get(const std::map<std::string, double>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? NAN : it->second;
  }
  double as_installed(const std::string& key) const { return get(installed, key); }
  double at_best(const std::string& key) const { return get(tuned, key); }
  // The faster of the two, which our ratios are computed against.
  double faster(const std::string& key) const { return std::fmin(as_installed(key), at_best(key)); }
  // The environments that gave the tuned values of `keys`, e.g. "jemalloc" or "jemalloc, glibc-tuned+passive".
  std::string tuned_names(const std::vector<std::string>& keys) const {
    std::vector<std::string> names;
    for (const std::string& k : keys) {
      auto it = tuned_by.find(k);
      if (it != tuned_by.end() && std::find(names.begin(), names.end(), it->second) == names.end())
        names.push_back(it->second);
    }
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "-" : out;
  }
};

// Runs `command` as installed, then in each tuned environment, keeping each key's lowest tuned value.
inline PeerRuns run_peer_tuned(const std::string& command, bool passive_wait) {
  PeerRuns runs;
  runs.installed = run_peer(command);
  for (const PeerEnvironment& env : tuned_environments(passive_wait)) {
    for (const auto& [key, value] : run_peer(command, env.variables)) {
      auto it = runs.tuned.find(key);
      if (it == runs.tuned.end() || value < it->second) {
        runs.tuned[key] = value;
        runs.tuned_by[key] = env.name;
      }
    }
  }
  return runs;
}

// Our fraction of the FMA peak, as "NN%" text, for a rate in GFLOP/s.
inline std::string percent_of(double gflops, double peak_gflops) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", 100.0 * gflops / peak_gflops);
  return text;
}

}  // namespace bench
