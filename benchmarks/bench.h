// Shared by the benchmark programs: timing (minimum over repetitions), the machine's FP32 peak measured with a
// short FMA loop, the PyTorch peer run in a subprocess — as installed and in its tuned environments —, and rounds
// that alternate our measurements with the peer's (a machine whose speed drifts over minutes then weighs on both
// sides alike, where timing all of ours before all of the peer's would hand the drift to the ratio).
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

// `iters` rounds of 12 independent chains of multiply-adds on vectors of V's lanes: `x = x · m + a`, fused where the
// target has FMA; returns a sum that keeps the loop alive. Each level's function below expands it with its own
// register width, so that the 12 accumulators stay in registers: one width for all (12 × 16 floats) would be 24 of
// AVX2's 16 ymm registers, and GCC spilled 10 of them — each of those chains a load, an FMA and a store a round, which
// read the Zen 3's peak as 45–154 GFLOP/s where OpenBLAS's sgemm ran at 130–153 (session 18). Whole-vector arithmetic
// only (lane indexing could keep the accumulators in memory). A macro, not an always-inline template: GCC 12 will not
// inline a function compiled for the build's -march (NN_NATIVE=ON: -march=native) into one with another target.
inline constexpr int kFmaChains = 12;
#define BENCH_FMA_CHAINS(V)                                                                 \
  {                                                                                         \
    constexpr int kChains = kFmaChains, kLanes = sizeof(V) / sizeof(float);                 \
    V acc[kChains];                                                                         \
    acc[0] = V{} + 1.0f;                                                                    \
    _Pragma("GCC unroll 12") for (int c = 1; c < kChains; ++c) acc[c] = acc[c - 1] + 1e-3f; \
    const float m = 0.999999f, a = 1e-7f;                                                   \
    for (long i = 0; i < iters; ++i)                                                        \
      _Pragma("GCC unroll 12") for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * m + a;   \
    V total = acc[0];                                                                       \
    _Pragma("GCC unroll 12") for (int c = 1; c < kChains; ++c) total += acc[c];             \
    float sum = 0;                                                                          \
    for (int j = 0; j < kLanes; ++j) sum += total[j];                                       \
    return sum;                                                                             \
  }
using Lanes16 = float __attribute__((vector_size(64)));
using Lanes8 = float __attribute__((vector_size(32)));
using Lanes4 = float __attribute__((vector_size(16)));
__attribute__((target("arch=x86-64-v4"))) inline float fma_chains_avx512(long iters) {
  BENCH_FMA_CHAINS(Lanes16);
}
__attribute__((target("arch=x86-64-v3"))) inline float fma_chains_avx2(long iters) {
  BENCH_FMA_CHAINS(Lanes8);
}
// No FMA at the baseline: a multiply and an add, counted as one multiply-add (2 flops either way).
inline float fma_chains_sse2(long iters) {
  BENCH_FMA_CHAINS(Lanes4);
}
#undef BENCH_FMA_CHAINS

// The FP32 multiply-add peak of `threads` threads in GFLOP/s, at the best level the processor has (whatever -march
// the benchmark itself was built with: the figure is the machine's peak, not the build's): independent chains of
// multiply-adds, enough of them to hide the FMA latency. On a machine whose two vCPUs share one core the 2-thread
// figure comes out near the 1-thread one: print it beside every result.
inline double fma_peak_gflops(int threads) {
  constexpr long kIters = 8'000'000;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("x86-64-v4"), avx2 = __builtin_cpu_supports("x86-64-v3");
  struct Level {
    float (*chains)(long);
    int lanes;
  };
  const Level level = avx512 ? Level{fma_chains_avx512, 16}
                      : avx2 ? Level{fma_chains_avx2, 8}
                             : Level{fma_chains_sse2, 4};
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    double t0 = now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += level.chains(kIters);
    double seconds = now() - t0;
    if (sink == 12345.0f) std::puts("");  // keeps the loop alive
    best = std::max(best, 2.0 * kFmaChains * level.lanes * kIters * threads / seconds / 1e9);
  }
  return best;
}

// Named figures of one measurement, each lower-is-better (seconds, MB) or the same in every run (a count).
using Figures = std::map<std::string, double>;

// Each key's lower value of `best` and `more`, into `best`; returns the keys `more` lowered or added.
inline std::vector<std::string> keep_lower(Figures& best, const Figures& more) {
  std::vector<std::string> lowered;
  for (const auto& [key, value] : more) {
    auto it = best.find(key);
    if (it == best.end() || value < it->second || (std::isnan(it->second) && !std::isnan(value))) {
      best[key] = value;
      lowered.push_back(key);
    }
  }
  return lowered;
}

// Runs a peer program (the PyTorch scripts) and reads its "key value [key value…]" lines; empty when it cannot run
// (python3-torch missing). `environment` ("NAME=value …", may be empty) is set for the peer alone.
inline Figures run_peer(const std::string& command, const std::string& environment = "") {
  Figures out;
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

// Rounds of our measurements and the peer's, alternated, where --rounds does not say.
inline constexpr int kDefaultRounds = 2;

// "1.12 / 1.33": one ratio per round, for the line under a table that shows how far the rounds agree.
inline std::string per_round(const std::vector<double>& ratios) {
  std::string out;
  for (double r : ratios) {
    char text[16];
    std::snprintf(text, sizeof text, "%.2f", r);
    out += (out.empty() ? "" : " / ") + std::string(text);
  }
  return out;
}

// A peer's figures as installed and at its best. Every figure a peer prints is lower-is-better (seconds, MB) or the
// same in every run (a token count), so "best" is the lowest value of each key over the tuned environments (and
// over the rounds).
struct PeerRuns {
  Figures installed, tuned;
  std::map<std::string, std::string> tuned_by;  // key → the environment that gave its tuned value

  bool empty() const { return installed.empty() && tuned.empty(); }
  // Figures from a run in the tuned environment `name`: each key's lowest value kept, with its environment's name.
  void add_tuned(const std::string& name, const Figures& figures) {
    for (const std::string& key : keep_lower(tuned, figures)) tuned_by[key] = name;
  }
  // Another round's runs: each key's lowest value kept, as installed and tuned.
  void add_round(const PeerRuns& round) {
    keep_lower(installed, round.installed);
    for (const auto& [key, value] : round.tuned) {
      auto it = round.tuned_by.find(key);
      add_tuned(it == round.tuned_by.end() ? "?" : it->second, {{key, value}});
    }
  }
  static double get(const Figures& m, const std::string& key) {
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
  for (const PeerEnvironment& env : tuned_environments(passive_wait))
    runs.add_tuned(env.name, run_peer(command, env.variables));
  return runs;
}

// Our fraction of the FMA peak, as "NN%" text, for a rate in GFLOP/s.
inline std::string percent_of(double gflops, double peak_gflops) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", 100.0 * gflops / peak_gflops);
  return text;
}

}  // namespace bench
