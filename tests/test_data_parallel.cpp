// What libnn itself does for data-parallel training, without MPI (test_distributed.cpp runs the real thing under
// mpirun): a DataLoader's shards of a batch are the batch, in order; the Trainer with an nn::Parallel refuses a
// batch that would leave a process empty, and a rank other than 0 writes nothing in out_dir while still reducing
// every step's gradients and losses through the Parallel; several processes writing beside each other leave each
// other's temporary files alone.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nn/io/checkpoint.h>
#include <nn/layers/dense.h>
#include <nn/ops/losses.h>
#include <nn/optim/sgd.h>
#include <nn/train/trainer.h>

#include "support/check.h"
#include "support/files.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {

nn::TensorDataset numbers(int64_t n) {  // x = [0, 1, …, n−1] as (n, 1), y the same
  Tensor x = Tensor::zeros({n, 1});
  for (int64_t i = 0; i < n; ++i) x.data()[i] = static_cast<float>(i);
  return nn::TensorDataset({x, x});
}

std::vector<float> values(const Tensor& t) {
  return std::vector<float>(t.data(), t.data() + t.numel());
}

// Rank `rank` of `size` alone: the other ranks contribute nothing to sums, and the gradients stay as they are.
struct LoneRank : nn::Parallel {
  int rank_, size_;
  int broadcasts = 0, averages = 0, sums = 0;
  LoneRank(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void broadcast(nn::Module&) override { ++broadcasts; }
  std::pair<double, double> average_gradients(const std::vector<Tensor>&, double loss, double items) override {
    ++averages;
    return {loss, items};
  }
  void sum(std::vector<double>&) override { ++sums; }
};

}  // namespace

TEST_CASE("the shards of every batch are the batch, in order, whatever the number of shards") {
  nn::TensorDataset data = numbers(11);  // batches of 4, 4 and 3
  nn::DataLoader<nn::TensorExample> loader(data, {.batch_size = 4, .seed = 3});
  for (int count : {1, 2, 3}) {
    std::vector<std::vector<float>> whole, joined;
    for (auto epoch = loader.epoch(2); auto batch = epoch.next();) whole.push_back(values((*batch)[0]));
    std::vector<nn::DataLoader<nn::TensorExample>::Epoch> shards;
    for (int k = 0; k < count; ++k) shards.push_back(loader.epoch(2, 1, {k, count}));
    for (size_t step = 0; step < whole.size(); ++step) {
      std::vector<float> batch;
      for (auto& shard : shards) {
        auto part = shard.next();
        REQUIRE(part);
        const std::vector<float> v = values((*part)[0]);
        batch.insert(batch.end(), v.begin(), v.end());
      }
      joined.push_back(batch);
    }
    CHECK(joined == whole);
  }
  // A batch of 4 in 3 shards: 1, 1 and 2 examples (the cuts n·k/count).
  auto last = loader.epoch(1, 1, {2, 3}).next();
  REQUIRE(last);
  CHECK((*last)[0].dim(0) == 2);
  CHECK(test::error_of([&] {
          loader.epoch(1, 1, {3, 3});
        }) == "DataLoader::epoch: expected a shard index in 0 … count − 1 of count ≥ 1, got 3 of 3");
}

TEST_CASE("with a Parallel, a batch too small to shard is refused, and only rank 0 writes out_dir") {
  nn::Generator gen(1);
  nn::Dense model(nn::DenseOptions{.in = 1, .out = 1}, gen);
  nn::SGD sgd(model.named_parameters(), {.lr = 0.001f});
  auto loss = [&](std::vector<Tensor>& b, const nn::Step&) {
    return nn::BatchLoss{nn::mse_loss(model.forward(b[0]), b[1]), static_cast<double>(b[0].dim(0))};
  };
  nn::TensorDataset data = numbers(9);  // batches of 4: 4, 4 and 1
  nn::DataLoader<nn::TensorExample> loader(data, {.batch_size = 4, .seed = 3});
  test::TempDir dir;
  LoneRank rank1(1, 2);
  nn::Trainer refused(model, sgd, {.epochs = 1, .out_dir = dir.path / "a", .progress = false, .parallel = &rank1});
  CHECK(test::error_of([&] { refused.fit(loader, loss); }) ==
        "train: expected batches of at least one example per process (2; drop_last leaves out a short last batch), "
        "got a batch of 1 of 9 examples");

  nn::DataLoader<nn::TensorExample> even(data, {.batch_size = 4, .drop_last = true, .seed = 3});
  nn::Trainer trainer(model, sgd, {.epochs = 2, .out_dir = dir.path / "b", .progress = false, .parallel = &rank1});
  REQUIRE(trainer.fit(even, loss).size() == 2);
  CHECK(rank1.broadcasts == 1);
  CHECK(rank1.averages == 4);  // 2 steps × 2 epochs
  CHECK(fs::is_empty(dir.path / "b"));
  LoneRank rank0(0, 2);
  nn::Trainer writer(model, sgd, {.epochs = 1, .out_dir = dir.path / "c", .progress = false, .parallel = &rank0});
  writer.fit(even, loss);
  CHECK(fs::exists(dir.path / "c" / "last.nnck"));
  CHECK(fs::exists(dir.path / "c" / "metrics.csv"));
}

TEST_CASE("write_file_atomically removes the temporaries of dead writers, not those of live ones") {
  test::TempDir dir;
  const pid_t dead = ::fork();  // a process that has ended: its pid names no process (until reused, rarely)
  if (dead == 0) ::_exit(0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const fs::path live_tmp = dir.path / ("x.nnck.tmp-" + std::to_string(::getppid()));  // a live process
  const fs::path dead_tmp = dir.path / ("x.nnck.tmp-" + std::to_string(dead));
  std::ofstream(live_tmp) << "another writer, still writing";
  std::ofstream(dead_tmp) << "a torn write";
  nn::write_file_atomically(dir.path / "x.nnck", [](std::FILE* f) { std::fputs("done", f); });
  CHECK(fs::exists(live_tmp));
  CHECK(!fs::exists(dead_tmp));
  CHECK(fs::file_size(dir.path / "x.nnck") == 4);
}
