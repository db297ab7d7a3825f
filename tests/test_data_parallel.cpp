// What libnn itself does for data-parallel training, without MPI (test_distributed.cpp runs the real thing under
// mpirun): a DataLoader's shards of a batch are the batch, in order; the Trainer with an nn::Parallel refuses a
// batch that would leave a process empty, and a rank other than 0 writes nothing in out_dir while still reducing
// every step's gradients and losses through the Parallel; several processes writing beside each other leave each
// other's temporary files alone; a synchronised batch_norm on two threads standing in for two processes is the
// one-process batch_norm on the whole batch.
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nn/io/checkpoint.h>
#include <nn/layers/batch_norm.h>
#include <nn/layers/dense.h>
#include <nn/layers/sequential.h>
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

// Two threads as the two processes of a job: sum() adds both threads' values, in rank order, once both are there.
struct TwoThreads {
  std::barrier<> meet{2};
  std::vector<double> slots[2];
};
struct ThreadSync : nn::BatchNormSync {
  TwoThreads& both;
  int rank;
  double weight;
  int sums = 0;
  ThreadSync(TwoThreads& t, int r, double w) : both(t), rank(r), weight(w) {}
  void sum(std::vector<double>& values) override {
    ++sums;
    both.slots[rank] = values;
    both.meet.arrive_and_wait();
    for (size_t i = 0; i < values.size(); ++i) values[i] = both.slots[0][i] + both.slots[1][i];
    both.meet.arrive_and_wait();  // both have read the slots before either writes the next sum
  }
  double gradient_weight() const override { return weight; }
};

double max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]));
  return worst;
}

}  // namespace

TEST_CASE("synchronised batch_norm on two processes (threads) is batch_norm on the whole batch, forward and backward") {
  // Shards of 5 and 9 rows of x (·, 2, C=3); each process's loss is Σ y⊙u over its rows / its items (2 and 7: as a
  // masked loss's words, not its rows), and the job's loss their items-weighted mean, Σ y⊙u / 9 over the whole batch.
  nn::Generator gen(7);
  const Tensor x = Tensor::randn({14, 2, 3}, gen) * 3.0f + 1.5f, u = Tensor::randn({14, 2, 3}, gen);
  const Tensor gamma = Tensor::randn({3}, gen), beta = Tensor::randn({3}, gen);
  const int64_t cut[3] = {0, 5, 14};
  const double items[2] = {2, 7};

  // The oracle: one process on the whole batch (batch_norm itself is checked against TensorFlow in
  // test_conv_reference).
  Tensor xw = x.clone().set_requires_grad(), gw = gamma.clone().set_requires_grad(),
         bw = beta.clone().set_requires_grad();
  Tensor mean = Tensor::zeros({3}), variance = Tensor::ones({3});
  const Tensor yw = nn::batch_norm(xw, gw, bw, mean, variance, {.training = true, .momentum = 0.5f});
  nn::sum(yw * u * float(1.0 / (items[0] + items[1]))).backward();

  TwoThreads both;
  struct Rank {
    Tensor x, gamma, beta, mean = Tensor::zeros({3}), variance = Tensor::ones({3}), y;
    int sums = 0;
  } ranks[2];
  auto run = [&](int r) {
    ThreadSync sync(both, r, items[r] / (items[0] + items[1]));
    Rank& k = ranks[r];
    k.x = nn::slice(x, 0, cut[r], cut[r + 1]).clone().set_requires_grad();
    k.gamma = gamma.clone().set_requires_grad(), k.beta = beta.clone().set_requires_grad();
    k.y = nn::batch_norm(k.x, k.gamma, k.beta, k.mean, k.variance, {.training = true, .momentum = 0.5f, .sync = &sync});
    nn::sum(k.y * nn::slice(u, 0, cut[r], cut[r + 1]) * float(1.0 / items[r])).backward();
    k.sums = sync.sums;
  };
  std::thread other(run, 1);
  run(0);
  other.join();

  for (int r = 0; r < 2; ++r) {
    INFO("process " << r);
    CHECK(ranks[r].sums == 2);  // one in the forward, one in the backward
    CHECK(max_difference(ranks[r].y, nn::slice(yw, 0, cut[r], cut[r + 1])) < 1e-5);
    CHECK(max_difference(ranks[r].mean, mean) < 1e-6);  // every process's moving statistics are the oracle's
    CHECK(max_difference(ranks[r].variance, variance) < 1e-6);
    // This process's dx is its rows' part of the job's, in units of its own loss: times its weight, the oracle's.
    const float weight = float(items[r] / (items[0] + items[1]));
    CHECK(max_difference(ranks[r].x.grad() * weight, nn::slice(xw.grad(), 0, cut[r], cut[r + 1])) < 1e-6);
  }
  // dγ and dβ, weighted and summed as average_gradients does, are the oracle's.
  const float w0 = float(items[0] / 9), w1 = float(items[1] / 9);
  CHECK(max_difference(ranks[0].gamma.grad() * w0 + ranks[1].gamma.grad() * w1, gw.grad()) < 1e-5);
  CHECK(max_difference(ranks[0].beta.grad() * w0 + ranks[1].beta.grad() * w1, bw.grad()) < 1e-5);
}

TEST_CASE("the Trainer's sync_batch_norm links every BatchNorm to the Parallel for the length of fit") {
  nn::Generator gen(1);
  nn::Sequential model{nn::Dense({.in = 1, .out = 1}, gen), nn::BatchNorm({.channels = 1})};
  nn::SGD sgd(model.named_parameters(), {.lr = 0.001f});
  auto loss = [&](std::vector<Tensor>& b, const nn::Step&) {
    return nn::BatchLoss{nn::mse_loss(model.forward(b[0]), b[1]), static_cast<double>(b[0].dim(0))};
  };
  nn::TensorDataset data = numbers(8);
  nn::DataLoader<nn::TensorExample> loader(data, {.batch_size = 4, .seed = 3});
  LoneRank rank1(1, 2);
  nn::Trainer trainer(model, sgd, {.epochs = 1, .progress = false, .parallel = &rank1, .sync_batch_norm = true});
  trainer.fit(loader, loss);
  CHECK(rank1.sums == 2 * 3);  // per step: the BatchNorm's forward and backward sums, and the items before backward
  model.forward(Tensor::ones({4, 1}));  // after fit: this process's batch alone again
  CHECK(rank1.sums == 6);
  nn::Trainer local(model, sgd, {.epochs = 1, .progress = false, .parallel = &rank1});
  local.fit(loader, loss);
  CHECK(rank1.sums == 6);  // rank-local by default
}

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
