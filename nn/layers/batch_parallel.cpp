#include "nn/layers/batch_parallel.h"

#include <algorithm>
#include <atomic>
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
  // The caller's kernel threads shared out: one each when there are as many workers as threads (2 cores, batch 8),
  // several each when the batch is smaller than the machine (16 cores, batch 2).
  const int threads_each = std::max(1, current_num_threads() / parts);
  // Chunks of about half a worker's share (two examples at batch 8 on 2 workers), taken in order by whichever
  // worker is free: a worker whose core is also busy elsewhere (a decoding thread beside it) takes fewer, instead of
  // the others waiting at the end for its fixed slice. Two examples rather than one (a quarter's share, until session
  // 24): a GEMM packs its weights once for both, and the exit flow's 10 × 10 layers get 200 rows instead of 100 — the
  // folded Xception's batch of 8 ran 2–3 % faster on Zen 5 in four alternated runs (393–404 against 404–413 ms); four
  // examples a chunk gained nothing more.
  const int64_t chunk = std::max<int64_t>(1, n / (2 * int64_t{parts})), chunks = (n + chunk - 1) / chunk;
  std::vector<Tensor> results(static_cast<size_t>(chunks));
  // One slot per chunk, then per worker (a failure outside any chunk), then one for a thread that did not start: the
  // first failure in that order is the one reported. After any failure the workers take no new chunk.
  std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks + parts + 1));
  std::exception_ptr& not_started = errors.back();
  std::atomic<int64_t> next{0};
  auto work = [&](int worker) {
    int64_t k = chunks + worker;  // a failure before the first chunk: the worker's own slot
    try {
      BackendScope same_backend(backend);
      ThreadCountScope share(threads_each);
      std::optional<NoGradGuard> no_grad;
      if (!recording) no_grad.emplace();
      for (int64_t taken = next++; taken < chunks; taken = next++) {
        k = taken;
        results[static_cast<size_t>(k)] = f(slice(x, 0, k * chunk, std::min(n, (k + 1) * chunk)));
      }
    } catch (...) {
      errors[static_cast<size_t>(k)] = std::current_exception();
      next = chunks;
    }
  };
  {
    std::vector<std::jthread> threads;  // joined however this block is left
    try {
      for (int w = 1; w < parts; ++w) threads.emplace_back(work, w);
    } catch (...) {
      not_started = std::current_exception();
      next = chunks;  // the workers already started stop after their chunk in hand
    }
    if (!not_started) work(0);
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return concat(results, 0);
}

}  // namespace nn
