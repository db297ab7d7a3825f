// nn::Trainer on a tiny model of its own (no captioning): resume and stop mid-epoch or between epochs with the
// schedule's state, refusal to overwrite and what overwrite removes, which epoch is best (best.nnck, metrics, log),
// early stopping, metrics files, modes, callbacks, clipping, crafted checkpoint texts; the progress line and the
// loss plot.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include <nn/io/checkpoint.h>
#include <nn/layers/dense.h>
#include <nn/layers/dropout.h>
#include <nn/ops/losses.h>
#include <nn/optim/adam.h>
#include <nn/optim/sgd.h>
#include <nn/train/progress.h>
#include <nn/train/trainer.h>

#include "support/check.h"
#include "support/files.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {

// y = x·w + noise through Dense(3→8) → Dropout → Dense(8→1); records the mode each forward ran in.
struct Tiny : nn::Module {
  std::shared_ptr<nn::Dense> a, b;
  std::shared_ptr<nn::Dropout> drop;
  std::vector<bool> modes_in_training, modes_in_validation;
  bool validating = false;
  Tiny() {
    nn::Generator gen(3);
    a = register_module("a", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 3, .out = 8}, gen));
    drop = register_module("drop", std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.25f}));
    b = register_module("b", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 8, .out = 1}, gen));
  }
  Tensor forward(const Tensor& x) {
    (validating ? modes_in_validation : modes_in_training).push_back(is_training());
    return b->forward(drop->forward(a->forward(x)));
  }
};

struct TinyData {
  nn::TensorDataset train, val;
  static nn::TensorDataset make(int64_t n, uint64_t seed) {
    nn::Generator gen(seed);
    Tensor x = Tensor::uniform({n, 3}, -1, 1, gen);
    Tensor y = Tensor::zeros({n, 1});
    for (int64_t i = 0; i < n; ++i)
      y.data()[i] = 0.5f * x.data()[3 * i] - x.data()[3 * i + 1] + 0.25f * x.data()[3 * i + 2] + 0.1f;
    return nn::TensorDataset({x, y});
  }
  TinyData() : train(make(40, 1)), val(make(12, 2)) {}
};

// Halves Adam's rate every `every` steps: state is the step count.
struct HalvingSchedule : nn::LRScheduler {
  nn::Adam& adam;
  int every, steps = 0;
  float base;
  HalvingSchedule(nn::Adam& a, int every) : adam(a), every(every), base(a.options().lr) {}
  void after_step() override {
    ++steps;
    adam.options().lr = base * std::pow(0.5f, static_cast<float>(steps / every));
  }
  nn::NamedTensors state() const override { return {{"steps", Tensor::from_data({1}, {static_cast<float>(steps)})}}; }
  void load_state(const nn::NamedTensors& s) override {
    steps = static_cast<int>(s.at(0).second.item());
    adam.options().lr = base * std::pow(0.5f, static_cast<float>(steps / every));
  }
  std::string to_string() const override { return "Halving"; }
};

// One tiny run: model, optimiser, schedule and trainer together, as a program would build them.
struct Run {
  Tiny model;
  nn::Adam adam{model.named_parameters(), {.lr = 0.05f}};
  HalvingSchedule schedule{adam, 4};
  nn::Trainer trainer;
  explicit Run(nn::TrainerOptions o)
      : trainer(
            model, adam,
            [&] {
              o.reseed = [this](uint64_t seed) { model.drop->reseed(seed); };
              o.progress = false;
              return o;
            }(),
            &schedule) {}
  std::vector<nn::EpochResult> fit(const TinyData& d, const std::vector<double>& fixed_val = {}) {
    nn::DataLoader<nn::TensorExample> train(d.train, {.batch_size = 8, .seed = 4});
    nn::DataLoader<nn::TensorExample> val(d.val, {.batch_size = 5, .shuffle = false});
    return trainer.fit(train, &val, [&](std::vector<Tensor>& b, const nn::Step& s) {
      model.validating = !s.training;
      if (!s.training && !fixed_val.empty())  // a scripted validation curve
        return nn::BatchLoss{Tensor::scalar(static_cast<float>(fixed_val.at(s.epoch - 1))), 1.0};
      return nn::BatchLoss{nn::mse_loss(model.forward(b[0]), b[1]), static_cast<double>(b[0].dim(0))};
    });
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("nn::Trainer: resumed after an epoch or stopped mid-epoch, a run ends bit-identical, schedule included") {
  TinyData d;
  test::TempDir dir;
  Run full({.epochs = 4, .out_dir = dir.path / "full", .seed = 9});
  const std::vector<nn::EpochResult> history = full.fit(d);
  REQUIRE(history.size() == 4);
  CHECK(history.back().train_loss < history.front().train_loss);
  CHECK(full.schedule.steps == 20);  // 5 steps × 4 epochs
  CHECK(full.adam.options().lr == 0.05f / 32);

  {
    Run half({.epochs = 2, .out_dir = dir.path / "resumed", .seed = 9});
    half.fit(d);
  }
  Run rest({.epochs = 4, .out_dir = dir.path / "resumed", .resume = true, .seed = 9});  // fresh weights, as a process
  const std::vector<nn::EpochResult> resumed = rest.fit(d);
  REQUIRE(resumed.size() == 4);
  CHECK(test::all_weights(rest.model) == test::all_weights(full.model));
  CHECK(rest.schedule.steps == 20);
  CHECK(rest.adam.steps() == full.adam.steps());
  CHECK(resumed.back().train_loss == history.back().train_loss);
  CHECK(resumed.back().val_loss == history.back().val_loss);

  // A stop request at the 8th question saves mid-epoch; resuming finishes the same run. The question is asked after
  // every step but an epoch's last, and after each epoch's checkpoints, so the 8th is after epoch 2's step 3.
  int asked = 0;
  {
    Run stopped({.epochs = 4, .out_dir = dir.path / "stopped", .seed = 9, .stop = [&] { return ++asked == 8; }});
    CHECK(test::error_of([&] { stopped.fit(d); }) == "train: stopped on request at epoch 2, step 3; saved " +
                                                         (dir.path / "stopped" / "last.nnck").string() +
                                                         " (--resume continues there)");
    CHECK(stopped.schedule.steps == 8);
  }
  const auto texts = nn::read_checkpoint_texts(dir.path / "stopped" / "last.nnck");
  auto text = [&](const std::string& key) {
    for (const auto& [k, v] : texts)
      if (k == key) return v;
    return std::string("(none)");
  };
  CHECK(text("train.epoch") == "1");
  CHECK(text("train.partial").rfind("2 3 ", 0) == 0);
  const nn::Checkpoint stopped_file = nn::read_checkpoint(dir.path / "stopped" / "last.nnck");
  REQUIRE(stopped_file.find("scheduler/steps") != nullptr);
  CHECK(stopped_file.find("scheduler/steps")->to_vector() == std::vector<float>{8});  // the schedule's 8 steps
  Run after({.epochs = 4, .out_dir = dir.path / "stopped", .resume = true, .seed = 9});
  const std::vector<nn::EpochResult> finished = after.fit(d);
  CHECK(test::all_weights(after.model) == test::all_weights(full.model));
  CHECK(finished.back().train_loss == history.back().train_loss);
  CHECK(finished[1].train_loss == history[1].train_loss);  // the split epoch's mean over both parts
  CHECK(after.schedule.steps == 20);

  // The checkpoints hold the optimiser's and the schedule's states (nn::save's "optimizer/…", "scheduler/…").
  nn::Checkpoint last = nn::read_checkpoint(dir.path / "full" / "last.nnck");
  CHECK(last.find("optimizer/step") != nullptr);
  CHECK(last.find("scheduler/steps") != nullptr);
  // … and a schedule's state cannot be silently dropped: resuming without a scheduler is refused, nothing loaded.
  Tiny other;
  const auto before = test::all_weights(other);
  nn::Adam adam(other.named_parameters());
  nn::Trainer no_schedule(other, adam, {.epochs = 5, .out_dir = dir.path / "full", .resume = true, .progress = false});
  nn::DataLoader<nn::TensorExample> loader(d.train);
  const std::string error = test::error_of([&] {
    no_schedule.fit(loader, [&](std::vector<Tensor>& b, const nn::Step&) {
      return nn::BatchLoss{nn::mse_loss(other.forward(b[0]), b[1]), 1.0};
    });
  });
  CHECK(error.rfind((dir.path / "full" / "last.nnck").string() + ": holds a learning-rate schedule's state (", 0) == 0);
  CHECK(error.find("but no scheduler was given") != std::string::npos);
  CHECK(test::all_weights(other) == before);
}

TEST_CASE("nn::Trainer refuses to start over an existing run unless told to resume or overwrite") {
  TinyData d;
  test::TempDir dir;
  Run({.epochs = 1, .out_dir = dir.path}).fit(d);
  Run again({.epochs = 1, .out_dir = dir.path});
  CHECK(test::error_of([&] { again.fit(d); }) ==
        "train: " + dir.path.string() +
            " already holds a training run (last.nnck): continue it with resume (--resume) or start afresh with "
            "overwrite (--overwrite)");
  Run fresh({.epochs = 2, .out_dir = dir.path, .overwrite = true});
  CHECK(fresh.fit(d).size() == 2);
  CHECK(test::error_of([&] { Run({.epochs = 0}); }) == "train: expected epochs ≥ 1, got 0");
  CHECK(test::error_of([&] { Run({.patience = -1}); }) == "train: expected patience ≥ 0, got -1");
}

TEST_CASE("nn::Trainer stops early after `patience` epochs without improvement and records the best epoch") {
  TinyData d;
  test::TempDir dir;
  const std::vector<double> val{5.0, 4.0, 4.5, 4.0, 3.0, 2.0};  // epochs 3 and 4 do not improve on epoch 2
  Run run({.epochs = 6, .out_dir = dir.path, .patience = 2});
  std::vector<int> epochs_seen;
  run.trainer.callbacks().after_epoch = [&](const nn::EpochResult& r) { epochs_seen.push_back(r.epoch); };
  const std::vector<nn::EpochResult> history = run.fit(d, val);
  REQUIRE(history.size() == 4);
  CHECK(epochs_seen == std::vector<int>{1, 2, 3, 4});
  CHECK(history[2].val_loss == 4.5);
  CHECK(nn::best_epoch_index(history, true) == 1);

  // metrics.csv: every epoch, the best one marked; metrics.jsonl alike.
  std::istringstream csv(read_all(dir.path / "metrics.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "epoch,train_loss,val_loss,items,steps,seconds,best,lr");
  std::vector<std::string> rows;
  while (std::getline(csv, line)) rows.push_back(line);
  REQUIRE(rows.size() == 4);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::string> f;
    std::istringstream fields(rows[i]);
    for (std::string s; std::getline(fields, s, ',');) f.push_back(s);
    REQUIRE(f.size() == 8);
    CHECK(f[0] == std::to_string(i + 1));
    CHECK(std::stod(f[1]) == history[i].train_loss);  // written to round-trip
    CHECK(std::stod(f[2]) == val[i]);
    CHECK(f[3] == "40");
    CHECK(f[4] == "5");
    CHECK(f[5].size() <= 11);  // 6 significant digits, not %.17g's noise
    CHECK(f[6] == (i == 1 ? "1" : "0"));
    // The rate of the epoch's last step (step 5·(i + 1)), before the schedule halves it after that step.
    const float lr = 0.05f * std::pow(0.5f, static_cast<float>((5 * i + 4) / 4));
    CHECK(history[i].lr == lr);
    CHECK(std::stod(f[7]) == doctest::Approx(lr).epsilon(1e-6));
  }
  const std::string jsonl = read_all(dir.path / "metrics.jsonl");
  CHECK(jsonl.find("{\"epoch\": 2, ") != std::string::npos);
  CHECK(std::count(jsonl.begin(), jsonl.end(), '\n') == 4);
  CHECK(jsonl.find("\"val_loss\": 4, \"items\": 40, \"steps\": 5") != std::string::npos);
  CHECK(jsonl.find("\"best\": true") == jsonl.rfind("\"best\": true"));  // exactly one best
  CHECK(jsonl.find("\"best\": true") > jsonl.find("{\"epoch\": 2, "));
  CHECK(jsonl.find("\"best\": true") < jsonl.find("{\"epoch\": 3, "));
  CHECK(jsonl.find("\"best\": true, \"lr\": 0.0125}") != std::string::npos);
  // best.nnck is epoch 2's.
  for (const auto& [k, v] : nn::read_checkpoint_texts(dir.path / "best.nnck"))
    if (k == "train.epoch") CHECK(v == "2");
  // The log says why it stopped; the plot marks epoch 2.
  CHECK(read_all(dir.path / "train.log")
            .find("stopping early after epoch 4: no validation improvement in 2 epochs "
                  "(best: epoch 2)") != std::string::npos);
  const std::string svg = read_all(dir.path / "loss.svg");
  CHECK(svg.find("best epoch (2)") != std::string::npos);
  CHECK(svg.find("class=\"best\"") != std::string::npos);

  // Resumed, a run that stopped early stays stopped.
  Run resumed({.epochs = 6, .out_dir = dir.path, .resume = true, .patience = 2});
  CHECK(resumed.fit(d, val).size() == 4);
  CHECK(resumed.model.modes_in_training.empty());

  // An improvement smaller than min_delta counts as none for patience, though it is still the best epoch.
  test::TempDir other;
  Run strict({.epochs = 6, .out_dir = other.path, .patience = 1, .min_delta = 0.5});
  const std::vector<nn::EpochResult> short_run = strict.fit(d, {5.0, 4.8, 1.0});
  CHECK(short_run.size() == 2);
  CHECK(nn::best_epoch_index(short_run, true) == 1);
}

TEST_CASE("nn::Trainer trains in training mode, validates in eval mode, and gives the model back in its mode") {
  TinyData d;
  Run run({.epochs = 2});
  run.model.eval();  // as a user might have left it
  std::vector<bool> after_epoch;
  int backward = 0, steps = 0;
  run.trainer.callbacks().after_epoch = [&](const nn::EpochResult&) { after_epoch.push_back(run.model.is_training()); };
  run.trainer.callbacks().after_backward = [&](const nn::Step& s) {
    ++backward;
    CHECK(s.training);
    for (const auto& [name, t] : run.model.named_parameters()) CHECK(t.grad().defined());  // not yet applied
  };
  run.trainer.callbacks().after_step = [&](const nn::Step& s, double loss) {
    CHECK(s.step == static_cast<size_t>(steps % 5 + 1));
    CHECK(std::isfinite(loss));
    ++steps;
  };
  run.fit(d);
  CHECK(backward == 10);
  CHECK(steps == 10);
  CHECK(run.model.modes_in_training == std::vector<bool>(10, true));
  CHECK(run.model.modes_in_validation == std::vector<bool>(6, false));  // 3 batches × 2 epochs
  CHECK(after_epoch == std::vector<bool>{true, true});                  // restored to training after validation
  CHECK_FALSE(run.model.is_training());                                 // and to eval after fit
}

TEST_CASE("nn::Trainer leaves a child frozen in eval mode frozen, through training and validation") {
  TinyData d;
  Run run({.epochs = 2});
  run.model.drop->eval();                          // frozen, as a fine-tuned backbone's BatchNorm is
  std::vector<std::pair<bool, bool>> after_epoch;  // (model, frozen child) after each epoch's validation
  run.trainer.callbacks().after_epoch = [&](const nn::EpochResult&) {
    after_epoch.emplace_back(run.model.is_training(), run.model.drop->is_training());
  };
  run.fit(d);
  CHECK(run.model.modes_in_training == std::vector<bool>(10, true));
  CHECK(after_epoch == std::vector<std::pair<bool, bool>>{{true, false}, {true, false}});
  CHECK(run.model.is_training());
  CHECK_FALSE(run.model.drop->is_training());
}

TEST_CASE("nn::Trainer: a non-finite loss stops with epoch and step named and keeps the last good checkpoint") {
  TinyData d;
  test::TempDir dir;
  Run run({.epochs = 3, .out_dir = dir.path});
  nn::DataLoader<nn::TensorExample> train(d.train, {.batch_size = 8});
  const std::string message = test::error_of([&] {
    run.trainer.fit(train, [&](auto& b, const nn::Step& s) {
      Tensor loss = nn::mse_loss(run.model.forward(b[0]), b[1]);
      return nn::BatchLoss{s.epoch == 2 && s.step == 3 ? loss * NAN : loss, 1.0};
    });
  });
  CHECK(message == "train: the loss is nan at epoch 2, step 3 (the last good checkpoint is " +
                       (dir.path / "last.nnck").string() + ")");
  for (const auto& [k, v] : nn::read_checkpoint_texts(dir.path / "last.nnck"))
    if (k == "train.epoch") CHECK(v == "1");
}

TEST_CASE("gradient clipping bounds every step's update by the clipped gradient") {
  TinyData d;
  // With SGD at rate 1 and clip 1e-3, no parameter moves more than 1e-3 in a step.
  Tiny model;
  nn::SGD sgd(model.named_parameters(), {.lr = 1.0f});
  nn::Trainer trainer(model, sgd, {.epochs = 1, .clip_grad_norm = 1e-3f, .progress = false});
  std::vector<float> before = test::all_weights(model);
  float largest = 0;
  trainer.callbacks().after_step = [&](const nn::Step&, double) {
    std::vector<float> now = test::all_weights(model);
    double squares = 0;
    for (size_t i = 0; i < now.size(); ++i) squares += (now[i] - before[i]) * double(now[i] - before[i]);
    largest = std::max(largest, static_cast<float>(std::sqrt(squares)));
    before = now;
  };
  nn::DataLoader<nn::TensorExample> train(d.train, {.batch_size = 8});
  trainer.fit(train, nullptr, [&](auto& b, const nn::Step&) {
    return nn::BatchLoss{nn::mse_loss(model.forward(b[0]) * 100.0f, b[1]), 1.0};
  });
  CHECK(largest > 0.0009f);
  CHECK(largest <= 1.0001e-3f);
}

TEST_CASE("without an out_dir a stop request saves nothing and says so") {
  TinyData d;
  Run run({.epochs = 2, .stop = [] { return true; }});
  CHECK(test::error_of([&] { run.fit(d); }) ==
        "train: stopped on request at epoch 1, step 1; nothing saved (no out_dir)");
}

static_assert(!std::is_copy_constructible_v<nn::Trainer> && !std::is_move_constructible_v<nn::Trainer> &&
                  !std::is_copy_assignable_v<nn::Trainer> && !std::is_move_assignable_v<nn::Trainer>,
              "the default save and load functions refer to the trainer: a copy would use the original's");

namespace {

std::string text_of(const fs::path& checkpoint, const std::string& key) {
  for (const auto& [k, v] : nn::read_checkpoint_texts(checkpoint))
    if (k == key) return v;
  return "(none)";
}

}  // namespace

TEST_CASE("with validation, best.nnck, the metrics and the log mark only an epoch with a finite, lower loss") {
  TinyData d;
  test::TempDir dir;
  // +inf, NaN (as from a validation set without items), 3, NaN, 3 again: epoch 3 is the only best.
  const std::vector<double> val{INFINITY, NAN, 3.0, NAN, 3.0};
  Run run({.epochs = 5, .out_dir = dir.path});
  std::vector<std::string> best_epoch_after;  // best.nnck's epoch after each epoch
  run.trainer.callbacks().after_epoch = [&](const nn::EpochResult&) {
    best_epoch_after.push_back(fs::exists(dir.path / "best.nnck") ? text_of(dir.path / "best.nnck", "train.epoch")
                                                                  : "none");
  };
  run.fit(d, val);
  CHECK(best_epoch_after == std::vector<std::string>{"none", "none", "3", "3", "3"});
  std::istringstream csv(read_all(dir.path / "metrics.csv"));
  std::string line, best_column;
  std::getline(csv, line);
  while (std::getline(csv, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int k = 0; k < 7; ++k) std::getline(fields, field, ',');
    best_column += field;  // the 7th field, best
  }
  CHECK(best_column == "00100");
  const std::string log = read_all(dir.path / "train.log");
  CHECK(log.find("(best so far)") == log.rfind("(best so far)"));
  CHECK(log.find("epoch 3/5") < log.find("(best so far)"));
  CHECK(log.find("(best so far)") < log.find("epoch 4/5"));

  // Without validation every epoch is the best: best.nnck is the last epoch's.
  test::TempDir plain;
  Run no_validation({.epochs = 2, .out_dir = plain.path});
  nn::DataLoader<nn::TensorExample> train(d.train, {.batch_size = 8});
  no_validation.trainer.fit(train, [&](auto& b, const nn::Step&) {
    return nn::BatchLoss{nn::mse_loss(no_validation.model.forward(b[0]), b[1]), 1.0};
  });
  CHECK(text_of(plain.path / "best.nnck", "train.epoch") == "2");
  const std::string plain_csv = read_all(plain.path / "metrics.csv");
  CHECK(plain_csv.find(",0,") < plain_csv.find("\n2,"));                      // epoch 1 not marked,
  CHECK(plain_csv.find(",1,", plain_csv.find("\n2,")) != std::string::npos);  // epoch 2 marked
}

TEST_CASE("overwrite removes the old run before the first step, so that a run killed early cannot resume it") {
  TinyData d;
  test::TempDir dir;
  Run({.epochs = 2, .out_dir = dir.path}).fit(d);
  REQUIRE(fs::exists(dir.path / "last.nnck"));
  Run fresh({.epochs = 2, .out_dir = dir.path, .overwrite = true});
  nn::DataLoader<nn::TensorExample> train(d.train, {.batch_size = 8});
  const std::string message = test::error_of([&] {  // fails in epoch 1, before any checkpoint of its own
    fresh.trainer.fit(train, [&](auto& b, const nn::Step& s) {
      Tensor loss = nn::mse_loss(fresh.model.forward(b[0]), b[1]);
      return nn::BatchLoss{s.step == 2 ? loss * NAN : loss, 1.0};
    });
  });
  CHECK(message == "train: the loss is nan at epoch 1, step 2 (no checkpoint was written yet)");
  for (const char* file : {"last.nnck", "best.nnck", "metrics.csv", "metrics.jsonl", "loss.svg"}) {
    INFO(file);
    CHECK_FALSE(fs::exists(dir.path / file));
  }
  CHECK(read_all(dir.path / "train.log").find("epoch 2/2") == std::string::npos);  // the old run's log is gone
  Run resumed({.epochs = 2, .out_dir = dir.path, .resume = true});
  CHECK(resumed.fit(d).size() == 2);
  CHECK(resumed.adam.steps() == 10);  // from the start, not from the old run's end
}

TEST_CASE("a stop request during an epoch's last step or its validation stops after that epoch's checkpoints") {
  TinyData d;
  test::TempDir dir;
  Run full({.epochs = 3, .out_dir = dir.path / "full", .seed = 9});
  full.fit(d);
  for (const bool in_validation : {true, false}) {
    INFO(in_validation);
    const fs::path out = dir.path / (in_validation ? "validation" : "last_step");
    bool requested = false;
    const Tiny* model = nullptr;
    {
      // In validation, the first validation batch raises the flag (the model records its mode there).
      Run run({.epochs = 3, .out_dir = out, .seed = 9, .stop = [&] {
                 return requested || (in_validation && !model->modes_in_validation.empty());
               }});
      model = &run.model;
      run.trainer.callbacks().after_step = [&](const nn::Step& s, double) {
        if (!in_validation && s.step == s.steps) requested = true;  // the last step, after which none is asked
      };
      CHECK(test::error_of([&] { run.fit(d); }) == "train: stopped on request after epoch 1; saved " +
                                                       (out / "last.nnck").string() + " (--resume continues there)");
      CHECK(run.adam.steps() == 5);  // not a step of epoch 2
    }
    CHECK(text_of(out / "last.nnck", "train.epoch") == "1");
    CHECK(text_of(out / "last.nnck", "train.partial") == "(none)");
    Run rest({.epochs = 3, .out_dir = out, .resume = true, .seed = 9});
    rest.fit(d);
    CHECK(test::all_weights(rest.model) == test::all_weights(full.model));
  }
}

TEST_CASE("crafted train.* texts and scheduler state in last.nnck are refused, naming the file and the entry") {
  TinyData d;
  test::TempDir dir;
  Run({.epochs = 1, .out_dir = dir.path}).fit(d);
  const fs::path last = dir.path / "last.nnck";
  const nn::CheckpointTexts good = nn::read_checkpoint_texts(last);
  // last.nnck with `key`'s text replaced; then the error of resuming from it ("" if none).
  auto resume_with = [&](const std::string& key, const std::string& value) {
    Run writer({.epochs = 1});
    nn::load(last, writer.model, &writer.adam, &writer.schedule);
    nn::CheckpointTexts texts = good;
    for (auto& [k, v] : texts)
      if (k == key) v = value;
    if (std::none_of(texts.begin(), texts.end(), [&](const auto& t) { return t.first == key; }))
      texts.emplace_back(key, value);
    fs::path crafted = dir.path / "crafted";
    fs::create_directories(crafted);
    nn::save(crafted / "last.nnck", writer.model, &writer.adam, texts, &writer.schedule);
    Run run({.epochs = 2, .out_dir = crafted, .resume = true});
    std::string error = test::error_of([&] { run.fit(d); });
    fs::remove_all(crafted);
    return error;
  };
  const std::string file = (dir.path / "crafted" / "last.nnck").string();
  // The scheduler's state is checkpoint tensors now, read by the bounded reader (its own tests cover crafted sizes
  // and corruption); a well-formed file whose scheduler tensor the schedule refuses stops the resume, naming it.
  {
    nn::Checkpoint c = nn::read_checkpoint(last);
    for (auto& [name, t] : c.tensors)
      if (name == "scheduler/steps") t = Tensor::from_data({2}, {1, 2});
    fs::path crafted = dir.path / "crafted";
    fs::create_directories(crafted);
    nn::write_checkpoint(crafted / "last.nnck", c);
    Run run({.epochs = 2, .out_dir = crafted, .resume = true});
    CHECK(test::error_of([&] { run.fit(d); }) == file + ": Tensor::item: expected a one-element tensor, got shape [2]");
    CHECK(run.schedule.steps == 0);
    fs::remove_all(crafted);
  }
  CHECK(resume_with("train.bad_epochs", "1e300") ==
        file + ": has an unreadable train.bad_epochs text '1e300' (expected an integer in [0, 2147483647])");
  CHECK(resume_with("train.bad_epochs", "99999999999999999999") ==
        file +
            ": has an unreadable train.bad_epochs text '99999999999999999999' (expected an integer in [0, "
            "2147483647])");
  CHECK(resume_with("train.partial", "2 -1 0 0 0") == file + ": has an unreadable train.partial text '2 -1 0 0 0'");
  CHECK(resume_with("train.partial", "7 1 0 0 0") == file + ": has an unreadable train.partial text '7 1 0 0 0'");
  CHECK(resume_with("train.history", "1 0.5 0.5 1 40 -1\n") ==
        file + ": has an unreadable train.history line '1 0.5 0.5 1 40 -1'");
  CHECK(resume_with("train.history", "2 0.5 0.5 1 40 5\n") ==
        file + ": has an unreadable train.history line '2 0.5 0.5 1 40 5'");
  // A history line from before lr was recorded (six fields) is read, with no rate.
  CHECK(resume_with("train.history", "1 0.5 0.5 1 40 5\n") == "no error");
}

TEST_CASE("the progress line shows step/total, the running loss, items/s and the time left") {
  nn::Progress progress("epoch 2/5", 10, "words", false);
  CHECK(progress.line(false).rfind("epoch 2/5 0/10, 0.0 words/s, ETA 0:00", 0) == 0);
  progress.update(3, 120, 0.25);
  const std::string line = progress.line(false);
  CHECK(line.rfind("epoch 2/5 3/10, loss 0.2500, ", 0) == 0);
  CHECK(line.find(" words/s, ETA ") != std::string::npos);
  CHECK(progress.line(true).find(" words/s, took ") != std::string::npos);
  nn::Progress resumed("epoch 2/5", 10, "words", false);
  resumed.start_at(6);
  CHECK(resumed.line(false).rfind("epoch 2/5 6/10, ", 0) == 0);  // a resumed epoch shows where it starts
}

TEST_CASE("the loss plot has both series, ticks on both axes, a legend and the best epoch marked") {
  std::vector<nn::EpochResult> history;
  for (int e = 1; e <= 6; ++e) history.push_back({.epoch = e, .train_loss = 3.0 / e, .val_loss = e == 4 ? 1.0 : 2.0});
  const std::string svg = nn::loss_curve_svg(history, true, "loss per word");
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("class=\"xtick\"") == 6);  // one per epoch
  CHECK(count("class=\"ytick\"") >= 3);
  CHECK(count("<polyline class=\"train\"") == 1);
  CHECK(count("<polyline class=\"validation\"") == 1);
  CHECK(count(">train</text>") == 1);  // the legend
  CHECK(count(">validation</text>") == 1);
  CHECK(count(">best epoch (4)</text>") == 1);
  CHECK(count(">epoch</text>") == 1);  // the axes' titles
  CHECK(count(">loss per word</text>") == 1);
  CHECK(count("<line class=\"best\"") == 1);
  CHECK(nn::best_epoch_index(history, true) == 3);
  CHECK(nn::best_epoch_index({}, true) == -1);
  CHECK(nn::best_epoch_index({}, false) == -1);
  CHECK(nn::best_epoch_index({{.epoch = 1}, {.epoch = 2}}, false) == 1);  // no validation: the last epoch
  CHECK(nn::best_epoch_index({{.epoch = 1}, {.epoch = 2}}, true) == -1);  // no finite validation loss: none
  CHECK(nn::best_epoch_index({{.epoch = 1, .val_loss = INFINITY}, {.epoch = 2, .val_loss = 3}}, true) == 1);
}
