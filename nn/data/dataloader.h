/// @file
/// DataLoader: batches of a Dataset (nn/data/dataset.h) for training — a collate function turns a list of
/// examples into a batch, the order of each epoch is shuffled from (seed, epoch) alone, and a background thread
/// prepares the next batches while the caller trains on the current one.
///
///     nn::TensorDataset data({images, labels});                       // [N,8,8,1], [N,10]
///     nn::DataLoader<nn::TensorExample> loader(data, {.batch_size = 32, .seed = 7});
///     auto epoch = loader.epoch(1);
///     while (auto batch = epoch.next()) train_on((*batch)[0], (*batch)[1]);   // [32,8,8,1], [32,10]
///
/// Determinism: the batches of epoch e are the same for a seed whatever the timing or the prefetch depth, and
/// `loader.epoch(e, s)` starts epoch e at step s with exactly the batches an uninterrupted epoch has there, so
/// training resumed mid-epoch sees what it would have seen.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/core/error.h"
#include "nn/data/dataset.h"

namespace nn {

/// How a DataLoader batches, orders and prefetches.
struct DataLoaderOptions {
  int64_t batch_size = 32;  ///< examples per batch, ≥ 1
  bool shuffle = true;      ///< a new order every epoch, from (seed, epoch); false: 0 … N−1 every epoch
  bool drop_last = false;   ///< leave out the last batch when it is smaller than batch_size
  uint64_t seed = 1;        ///< the shuffle's seed
  int prefetch = 2;         ///< batches a background thread prepares ahead (≥ 0); 0: on the caller's thread
  /// Length buckets: each example's length (e.g. its caption's words), one per example, or empty for none. When
  /// given, each epoch's order (shuffled or not) is cut into pools of bucket_pool batches, each pool is sorted by
  /// length (stably) and cut into batches, and the full batches are put in an order shuffled from (seed, epoch)
  /// (kept when shuffle is false); a last, smaller batch stays last. A batch then holds examples of similar
  /// length, so padding to its longest costs little, while every epoch still sees new batches.
  std::vector<int64_t> lengths;
  int bucket_pool = 50;  ///< batches per pool whose examples are sorted by length (≥ 1)
};

/// One process's part of every batch in data-parallel training (nn/train/trainer.h, TrainerOptions::parallel):
/// shard `index` of `count` takes the contiguous slice [n·index/count, n·(index+1)/count) of each batch of n
/// examples, so the shards of a batch together are the batch, in order.
struct Shard {
  int index = 0;  ///< 0 … count − 1
  int count = 1;  ///< the number of processes; 1: the whole batch
};

/// 0 … n−1 shuffled (Fisher–Yates) by an nn::Generator seeded with `seed`.
std::vector<size_t> shuffled_order(size_t n, uint64_t seed);

/// The order of the examples in epoch `epoch` (1-based): shuffled_order(n, seed · 1000003 + epoch) when
/// options.shuffle, else 0 … n−1; then grouped by length when options.lengths is given (its size must be n).
std::vector<size_t> epoch_order(size_t n, const DataLoaderOptions& options, int epoch);

/// The number of batches of one epoch over n examples (⌈n / batch_size⌉, or ⌊n / batch_size⌋ with drop_last).
size_t steps_per_epoch(size_t n, const DataLoaderOptions& options);

/// Throws nn::Error naming the option when batch_size < 1, prefetch < 0 or bucket_pool < 1.
void check_options(const DataLoaderOptions& options);

namespace detail {

/// The type-erased engine of DataLoader::Epoch: produces steps [first, end) in order with `produce(step)`, on a
/// background thread with a queue of at most `depth` finished batches (on the caller's thread when depth is 0).
class Prefetcher {
 public:
  using Produce = std::function<std::shared_ptr<void>(size_t step)>;
  Prefetcher(Produce produce, size_t first, size_t end, int depth);
  /// Stops the thread (waiting for a batch in progress) and drops what was prepared.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;
  /// The next batch in step order, nullptr after the last; rethrows in the caller's thread an exception that
  /// producing this step threw (after which the epoch is over).
  std::shared_ptr<void> next();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace detail

/// Batches of a Dataset<Example>, made by a collate function from the examples of each batch (in order).
/// The loader keeps a reference to `dataset`, which must outlive it and every Epoch it started; a temporary dataset
/// (`DataLoader loader(nn::TensorDataset({x, y}), …)`, destroyed at the end of the statement) does not compile.
template <class Example, class Batch = std::vector<Tensor>>
class DataLoader {
 public:
  /// examples of one batch, in the epoch's order → the batch
  using Collate = std::function<Batch(std::vector<Example>&& examples)>;

  /// Throws nn::Error when an option is out of range (check_options) or lengths are given for another number of
  /// examples than the dataset's.
  DataLoader(const Dataset<Example>& dataset, Collate collate, DataLoaderOptions options = {})
      : dataset_(dataset), collate_(std::move(collate)), options_(std::move(options)) {
    check_options(options_);
    if (!collate_) fail("DataLoader", "no collate function given");
    if (!options_.lengths.empty() && options_.lengths.size() != dataset_.size()) {
      fail_expected("DataLoader", "one length per example (" + std::to_string(dataset_.size()) + ")",
                    std::to_string(options_.lengths.size()) + " lengths");
    }
  }
  /// With the default collate, stack_examples, for datasets of tensor examples.
  explicit DataLoader(const Dataset<Example>& dataset, DataLoaderOptions options = {}) requires(
      std::is_same_v<Example, TensorExample>&& std::is_same_v<Batch, std::vector<Tensor>>)
      : DataLoader(
            dataset, [](std::vector<Example>&& e) { return stack_examples(e); }, options) {}
  /// Refused: the loader would keep a reference to a dataset about to be destroyed. Keep the dataset in a variable
  /// that outlives the loader.
  DataLoader(const Dataset<Example>&& dataset, Collate collate, DataLoaderOptions options = {}) = delete;
  /// Refused, as above.
  DataLoader(const Dataset<Example>&& dataset, DataLoaderOptions options = {}) = delete;

  /// The options it was built with.
  const DataLoaderOptions& options() const { return options_; }
  /// The number of examples in the dataset.
  size_t size() const { return dataset_.size(); }
  /// The number of batches of an epoch.
  size_t steps() const { return steps_per_epoch(dataset_.size(), options_); }

  /// One pass over the data (it needs the dataset, not the loader, to stay alive). Destroying it mid-epoch stops
  /// its background thread cleanly.
  class Epoch {
   public:
    /// The next batch, or nothing after the last. An exception thrown by the dataset's get() or the collate for
    /// this batch is rethrown here.
    std::optional<Batch> next() {
      std::shared_ptr<void> batch = prefetcher_->next();
      if (!batch) return std::nullopt;
      ++step_;
      return std::move(*static_cast<Batch*>(batch.get()));
    }
    /// The step (1-based) of the batch next() returned last; first_step − 1 before the first.
    size_t step() const { return step_; }
    /// The number of steps of the whole epoch (also those skipped by starting later).
    size_t steps() const { return steps_; }

   private:
    friend class DataLoader;
    Epoch(std::unique_ptr<detail::Prefetcher> prefetcher, size_t first_step, size_t steps)
        : prefetcher_(std::move(prefetcher)), step_(first_step - 1), steps_(steps) {}
    std::unique_ptr<detail::Prefetcher> prefetcher_;
    size_t step_, steps_;
  };

  /// Epoch `epoch` (1-based), starting at step `first_step` (1-based; steps before it are skipped, not computed),
  /// each batch cut to its `shard`. Throws nn::Error when epoch < 1, first_step is outside 1 … steps() + 1 or the
  /// shard is not one of count ≥ 1.
  Epoch epoch(int epoch, size_t first_step = 1, Shard shard = {}) const {
    const size_t steps = this->steps();
    if (epoch < 1) fail_expected("DataLoader::epoch", "an epoch ≥ 1", std::to_string(epoch));
    if (first_step < 1 || first_step > steps + 1) {
      fail_expected("DataLoader::epoch", "a first step in 1 … " + std::to_string(steps + 1),
                    std::to_string(first_step));
    }
    if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
      fail_expected("DataLoader::epoch", "a shard index in 0 … count − 1 of count ≥ 1",
                    std::to_string(shard.index) + " of " + std::to_string(shard.count));
    }
    auto order = std::make_shared<const std::vector<size_t>>(epoch_order(dataset_.size(), options_, epoch));
    const size_t batch = static_cast<size_t>(options_.batch_size);
    // Runs on the background thread: reads only the dataset, its own copy of the collate and this epoch's order.
    auto produce = [&dataset = dataset_, collate = collate_, order, batch,
                    shard](size_t step) -> std::shared_ptr<void> {
      const size_t first = (step - 1) * batch, n = std::min(order->size(), step * batch) - first;
      const auto cut = [&](int k) { return first + n * static_cast<size_t>(k) / static_cast<size_t>(shard.count); };
      std::vector<Example> examples;
      for (size_t i = cut(shard.index); i < cut(shard.index + 1); ++i) examples.push_back(dataset.get((*order)[i]));
      return std::make_shared<Batch>(collate(std::move(examples)));
    };
    return Epoch(std::make_unique<detail::Prefetcher>(produce, first_step, steps + 1, options_.prefetch), first_step,
                 steps);
  }

 private:
  const Dataset<Example>& dataset_;
  Collate collate_;
  DataLoaderOptions options_;
};

}  // namespace nn
