#include "nn/core/threads.h"

#include <cblas.h>
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "nn/core/error.h"

namespace nn {
namespace {

std::atomic<int> g_threads{0};     // the count for every thread; 0 until NN_NUM_THREADS has been read
std::atomic<int> g_generation{0};  // bumped by every set_num_threads, so each thread re-applies it once

// The calling thread's state: its own count (ThreadCountScope; 0 = follow the global one) and which global
// generation its OpenMP setting reflects.
thread_local int t_own_threads = 0;
thread_local int t_applied_generation = -1;

void read_environment_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int n = omp_get_num_procs();
    if (const char* text = std::getenv("NN_NUM_THREADS")) {
      int requested = std::atoi(text);
      if (requested >= 1) n = requested;
    }
    int unset = 0;
    if (g_threads.compare_exchange_strong(unset, n)) {
      openblas_set_num_threads(n);
      g_generation.fetch_add(1);
    }
  });
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) fail_expected("set_num_threads", "a thread count of at least 1", std::to_string(n));
  read_environment_once();
  g_threads.store(n);
  openblas_set_num_threads(n);
  g_generation.fetch_add(1);
  detail::apply_thread_count();
}

int num_threads() {
  read_environment_once();
  return g_threads.load();
}

int current_num_threads() {
  read_environment_once();
  return t_own_threads > 0 ? t_own_threads : g_threads.load();
}

ThreadCountScope::ThreadCountScope(int n) : previous_(t_own_threads) {
  if (n < 1) fail_expected("ThreadCountScope", "a thread count of at least 1", std::to_string(n));
  t_own_threads = n;
  t_applied_generation = -1;
  detail::apply_thread_count();
}

ThreadCountScope::~ThreadCountScope() {
  t_own_threads = previous_;
  t_applied_generation = -1;
  detail::apply_thread_count();
}

namespace detail {
void apply_thread_count() {
  read_environment_once();
  const int generation = g_generation.load(std::memory_order_acquire);
  if (t_applied_generation == generation) return;
  omp_set_num_threads(t_own_threads > 0 ? t_own_threads : g_threads.load());
  t_applied_generation = generation;
}
}  // namespace detail

}  // namespace nn
