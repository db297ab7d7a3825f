// Dataset and DataLoader: batches and their order, drop_last, resuming at a step, determinism whatever the
// timing, errors from get() and the collate reaching the caller, destruction mid-epoch, and the prefetching thread
// really working ahead.
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <nn/data/dataloader.h>

#include "support/check.h"
#include "support/files.h"

using nn::DataLoader;
using nn::Tensor;

namespace {

// Example i is the number i; a batch is the list of its examples. get() may sleep, count its calls, or throw.
struct Numbers : nn::Dataset<int> {
  size_t n;
  std::chrono::milliseconds delay{0};
  int throw_at = -1;
  mutable std::atomic<int> calls{0};
  explicit Numbers(size_t n) : n(n) {}
  size_t size() const override { return n; }
  int get(size_t i) const override {
    ++calls;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (static_cast<int>(i) == throw_at) throw nn::Error("Numbers: example " + std::to_string(i) + " is unreadable");
    return static_cast<int>(i);
  }
};

using Batch = std::vector<int>;
Batch collect(std::vector<int>&& examples) {
  return examples;
}

std::vector<Batch> all_batches(const DataLoader<int, Batch>& loader, int epoch, size_t first_step = 1) {
  std::vector<Batch> out;
  auto e = loader.epoch(epoch, first_step);
  while (auto b = e.next()) out.push_back(*b);
  return out;
}

// A loader keeps a reference to its dataset: a temporary one (destroyed at the end of the statement) is refused at
// compile time, a named one is taken.
using TensorLoader = DataLoader<nn::TensorExample>;
static_assert(!std::is_constructible_v<TensorLoader, nn::TensorDataset, nn::DataLoaderOptions>);
static_assert(!std::is_constructible_v<TensorLoader, nn::TensorDataset&&, nn::DataLoaderOptions>);
static_assert(!std::is_constructible_v<TensorLoader, nn::TensorDataset>);
static_assert(std::is_constructible_v<TensorLoader, nn::TensorDataset&, nn::DataLoaderOptions>);
static_assert(std::is_constructible_v<TensorLoader, const nn::TensorDataset&>);
static_assert(!std::is_constructible_v<DataLoader<int, Batch>, Numbers, DataLoader<int, Batch>::Collate>);
static_assert(std::is_constructible_v<DataLoader<int, Batch>, Numbers&, DataLoader<int, Batch>::Collate>);

}  // namespace

TEST_CASE("an epoch's batches cover every example once, in an order fixed by (seed, epoch) whatever the prefetch") {
  Numbers data(10);
  DataLoader<int, Batch> loader(data, collect, {.batch_size = 3, .seed = 4});
  CHECK(loader.steps() == 4);
  const std::vector<Batch> first = all_batches(loader, 1);
  REQUIRE(first.size() == 4);
  CHECK(first.back().size() == 1);  // 3 + 3 + 3 + 1
  std::multiset<int> seen;
  for (const Batch& b : first) seen.insert(b.begin(), b.end());
  CHECK(seen == std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // The order is nn::shuffled_order(n, seed · 1000003 + epoch), cut into batches.
  const std::vector<size_t> order = nn::shuffled_order(10, 4 * 1000003ull + 1);
  CHECK(first[0] == Batch{static_cast<int>(order[0]), static_cast<int>(order[1]), static_cast<int>(order[2])});
  CHECK(order != nn::shuffled_order(10, 4 * 1000003ull + 2));

  CHECK(all_batches(loader, 1) == first);  // again: the same
  const std::vector<Batch> second = all_batches(loader, 2);
  CHECK(second != first);  // another epoch, another order
  for (int prefetch : {0, 1, 5}) {
    data.delay = std::chrono::milliseconds(prefetch);  // different timings, the same batches
    DataLoader<int, Batch> other(data, collect, {.batch_size = 3, .seed = 4, .prefetch = prefetch});
    CHECK(all_batches(other, 1) == first);
    CHECK(all_batches(other, 2) == second);
  }
  DataLoader<int, Batch> reseeded(data, collect, {.batch_size = 3, .seed = 5});
  CHECK(all_batches(reseeded, 1) != first);
  DataLoader<int, Batch> in_order(data, collect, {.batch_size = 4, .shuffle = false});
  CHECK(all_batches(in_order, 3) == std::vector<Batch>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
}

TEST_CASE("drop_last leaves out the short last batch") {
  Numbers data(10);
  DataLoader<int, Batch> loader(data, collect, {.batch_size = 3, .drop_last = true, .seed = 4});
  CHECK(loader.steps() == 3);
  const std::vector<Batch> batches = all_batches(loader, 1);
  REQUIRE(batches.size() == 3);
  for (const Batch& b : batches) CHECK(b.size() == 3);
  DataLoader<int, Batch> whole(data, collect, {.batch_size = 5, .shuffle = false, .drop_last = true});
  CHECK(all_batches(whole, 1) == std::vector<Batch>{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}});
  Numbers few(2);
  DataLoader<int, Batch> none(few, collect, {.batch_size = 3, .drop_last = true});
  CHECK(all_batches(none, 1).empty());
}

TEST_CASE("length buckets: batches of similar length, every example once, a new batch order every epoch") {
  // 1,000 examples of lengths 2 … 6, 200 of each; batches of 10, pools of 5 batches (50 examples, 10 per length).
  const size_t n = 1000;
  Numbers data(n);
  std::vector<int64_t> lengths(n);
  for (size_t i = 0; i < n; ++i) lengths[i] = 2 + static_cast<int64_t>((i * 7919) % 5);
  DataLoader<int, Batch> plain(data, collect, {.batch_size = 10, .seed = 3});
  DataLoader<int, Batch> bucketed(data, collect, {.batch_size = 10, .seed = 3, .lengths = lengths, .bucket_pool = 5});
  // Padding a batch to its longest: the padded positions over all batches, and every example exactly once.
  auto padding = [&](const std::vector<Batch>& batches) {
    int64_t padded = 0;
    for (const Batch& b : batches) {
      int64_t longest = 0;
      for (int i : b) longest = std::max(longest, lengths[static_cast<size_t>(i)]);
      for (int i : b) padded += longest - lengths[static_cast<size_t>(i)];
    }
    return padded;
  };
  const std::vector<Batch> first = all_batches(bucketed, 1);
  REQUIRE(first.size() == 100);
  std::multiset<int> seen;
  for (const Batch& b : first) seen.insert(b.begin(), b.end());
  CHECK(seen.size() == n);
  CHECK(std::set<int>(seen.begin(), seen.end()).size() == n);
  // A sorted pool holds about 10 examples of each length, so a batch mostly spans one or two neighbouring lengths
  // (a random batch of 10 spans about all 5): padding to the batch's longest drops from ≈ 2 per example to < 0.5.
  const int64_t padded_plain = padding(all_batches(plain, 1)), padded_bucketed = padding(first);
  INFO("padded positions: " << padded_plain << " without buckets, " << padded_bucketed << " with");
  CHECK(padded_plain > 3 * static_cast<int64_t>(n) / 2);
  CHECK(padded_bucketed < static_cast<int64_t>(n) / 2);
  // Deterministic from (seed, epoch), whatever the prefetch; another epoch gives other batches in another order.
  DataLoader<int, Batch> again(data, collect,
                               {.batch_size = 10, .seed = 3, .prefetch = 0, .lengths = lengths, .bucket_pool = 5});
  CHECK(all_batches(again, 1) == first);
  CHECK(all_batches(bucketed, 2) != first);
  // Not shuffled: pools sorted in place, batches in pool order (lengths 2 … 6 within each pool of 50).
  DataLoader<int, Batch> in_order(data, collect,
                                  {.batch_size = 10, .shuffle = false, .lengths = lengths, .bucket_pool = 5});
  const std::vector<Batch> ordered = all_batches(in_order, 1);
  CHECK(lengths[static_cast<size_t>(ordered[0][0])] == 2);
  CHECK(lengths[static_cast<size_t>(ordered[4][9])] == 6);
  for (size_t k = 0; k + 1 < ordered.size(); ++k) {
    if ((k + 1) % 5 == 0) continue;  // the next batch starts another pool
    int64_t longest = 0, shortest_next = 1000;
    for (int i : ordered[k]) longest = std::max(longest, lengths[static_cast<size_t>(i)]);
    for (int i : ordered[k + 1]) shortest_next = std::min(shortest_next, lengths[static_cast<size_t>(i)]);
    CHECK(longest <= shortest_next);
  }
  // A short last batch stays last (drop_last can leave it out); wrong sizes are refused, naming the option.
  Numbers odd(23);
  std::vector<int64_t> odd_lengths(23, 1);
  odd_lengths[5] = 9;
  const std::vector<Batch> odd_batches =
      all_batches(DataLoader<int, Batch>(odd, collect, {.batch_size = 4, .seed = 2, .lengths = odd_lengths}), 1);
  REQUIRE(odd_batches.size() == 6);
  CHECK(odd_batches.back().size() == 3);
  CHECK(odd_batches.back().back() == 5);  // the longest of the last pool sorts last
  CHECK(test::error_of([&] { DataLoader<int, Batch>(odd, collect, {.lengths = lengths}); }) ==
        "DataLoader: expected one length per example (23), got 1000 lengths");
  CHECK(test::error_of([&] { DataLoader<int, Batch>(odd, collect, {.bucket_pool = 0}); }) ==
        "DataLoader: expected bucket_pool ≥ 1, got 0");
}

TEST_CASE("an epoch started at step s gives the batches an uninterrupted epoch gives from s on") {
  Numbers data(23);
  DataLoader<int, Batch> loader(data, collect, {.batch_size = 4, .seed = 9});
  const std::vector<Batch> whole = all_batches(loader, 3);
  REQUIRE(whole.size() == 6);
  for (size_t s = 1; s <= 7; ++s) {
    data.calls = 0;
    auto e = loader.epoch(3, s);
    CHECK(e.step() == s - 1);
    std::vector<Batch> rest;
    while (auto b = e.next()) rest.push_back(*b);
    CHECK(rest == std::vector<Batch>(whole.begin() + static_cast<long>(s - 1), whole.end()));
    CHECK(e.step() == 6);
    CHECK(data.calls == static_cast<int>(23 - std::min<size_t>(23, (s - 1) * 4)));  // skipped steps never read
  }
  CHECK(test::error_of([&] { loader.epoch(3, 8); }) == "DataLoader::epoch: expected a first step in 1 … 7, got 8");
  CHECK(test::error_of([&] { loader.epoch(0); }) == "DataLoader::epoch: expected an epoch ≥ 1, got 0");
}

TEST_CASE("an exception from get() or the collate reaches the caller at its batch, after the batches before it") {
  for (int prefetch : {0, 2}) {
    INFO("prefetch " << prefetch);
    Numbers data(10);
    data.throw_at = 5;
    DataLoader<int, Batch> loader(data, collect, {.batch_size = 2, .shuffle = false, .prefetch = prefetch});
    auto e = loader.epoch(1);
    CHECK(*e.next() == Batch{0, 1});
    CHECK(*e.next() == Batch{2, 3});
    CHECK(test::error_of([&] { e.next(); }) == "Numbers: example 5 is unreadable");
    CHECK_FALSE(e.next().has_value());  // the epoch ends there

    DataLoader<int, Batch> bad_collate(data,
                                       [](std::vector<int>&&) -> Batch { throw std::runtime_error("collate failed"); },
                                       {.batch_size = 2, .prefetch = prefetch});
    auto f = bad_collate.epoch(1);
    CHECK_THROWS_WITH_AS(f.next(), "collate failed", std::runtime_error);
  }
}

TEST_CASE("destroying an epoch mid-way stops its thread promptly, even with a full queue or a slow get()") {
  Numbers data(1000);
  data.delay = std::chrono::milliseconds(2);
  DataLoader<int, Batch> loader(data, collect, {.batch_size = 10, .prefetch = 3});
  const auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < 5; ++k) {
    auto e = loader.epoch(1);
    e.next();
    std::this_thread::sleep_for(std::chrono::milliseconds(k * 10));  // queue partly or wholly full
  }
  { auto never_read = loader.epoch(2); }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 5.0);             // not the 2 s × 5 the whole epochs would take
  CHECK(data.calls.load() < 1000);  // nowhere near every example was read
}

TEST_CASE("the background thread prepares the next batches while the caller works, at most `prefetch` ahead") {
  Numbers data(100);
  DataLoader<int, Batch> loader(data, collect, {.batch_size = 2, .shuffle = false, .prefetch = 3});
  auto e = loader.epoch(1);
  CHECK(*e.next() == Batch{0, 1});
  // While the caller does not ask, the thread reads the next three batches (6 examples) and then waits.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (data.calls.load() < 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(data.calls.load() == 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(data.calls.load() == 8);  // bounded: no more until a batch is taken
  CHECK(*e.next() == Batch{2, 3});
  while (data.calls.load() < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(data.calls.load() == 10);  // taking one batch lets it read one more: the reading overlaps the caller's work
}

TEST_CASE("VectorDataset gives a vector's elements as examples, and names a bad index") {
  const std::vector<std::string> words{"a", "dog", "runs"};
  nn::VectorDataset<std::string> data(words);
  CHECK(data.size() == 3);
  CHECK(data.get(1) == "dog");
  DataLoader<std::string, std::vector<std::string>> loader(data, [](std::vector<std::string>&& e) { return e; },
                                                           {.batch_size = 2, .shuffle = false});
  auto epoch = loader.epoch(1);
  CHECK(*epoch.next() == std::vector<std::string>{"a", "dog"});
  CHECK(*epoch.next() == std::vector<std::string>{"runs"});
  CHECK(test::error_of([&] { data.get(3); }) == "VectorDataset::get: expected an index below 3, got 3");
  static_assert(!std::is_constructible_v<nn::VectorDataset<int>, std::vector<int>>);
}

TEST_CASE("TensorDataset cuts examples along the first axis and the default collate stacks them back") {
  Tensor x = Tensor::arange(24).reshape({6, 2, 2});
  Tensor y = Tensor::arange(6).reshape({6, 1});
  nn::TensorDataset data({x, y});
  CHECK(data.size() == 6);
  nn::TensorExample e = data.get(4);
  CHECK(e[0].shape() == nn::Shape{2, 2});
  CHECK(e[0].to_vector() == std::vector<float>{16, 17, 18, 19});
  CHECK(e[1].to_vector() == std::vector<float>{4});
  DataLoader<nn::TensorExample> loader(data, {.batch_size = 4, .shuffle = false});
  auto epoch = loader.epoch(1);
  auto batch = epoch.next();
  REQUIRE(batch.has_value());
  CHECK((*batch)[0].shape() == nn::Shape{4, 2, 2});
  CHECK((*batch)[1].to_vector() == std::vector<float>{0, 1, 2, 3});
  CHECK((*epoch.next())[0].to_vector() == std::vector<float>{16, 17, 18, 19, 20, 21, 22, 23});

  CHECK(test::error_of([&] { data.get(6); }) == "TensorDataset::get: expected an index below 6, got 6");
  CHECK(test::error_of([&] {
          nn::TensorDataset({x, Tensor::zeros({5, 1})});
        }) == "TensorDataset: expected tensors with the same first extent (tensor 0 is [6,2,2]), got tensor 1 [5,1]");
  CHECK(test::error_of([&] { nn::TensorDataset({}); }) == "TensorDataset: no tensors given");
  CHECK(test::error_of([&] {
          nn::stack_examples({{x}, {x, y}});
        }) == "stack_examples: expected 1 tensors per example (as example 0), got 2 in example 1");
  CHECK(test::error_of([&] { DataLoader<nn::TensorExample>(data, {.batch_size = 0}); }) ==
        "DataLoader: expected batch_size ≥ 1, got 0");
  CHECK(test::error_of([&] { DataLoader<nn::TensorExample>(data, {.prefetch = -1}); }) ==
        "DataLoader: expected prefetch ≥ 0, got -1");
}
