// Crash-safe training, end to end through the train_flickr8k and train_shapes programs (both on nn::Trainer) on a small
// synthetic data set in Flickr8k's layout (captioning/synthetic.h: 20 training images with 5 captions each, as many
// steps as 20 Flickr8k images): killed (SIGKILL) in the middle of an epoch, in the middle of a checkpoint write, or of
// a feature-cache append, then run again with --resume, it ends with exactly the weights of an uninterrupted run with
// the same seed; Ctrl-C stops it after saving, and --resume continues from that very step. Faults are placed with
// NN_FAULT_KILL (nn/io/fault.h).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <captioning/feature_cache.h>
#include <captioning/synthetic.h>
#include <nn/io/checkpoint.h>
#include <nn/models/xception.h>

#include "support/files.h"

namespace fs = std::filesystem;

namespace {

// The data set, written once per test run.
const fs::path& data_set() {
  static test::TempDir dir("nn_crash_data");
  static const bool written = [] {
    captioning::write_synthetic_flickr8k(dir.path,
                                         {.train = 20, .dev = 4, .test = 4, .seed = 5, .captions_per_image = 5});
    return true;
  }();
  (void)written;
  return dir.path;
}

struct Outcome {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  std::string log;
};

// Runs the program args[0] with its output to `log` (stderr) and /dev/null (stdout), with NN_FAULT_KILL=fault if
// given.
Outcome run(std::vector<std::string> args, const fs::path& log, const std::string& fault) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!fault.empty()) ::setenv("NN_FAULT_KILL", fault.c_str(), 1);
    if (!std::freopen(log.c_str(), "w", stderr) || !std::freopen("/dev/null", "w", stdout)) ::_exit(126);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome o;
  if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  o.log = s.str();
  return o;
}

// Runs train_flickr8k into `out` (3 epochs of 4 steps on 20 training images), with NN_FAULT_KILL=fault if given.
Outcome train(const fs::path& out, const std::string& fault, bool resume) {
  std::vector<std::string> args{TRAIN_FLICKR8K, "--data",     data_set().string(),
                                "--out",        out.string(), "--random-xception-width",
                                "0.03125",      "--epochs",   "3",
                                "--batch-size", "32",         "--limit",
                                "20",           "--seed",     "5",
                                "--no-progress"};
  if (resume) args.push_back("--resume");
  return run(args, out.string() + ".log", fault);
}

// Runs train_shapes into `out`: a world of 10 training images (written into `world` by the first run), the smallest
// CNN, 2 epochs of 3 steps (batch 16).
Outcome train_shapes(const fs::path& world, const fs::path& out, const std::string& fault, bool resume) {
  std::vector<std::string> args{
      TRAIN_SHAPES, "--data",       world.string(), "--out",           out.string(), "--images",
      "10",         "--width",      "0.0625",       "--middle-blocks", "0",          "--epochs",
      "2",          "--batch-size", "16",           "--seed",          "3",          "--no-progress"};
  if (resume) args.push_back("--resume");
  return run(args, out.string() + ".log", fault);
}

// Every tensor of the two checkpoints, compared exactly.
void check_same_weights(const fs::path& a, const fs::path& b) {
  const nn::Checkpoint x = nn::read_checkpoint(a), y = nn::read_checkpoint(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    INFO(x.tensors[i].first);
    REQUIRE(x.tensors[i].first == y.tensors[i].first);
    CHECK(x.tensors[i].second.to_vector() == y.tensors[i].second.to_vector());
  }
}

std::string text_of(const fs::path& checkpoint, const std::string& key) {
  for (const auto& [k, v] : nn::read_checkpoint_texts(checkpoint))
    if (k == key) return v;
  return "";
}

// "EPOCH TRAIN_LOSS VAL_LOSS" of every epoch in the checkpoint's history (without the times, which differ).
std::vector<std::string> losses_of(const fs::path& checkpoint) {
  std::istringstream in(text_of(checkpoint, "train.history"));
  std::vector<std::string> out;
  std::string epoch, train_loss, val_loss, rest;
  while (in >> epoch >> train_loss >> val_loss && std::getline(in, rest))
    out.push_back(epoch + " " + train_loss + " " + val_loss);
  return out;
}

// Whether `dir` holds a temporary of an atomic write (of `file` only, when given).
bool has_temporaries(const fs::path& dir, const std::string& file = "") {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos && name.starts_with(file)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("killed mid-epoch, mid-checkpoint or mid-cache-append, training resumes to the uninterrupted result") {
  data_set();                            // written before any fork
  static test::TempDir dir("nn_crash");  // one uninterrupted reference run for every subcase
  static const Outcome reference = train(dir.path / "reference", "", false);
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.log);

  SUBCASE("SIGKILL before the 6th training step (epoch 2, step 2)") {
    const fs::path out = dir.path / "killed_step";
    const Outcome killed = train(out, "train_step:6", false);
    CHECK(killed.signal == SIGKILL);
    CHECK(text_of(out / "last.nnck", "train.epoch") == "1");  // the last complete checkpoint
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
    check_same_weights(out / "best.nnck", dir.path / "reference" / "best.nnck");
  }
  // Atomic writes: descriptions.txt, features.bin's header, then per epoch best.nnck (when validation improves, as it
  // does in every epoch here), last.nnck, metrics.csv, metrics.jsonl, loss.svg.
  SUBCASE("SIGKILL while epoch 2's last.nnck is being written") {
    const fs::path out = dir.path / "killed_write";
    const Outcome killed = train(out, "checkpoint_write:9", false);  // the 9th: epoch 2's last.nnck
    CHECK(killed.signal == SIGKILL);
    CHECK(has_temporaries(out, "last.nnck.tmp-"));                     // the torn temporary …
    CHECK(nn::read_checkpoint(out / "last.nnck").tensors.size() > 0);  // … never replaced the good checkpoint
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK_FALSE(has_temporaries(out));  // and is cleaned up by the next write
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
  SUBCASE("SIGKILL while the last epoch's best.nnck is being written: --resume redoes the epoch and writes it") {
    const fs::path out = dir.path / "killed_best";
    const Outcome killed = train(out, "checkpoint_write:13", false);  // the 13th: epoch 3's best.nnck
    CHECK(killed.signal == SIGKILL);
    CHECK(has_temporaries(out, "best.nnck.tmp-"));            // killed in that very write
    CHECK(text_of(out / "last.nnck", "train.epoch") == "2");  // epoch 3 is not counted as done
    CHECK(text_of(out / "best.nnck", "train.epoch") == "2");
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK(text_of(out / "best.nnck", "train.epoch") == "3");
    check_same_weights(out / "best.nnck", dir.path / "reference" / "best.nnck");
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
  SUBCASE("SIGKILL in the middle of appending a batch of features") {
    const fs::path out = dir.path / "killed_cache";
    const Outcome killed = train(out, "feature_append:2", false);
    CHECK(killed.signal == SIGKILL);
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK(resumed.log.find("dropped") != std::string::npos);  // the torn record was found and recomputed
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
  SUBCASE("Ctrl-C stops after saving mid-epoch; --resume continues from that step") {
    const fs::path out = dir.path / "interrupted";
    const Outcome stopped = train(out, "train_step:7:INT", false);
    CHECK(stopped.exit_code == 130);
    CHECK(stopped.log.find("train_flickr8k: train: stopped on request at epoch 2, step 3; saved " +
                           (out / "last.nnck").string() + " (--resume continues there)") != std::string::npos);
    CHECK(text_of(out / "last.nnck", "train.partial").rfind("2 3 ", 0) == 0);
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK(resumed.log.find("train: resuming at epoch 2, step 4") != std::string::npos);  // step 3 was the last done
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
  SUBCASE("Ctrl-C during feature extraction keeps the features saved; --resume reuses them and says so") {
    const fs::path out = dir.path / "interrupted_features";
    // Batches of 2 images (ExtractOptions::chunk): the SIGINT arrives inside the 2nd append, which completes, and
    // extraction stops after it with 2 × 2 of the 20 + 4 + 4 images saved.
    const Outcome stopped = train(out, "feature_append:2:INT", false);
    CHECK(stopped.exit_code == 130);
    CHECK(stopped.log.find("train_flickr8k: stopped: features of 4 of 28 images cached; run the same command with "
                           "--resume to continue") != std::string::npos);
    CHECK_FALSE(fs::exists(out / "last.nnck"));  // stopped before training
    const Outcome resumed = train(out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK(resumed.log.find("features: 4 of 28 cached; continuing") != std::string::npos);
    CHECK(resumed.log.find("features: 24 computed, 4 from the cache") != std::string::npos);
    CHECK(resumed.log.find("dropped") == std::string::npos);  // nothing torn: the stop came between batches
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
}

TEST_CASE("features of converted weights are keyed by their content: an equivalent path or an old label keeps them") {
  data_set();  // written before any fork
  test::TempDir dir("nn_crash_weights");
  const fs::path weights = dir.path / "w" / "xception_notop.nnck", out = dir.path / "run";
  {
    nn::Generator gen(9);
    fs::create_directories(weights.parent_path());
    nn::save_xception(weights, nn::Xception({.width = 1.0f / 32, .middle_blocks = 1}, gen));
  }
  auto run_with = [&](const fs::path& xception, int epochs, bool resume) {
    std::vector<std::string> args{TRAIN_FLICKR8K,
                                  "--data",
                                  data_set().string(),
                                  "--out",
                                  out.string(),
                                  "--xception",
                                  xception.string(),
                                  "--epochs",
                                  std::to_string(epochs),
                                  "--batch-size",
                                  "32",
                                  "--limit",
                                  "20",
                                  "--seed",
                                  "5",
                                  "--no-progress"};
    if (resume) args.push_back("--resume");
    return run(args, out.string() + ".log", "");
  };
  const Outcome first = run_with(weights, 1, false);
  REQUIRE_MESSAGE(first.exit_code == 0, first.log);
  const std::string label = text_of(out / "best.nnck", "features.extractor");
  CHECK(label.rfind("xception sha256=", 0) == 0);  // the content, not the path
  CHECK(label.find(weights.parent_path().string()) == std::string::npos);
  CHECK(text_of(out / "best.nnck", "features.weights") == "xception_notop.nnck");
  // model.nnck, the bundle describe loads, is best.nnck's model without the training state: the same model
  // tensors, no optimizer/ or scheduler/ entries, no train.* texts, the same features texts.
  {
    const nn::Checkpoint model = nn::read_checkpoint(out / "model.nnck"), best = nn::read_checkpoint(out / "best.nnck");
    std::vector<std::pair<std::string, std::vector<float>>> from_best;
    for (const auto& [name, t] : best.tensors)
      if (!name.starts_with("optimizer/") && !name.starts_with("scheduler/"))
        from_best.emplace_back(name, t.to_vector());
    REQUIRE(model.tensors.size() == from_best.size());
    for (size_t i = 0; i < from_best.size(); ++i) {
      CHECK(model.tensors[i].first == from_best[i].first);
      CHECK(model.tensors[i].second.to_vector() == from_best[i].second);
    }
    CHECK(text_of(out / "model.nnck", "features.extractor") == label);
    CHECK(text_of(out / "model.nnck", "features.weights") == "xception_notop.nnck");
    CHECK(text_of(out / "model.nnck", "train.epoch").empty());
    CHECK(fs::file_size(out / "model.nnck") < fs::file_size(out / "best.nnck") / 2);
  }

  // The same weights by an equivalent path: every feature comes from the cache.
  const Outcome equivalent = run_with(dir.path / "w" / ".." / "w" / "xception_notop.nnck", 2, true);
  REQUIRE_MESSAGE(equivalent.exit_code == 0, equivalent.log);
  CHECK(equivalent.log.find("features: 28 of 28 cached") != std::string::npos);
  CHECK(equivalent.log.find("features: 0 computed, 28 from the cache") != std::string::npos);

  // A cache written before labels named the content ("xception /abs/path filter=nearest") is relabelled, not refused.
  const std::string old_label = "xception " + fs::absolute(weights).string() + " filter=nearest";
  const int64_t dim = nn::load_xception(weights)->feature_channels();
  captioning::FeatureCache(out / "features.bin", dim, old_label,
                           [](const std::string&, const captioning::FeatureCache&) { return true; });
  const Outcome relabelled = run_with(weights, 3, true);
  REQUIRE_MESSAGE(relabelled.exit_code == 0, relabelled.log);
  CHECK(relabelled.log.find("features: the cache labelled '" + old_label + "' was relabelled '" + label + "'") !=
        std::string::npos);
  CHECK(relabelled.log.find("features: 0 computed, 28 from the cache") != std::string::npos);

  // Other weights under the old label's scheme are still refused, naming both labels.
  const std::string other_label = "xception " + (dir.path / "other.nnck").string() + " filter=nearest";
  captioning::FeatureCache(out / "features.bin", dim, other_label,
                           [](const std::string&, const captioning::FeatureCache&) { return true; });
  const Outcome refused = run_with(weights, 3, true);
  CHECK(refused.exit_code == 1);
  CHECK(refused.log.find("from '" + label + "', got " + std::to_string(dim) + " values from '" + other_label + "'") !=
        std::string::npos);

  // The old label's path names the weights file, but the file was rewritten with other weights since: the features
  // of a cached image, computed again, differ, and the cache is refused rather than relabelled.
  captioning::FeatureCache(out / "features.bin", dim, old_label,
                           [](const std::string&, const captioning::FeatureCache&) { return true; });
  {
    nn::Generator gen(10);
    nn::save_xception(weights, nn::Xception({.width = 1.0f / 32, .middle_blocks = 1}, gen));
  }
  const Outcome rewritten = run_with(weights, 3, true);
  CHECK(rewritten.exit_code == 1);
  CHECK(rewritten.log.find("values from '" + old_label + "' (delete it to recompute)") != std::string::npos);
  CHECK(rewritten.log.find("was relabelled") == std::string::npos);
}

TEST_CASE("train_shapes, on the same Trainer: killed mid-epoch or stopped by Ctrl-C, it resumes bit-identically") {
  static test::TempDir dir("nn_crash_shapes");  // one world and one uninterrupted reference run for every subcase
  const fs::path world = dir.path / "world";
  static const Outcome reference = train_shapes(world, dir.path / "reference", "", false);  // writes the world
  REQUIRE_MESSAGE(reference.exit_code == 0, reference.log);

  SUBCASE("SIGKILL before the 5th training step (epoch 2, step 2)") {
    const fs::path out = dir.path / "killed_step";
    const Outcome killed = train_shapes(world, out, "train_step:5", false);
    CHECK(killed.signal == SIGKILL);
    CHECK(text_of(out / "last.nnck", "train.epoch") == "1");
    const Outcome again = train_shapes(world, out, "", false);  // not over an existing run without --resume
    CHECK(again.exit_code == 1);
    CHECK(again.log.find("train_shapes: train: " + out.string() + " already holds a training run (last.nnck)") !=
          std::string::npos);
    const Outcome resumed = train_shapes(world, out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
    check_same_weights(out / "best.nnck", dir.path / "reference" / "best.nnck");
    CHECK(losses_of(out / "last.nnck") == losses_of(dir.path / "reference" / "last.nnck"));
  }
  SUBCASE("SIGKILL while epoch 1's last.nnck is being written") {
    // Atomic writes per epoch: best.nnck (epoch 1 always improves), last.nnck, metrics.csv, metrics.jsonl, loss.svg;
    // the world's files are written without fault points.
    const fs::path out = dir.path / "killed_write";
    const Outcome killed = train_shapes(world, out, "checkpoint_write:2", false);
    CHECK(killed.signal == SIGKILL);
    CHECK(has_temporaries(out, "last.nnck.tmp-"));
    CHECK_FALSE(fs::exists(out / "last.nnck"));  // nothing complete yet: --resume starts from the beginning
    const Outcome resumed = train_shapes(world, out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    CHECK_FALSE(has_temporaries(out));
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
  }
  SUBCASE("Ctrl-C stops after saving mid-epoch; --resume continues from that step") {
    const fs::path out = dir.path / "interrupted";
    const Outcome stopped = train_shapes(world, out, "train_step:4:INT", false);
    CHECK(stopped.exit_code == 130);
    CHECK(stopped.log.find("train_shapes: train: stopped on request at epoch 2, step 1; saved " +
                           (out / "last.nnck").string() + " (--resume continues there)") != std::string::npos);
    CHECK(text_of(out / "last.nnck", "train.partial").rfind("2 1 ", 0) == 0);
    const Outcome resumed = train_shapes(world, out, "", true);
    REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.log);
    check_same_weights(out / "last.nnck", dir.path / "reference" / "last.nnck");
    check_same_weights(out / "best.nnck", dir.path / "reference" / "best.nnck");
  }
}

TEST_CASE("Xception converted with the ImageNet top is refused at the start, before any feature is extracted") {
  data_set();  // written before any fork
  test::TempDir dir("nn_crash_top");
  const fs::path weights = dir.path / "xception_top.nnck", out = dir.path / "run";
  {
    nn::Generator gen(9);
    nn::save_xception(weights,
                      nn::Xception({.include_top = true, .width = 1.0f / 32, .middle_blocks = 1, .classes = 10}, gen));
  }
  const Outcome refused = run({TRAIN_FLICKR8K, "--data", data_set().string(), "--out", out.string(), "--xception",
                               weights.string(), "--epochs", "1", "--no-progress"},
                              dir.path / "run.log", "");
  CHECK(refused.exit_code == 1);
  CHECK(refused.log.find(weights.string() + ": holds Xception with the ImageNet classifier") != std::string::npos);
  CHECK(refused.log.find("notop") != std::string::npos);  // names the file to use instead
  CHECK_FALSE(fs::exists(out / "features.bin"));          // nothing was extracted (or even written)
  CHECK_FALSE(fs::exists(out / "descriptions.txt"));
}
