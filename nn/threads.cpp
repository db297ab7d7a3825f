#include "nn/threads.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "nn/error.h"

namespace nn {
namespace {
int g_threads = 0;
}

void set_num_threads(int n) {
  if (n < 1) fail_expected("set_num_threads", "a thread count of at least 1", std::to_string(n));
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() {
  detail::init_threads_once();
  return g_threads;
}

namespace detail {
void init_threads_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int n = omp_get_num_procs();
    if (const char* text = std::getenv("NN_NUM_THREADS")) {
      int requested = std::atoi(text);
      if (requested >= 1) n = requested;
    }
    if (g_threads == 0) set_num_threads(n);
  });
}
}  // namespace detail

}  // namespace nn
