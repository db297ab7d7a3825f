/// @file
/// One place decides how many threads our OpenMP kernels and OpenBLAS use (DESIGN.md item 8):
/// NN_NUM_THREADS from the environment, by default every core. The count applies to every thread that runs libnn
/// work — the one that set it and any other (a server's workers) — not only to the caller, as omp_set_num_threads
/// alone would.
#pragma once

namespace nn {

/// The count every thread uses (unless it has its own, below): the process-wide count, which a ThreadCountScope
/// does not change.
int num_threads();
/// Sets the thread count of our kernels and of OpenBLAS together, for every thread; n ≥ 1.
void set_num_threads(int n);
/// The count the calling thread's kernels use: its ThreadCountScope's while one lives, else num_threads().
int current_num_threads();

/// A count for the calling thread only, for as long as the object lives: e.g. a server with two models on two cores
/// gives each worker one thread, so that two requests share the cores instead of each starting a full team.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int n);  ///< n ≥ 1
  ~ThreadCountScope();               ///< the calling thread's previous count again
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
};

namespace detail {
/// Applies the current count to the calling thread's OpenMP settings if it has not been applied there yet
/// (NN_NUM_THREADS is read at the first call); the library calls it before parallel work (every tensor allocation
/// does).
void apply_thread_count();
}  // namespace detail

}  // namespace nn
