#include "nn/data/dataloader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "nn/core/random.h"
#include "nn/core/shape.h"
#include "nn/ops/ops.h"

namespace nn {

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty()) fail("TensorDataset", "no tensors given");
  for (size_t k = 0; k < tensors_.size(); ++k) {
    if (!tensors_[k].defined() || tensors_[k].rank() < 1)
      fail("TensorDataset", "tensor " + std::to_string(k) + " has no first axis to cut examples from");
    if (tensors_[k].dim(0) != tensors_[0].dim(0)) {
      fail_expected("TensorDataset",
                    "tensors with the same first extent (tensor 0 is " + to_string(tensors_[0].shape()) + ")",
                    "tensor " + std::to_string(k) + " " + to_string(tensors_[k].shape()));
    }
  }
}

size_t TensorDataset::size() const {
  return static_cast<size_t>(tensors_[0].dim(0));
}

TensorExample TensorDataset::get(size_t index) const {
  if (index >= size())
    fail_expected("TensorDataset::get", "an index below " + std::to_string(size()), std::to_string(index));
  TensorExample example;
  for (const Tensor& t : tensors_) {
    Shape shape(t.shape().begin() + 1, t.shape().end());
    const int64_t count = t.numel() / t.dim(0);
    example.push_back(Tensor::from_data(shape, std::span<const float>(t.data() + index * count, count)));
  }
  return example;
}

std::vector<Tensor> stack_examples(const std::vector<TensorExample>& examples) {
  if (examples.empty()) fail("stack_examples", "no examples to stack");
  std::vector<Tensor> batch;
  for (size_t field = 0; field < examples[0].size(); ++field) {
    std::vector<Tensor> column;
    for (size_t i = 0; i < examples.size(); ++i) {
      if (examples[i].size() != examples[0].size()) {
        fail_expected("stack_examples", std::to_string(examples[0].size()) + " tensors per example (as example 0)",
                      std::to_string(examples[i].size()) + " in example " + std::to_string(i));
      }
      column.push_back(examples[i][field]);
    }
    batch.push_back(stack(column, 0));
  }
  return batch;
}

std::vector<size_t> shuffled_order(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  Generator gen(seed);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);  // Fisher–Yates
  return order;
}

namespace {

// `order` regrouped into batches of similar length (DataLoaderOptions::lengths): pools of bucket_pool batches sorted
// by length and cut into batches; the full batches shuffled from (seed, epoch) when the options shuffle.
std::vector<size_t> bucketed_by_length(const std::vector<size_t>& order, const DataLoaderOptions& options, int epoch) {
  const std::vector<int64_t>& lengths = options.lengths;
  if (lengths.size() != order.size()) {
    fail_expected("DataLoader", "one length per example (" + std::to_string(order.size()) + ")",
                  std::to_string(lengths.size()) + " lengths");
  }
  const size_t n = order.size(), batch = static_cast<size_t>(options.batch_size);
  const size_t pool = batch * static_cast<size_t>(options.bucket_pool);
  std::vector<size_t> sorted = order;
  for (size_t start = 0; start < n; start += pool) {
    std::stable_sort(sorted.begin() + static_cast<std::ptrdiff_t>(start),
                     sorted.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + pool)),
                     [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  }
  const size_t full = n / batch;
  std::vector<size_t> batches(full);
  for (size_t b = 0; b < full; ++b) batches[b] = b;
  if (options.shuffle) batches = shuffled_order(full, (options.seed * 1000003ull + epoch) ^ 0x6275636b657473ull);
  std::vector<size_t> result;
  result.reserve(n);
  for (size_t b : batches) {
    result.insert(result.end(), sorted.begin() + static_cast<std::ptrdiff_t>(b * batch),
                  sorted.begin() + static_cast<std::ptrdiff_t>((b + 1) * batch));
  }
  result.insert(result.end(), sorted.begin() + static_cast<std::ptrdiff_t>(full * batch), sorted.end());
  return result;
}

}  // namespace

std::vector<size_t> epoch_order(size_t n, const DataLoaderOptions& options, int epoch) {
  std::vector<size_t> order;
  if (options.shuffle) {
    order = shuffled_order(n, options.seed * 1000003ull + static_cast<uint64_t>(epoch));
  } else {
    order.resize(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
  }
  return options.lengths.empty() ? order : bucketed_by_length(order, options, epoch);
}

size_t steps_per_epoch(size_t n, const DataLoaderOptions& options) {
  const size_t batch = static_cast<size_t>(options.batch_size);
  return options.drop_last ? n / batch : (n + batch - 1) / batch;
}

void check_options(const DataLoaderOptions& options) {
  if (options.batch_size < 1) fail_expected("DataLoader", "batch_size ≥ 1", std::to_string(options.batch_size));
  if (options.prefetch < 0) fail_expected("DataLoader", "prefetch ≥ 0", std::to_string(options.prefetch));
  if (options.bucket_pool < 1) fail_expected("DataLoader", "bucket_pool ≥ 1", std::to_string(options.bucket_pool));
}

namespace detail {

// A finished step: its batch, or what producing it threw.
struct Produced {
  std::shared_ptr<void> batch;
  std::exception_ptr error;
};

struct Prefetcher::State {
  Produce produce;
  size_t next_step, end;  // the step next() hands out next; one past the last
  size_t depth;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Produced> queue;  // finished steps, in order, at most `depth`
  bool stopping = false, failed = false;
  std::thread worker;

  // The background thread: produces every step in order, waiting while the queue is full; stops at the first
  // exception (queued for next() to rethrow) or when the owner goes.
  void run(size_t first) {
    for (size_t step = first; step < end; ++step) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stopping || queue.size() < depth; });
        if (stopping) return;
      }
      Produced p;
      try {
        p.batch = produce(step);
      } catch (...) {
        p.error = std::current_exception();
      }
      std::lock_guard lock(mutex);
      const bool error = p.error != nullptr;
      queue.push_back(std::move(p));
      changed.notify_all();
      if (error) return;
    }
  }
};

Prefetcher::Prefetcher(Produce produce, size_t first, size_t end, int depth) : state_(std::make_unique<State>()) {
  state_->produce = std::move(produce);
  state_->next_step = first;
  state_->end = end;
  state_->depth = static_cast<size_t>(depth);
  if (depth > 0 && first < end) state_->worker = std::thread([s = state_.get(), first] { s->run(first); });
}

Prefetcher::~Prefetcher() {
  if (!state_->worker.joinable()) return;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->changed.notify_all();
  state_->worker.join();
}

std::shared_ptr<void> Prefetcher::next() {
  State& s = *state_;
  if (s.failed || s.next_step >= s.end) return nullptr;
  Produced p;
  if (s.depth == 0) {
    try {
      p.batch = s.produce(s.next_step);
    } catch (...) {
      s.failed = true;
      throw;
    }
  } else {
    std::unique_lock lock(s.mutex);
    s.changed.wait(lock, [&] { return !s.queue.empty(); });
    p = std::move(s.queue.front());
    s.queue.pop_front();
    s.changed.notify_all();
  }
  ++s.next_step;
  if (p.error) {
    s.failed = true;
    std::rethrow_exception(p.error);
  }
  return p.batch;
}

}  // namespace detail
}  // namespace nn
