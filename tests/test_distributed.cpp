// Data-parallel training under mpirun (nn::distributed): ranks of distributed_worker against the same training in
// this one process (captioning::train without parallel: the oracle), and a rank killed with SIGKILL mid-run.
// Built only when CMake found MPI; label mpi.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <captioning/bundle.h>
#include <captioning/trainer.h>
#include <nn/io/checkpoint.h>

#include "support/check.h"
#include "support/distributed_world.h"
#include "support/files.h"

namespace fs = std::filesystem;

namespace {

// The command line of `ranks` ranks of the worker with `args`, bounded by timeout(1) so that a hang fails the test.
std::string mpirun(int ranks, const std::string& args) {
  // As root (CI), Open MPI refuses to start without these; one thread per rank on this small machine; no
  // single-copy shared memory (containers often forbid the ptrace access it needs).
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  ::setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
  ::setenv("NN_NUM_THREADS", "1", 1);
  return "timeout 60 " NN_MPIEXEC " --oversubscribe --bind-to none -np " + std::to_string(ranks) +
         " " DISTRIBUTED_WORKER " " + args;
}

int run(const std::string& command) {
  const int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// "TRAIN_LOSS VAL_LOSS" per epoch, as the worker writes them.
std::vector<std::pair<double, double>> read_history(const fs::path& file) {
  std::vector<std::pair<double, double>> out;
  std::ifstream in(file);
  double train = 0, val = 0;
  while (in >> train >> val) out.emplace_back(train, val);
  return out;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool close(double a, double b) {
  return std::abs(a - b) <= 1e-5 * std::max(1.0, std::abs(b));
}

// Every parameter of `a` equals `b`'s to 1e-5; returns the largest difference (for the message).
double max_difference(const captioning::CaptionModel& a, const captioning::CaptionModel& b) {
  double worst = 0;
  const nn::NamedTensors pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    REQUIRE(pa[i].second.numel() == pb[i].second.numel());
    for (int64_t k = 0; k < pa[i].second.numel(); ++k) {
      const double x = pa[i].second.data()[k], y = pb[i].second.data()[k];
      worst = std::max(worst, std::abs(x - y) / std::max(1.0, std::abs(y)));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("2 ranks equal 1 process: 20 Adam steps of the merge model at global batch 64, losses and weights") {
  test::DistributedWorld world(64, 64);  // one step per epoch: the epochs' losses are the steps' losses
  captioning::TrainConfig config{.epochs = 20, .batch_size = 64, .learning_rate = 0.01f, .seed = 5};
  captioning::CaptionModel oracle(world.model_options());
  const auto history =
      captioning::train(oracle, world.tokenizer, world.features, world.train_set, world.val_set, config);
  REQUIRE(history.size() == 20);
  CHECK(history.back().train_loss < 0.8 * history.front().train_loss);  // it learnt: the comparison means something

  test::TempDir dir("nn_distributed");
  const std::string args = "--train-images 64 --val-images 64 --batch 64 --epochs 20 --history " +
                           (dir.path / "history").string() + " --weights ";
  REQUIRE(run(mpirun(2, args + (dir.path / "a.nnck").string())) == 0);
  const auto ranks = read_history(dir.path / "history");
  REQUIRE(ranks.size() == history.size());
  for (size_t e = 0; e < history.size(); ++e) {
    INFO("epoch " << e + 1 << ": 1 process " << history[e].train_loss << " / " << history[e].val_loss << ", 2 ranks "
                  << ranks[e].first << " / " << ranks[e].second);
    CHECK(close(ranks[e].first, history[e].train_loss));
    CHECK(close(ranks[e].second, history[e].val_loss));
  }
  captioning::CaptionModel trained(world.model_options());
  nn::load(dir.path / "a.nnck", trained);
  const double difference = max_difference(trained, oracle);
  INFO("largest relative weight difference " << difference);
  CHECK(difference <= 1e-5);

  // A fixed number of ranks repeats to the bit.
  REQUIRE(run(mpirun(2, args + (dir.path / "b.nnck").string())) == 0);
  CHECK(read_bytes(dir.path / "a.nnck") == read_bytes(dir.path / "b.nnck"));
}

TEST_CASE("a rank killed with SIGKILL ends the job within the bound, and the checkpoint resumes on 2 and on 1 rank") {
  const int epochs = 6;  // the kill lands mid-epoch 2: a margin for a slow machine before the run would end
  test::DistributedWorld world(320, 0);  // 5 steps of 64 per epoch
  test::TempDir dir("nn_distributed");
  const fs::path out = dir.path / "run";
  const std::string args =
      "--train-images 320 --batch 64 --epochs " + std::to_string(epochs) + " --out " + out.string();
  const pid_t job = ::fork();
  REQUIRE(job >= 0);
  if (job == 0) {
    const std::string command = mpirun(2, args + " --delay-ms 4 --pid-dir " + dir.path.string()) + " 2>/dev/null";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Once epoch 1's checkpoint is in place, kill rank 1 (mid-epoch 2: an epoch takes about half a second).
  const auto started = std::chrono::steady_clock::now();
  while (!fs::exists(out / "last.nnck") && std::chrono::steady_clock::now() - started < std::chrono::seconds(40))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(fs::exists(out / "last.nnck"));
  pid_t rank1 = 0;
  std::ifstream(dir.path / "pid-1") >> rank1;
  REQUIRE(rank1 > 0);
  REQUIRE(::kill(rank1, SIGKILL) == 0);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  REQUIRE(::waitpid(job, &status, 0) == job);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  MESSAGE("the job ended " << seconds << " s after the kill");
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 124));  // not by timeout(1): mpirun ended it
  CHECK(seconds < 20.0);

  // The last checkpoint is whole and mid-run; resumed on 2 ranks and (a copy) on 1, both end where one
  // uninterrupted process ends.
  captioning::CaptionModel check(world.model_options());
  const captioning::Texts texts = captioning::load_bundle_into(out / "last.nnck", check);
  const std::string* epoch = captioning::find_text(texts, "train.epoch");
  REQUIRE(epoch != nullptr);
  CHECK(std::stoi(*epoch) >= 1);
  CHECK(std::stoi(*epoch) < epochs);
  fs::copy(out, dir.path / "run1", fs::copy_options::recursive);
  const std::string resume = "--train-images 320 --batch 64 --epochs " + std::to_string(epochs) + " --resume";
  REQUIRE(run(mpirun(2, resume + " --out " + out.string() + " --weights " + (dir.path / "2.nnck").string())) == 0);
  REQUIRE(run(mpirun(1, resume + " --out " + (dir.path / "run1").string() + " --weights " +
                            (dir.path / "1.nnck").string())) == 0);

  captioning::TrainConfig config{.epochs = epochs, .batch_size = 64, .learning_rate = 0.01f, .seed = 5};
  captioning::CaptionModel oracle(world.model_options());
  captioning::train(oracle, world.tokenizer, world.features, world.train_set, world.val_set, config);
  for (const char* file : {"2.nnck", "1.nnck"}) {
    captioning::CaptionModel resumed(world.model_options());
    nn::load(dir.path / file, resumed);
    const double difference = max_difference(resumed, oracle);
    INFO(file << ": largest relative weight difference " << difference);
    CHECK(difference <= 1e-5);
  }
}

TEST_CASE("an error on one rank is reported once and ends the job, while the other waits in a reduction") {
  test::TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  const int status =
      std::system((mpirun(2, "--fail-on-rank 1") + " > " + (dir.path / "log").string() + " 2>&1").c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("the job took " << seconds << " s");
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(WEXITSTATUS(status) != 124);  // ended by mpirun, not by timeout(1)
  CHECK(seconds < 20.0);
  const std::string log = read_bytes(dir.path / "log");
  const std::string message = "distributed_worker: a bad file on rank 1";
  INFO(log);
  REQUIRE(log.find(message) != std::string::npos);
  CHECK(log.find(message) == log.rfind(message));
}
