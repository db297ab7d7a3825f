#include "nn/layers/batch_parallel.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/threads.h"
#include "nn/ops/ops.h"

namespace nn {

Tensor run_batch_parallel(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, int parts) {
  const int64_t n = x.rank() > 0 ? x.dim(0) : 0;
  parts = static_cast<int>(std::min<int64_t>(parts, n));
  if (parts <= 1) return f(x);
  const Backend& backend = backend_for(x);
  const bool recording = grad_mode_enabled();
  // The caller's kernel threads shared out: one each when there are as many slices as threads (2 cores, batch 8),
  // several each when the batch is smaller than the machine (16 cores, batch 2).
  const int threads_each = std::max(1, current_num_threads() / parts);
  std::vector<Tensor> results(static_cast<size_t>(parts));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parts));
  // Slice k: examples [n·k/parts, n·(k+1)/parts), run with its share of threads, the caller's backend and mode.
  auto run = [&](int k) {
    try {
      BackendScope same_backend(backend);
      ThreadCountScope share(threads_each);
      std::optional<NoGradGuard> no_grad;
      if (!recording) no_grad.emplace();
      results[static_cast<size_t>(k)] = f(slice(x, 0, n * k / parts, n * (k + 1) / parts));
    } catch (...) {
      errors[static_cast<size_t>(k)] = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> threads;  // joined however this block is left (a thread that failed to start too)
    for (int k = 1; k < parts; ++k) threads.emplace_back(run, k);
    run(0);
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return concat(results, 0);
}

}  // namespace nn
