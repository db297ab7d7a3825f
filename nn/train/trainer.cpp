#include "nn/train/trainer.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "nn/autograd/autograd.h"
#include "nn/io/checkpoint.h"
#include "nn/io/fault.h"
#include "nn/layers/batch_norm.h"
#include "nn/train/progress.h"

namespace nn {

namespace fs = std::filesystem;

// Everything a resumed run needs besides weights, optimiser and schedule, saved as the checkpoint's "train.*" texts.
struct Trainer::Position {
  std::vector<EpochResult> history;  // completed epochs
  int bad_epochs = 0;                // epochs in a row without an improvement beyond min_delta
  // An interrupted epoch (train.partial): its number (0: none), the last step done and the sums so far.
  int partial_epoch = 0;
  size_t partial_step = 0;
  double partial_weighted = 0, partial_items = 0, partial_seconds = 0;
};

// TrainerOptions::sync_batch_norm: what the model's BatchNorms sum their statistics with, and this process's weight
// in the gradient average, set before each backward.
struct Trainer::SyncBatchNorm : BatchNormSync {
  Parallel* parallel = nullptr;
  double weight = 1.0;
  void sum(std::vector<double>& values) override { parallel->sum(values); }
  double gradient_weight() const override { return weight; }
};

namespace {

std::string g17(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

// One line per epoch: "EPOCH TRAIN_LOSS VAL_LOSS SECONDS ITEMS STEPS LR" (LR since lr was added; older lines have
// six fields).
std::string history_text(const std::vector<EpochResult>& history) {
  std::string out;
  for (const EpochResult& r : history) {
    out += std::to_string(r.epoch) + " " + g17(r.train_loss) + " " + g17(r.val_loss) + " " + g17(r.seconds) + " " +
           g17(r.items) + " " + std::to_string(r.steps) + " " + g17(r.lr) + "\n";
  }
  return out;
}

// A double written by %.17g or %a ("nan" and "inf" included), the whole of `word`.
bool parse_double(const std::string& word, double& v) {
  char* end = nullptr;
  v = std::strtod(word.c_str(), &end);
  return end != word.c_str() && *end == '\0';
}

// The same, the next word of `in`.
bool read_double(std::istream& in, double& v) {
  std::string word;
  return in >> word && parse_double(word, v);
}

// A decimal integer in [low, high] (no "+", no spaces, no fraction), the next word of `in`.
bool read_integer(std::istream& in, int64_t low, int64_t high, int64_t& v) {
  std::string word;
  if (!(in >> word)) return false;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
  return ec == std::errc() && end == word.data() + word.size() && v >= low && v <= high;
}

// The whole of `text` as one such integer; nn::Error naming the file and the entry otherwise.
int64_t integer_entry(const std::string& text, int64_t low, int64_t high, const fs::path& file, const char* entry) {
  std::istringstream in(text);
  int64_t v = 0;
  std::string rest;
  if (!read_integer(in, low, high, v) || in >> rest) {
    fail(file.string(), std::string("has an unreadable ") + entry + " text '" + printable(text) +
                            "' (expected an integer in [" + std::to_string(low) + ", " + std::to_string(high) + "])");
  }
  return v;
}

constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();  // epochs, steps

std::vector<EpochResult> parse_history(const std::string& text, const fs::path& file) {
  std::vector<EpochResult> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    EpochResult r;
    int64_t epoch = 0, steps = 0;
    bool ok = read_integer(fields, 1, kMaxCount, epoch) && read_double(fields, r.train_loss) &&
              read_double(fields, r.val_loss) && read_double(fields, r.seconds) && read_double(fields, r.items) &&
              read_integer(fields, 0, kMaxCount, steps);
    std::string lr, more;
    if (fields >> lr) ok = ok && parse_double(lr, r.lr);  // absent in lines written before lr was added
    if (fields >> more) ok = false;
    if (!ok || epoch != static_cast<int64_t>(out.size()) + 1)
      fail(file.string(), "has an unreadable train.history line '" + printable(line) + "'");
    r.epoch = static_cast<int>(epoch);
    r.steps = static_cast<size_t>(steps);
    out.push_back(r);
  }
  return out;
}

}  // namespace

void check_new_run(const fs::path& out_dir, bool resume, bool overwrite, const std::string& who) {
  std::error_code ec;
  if (!out_dir.empty() && !resume && !overwrite && fs::exists(out_dir / "last.nnck", ec)) {
    fail(who, out_dir.string() +
                  " already holds a training run (last.nnck): continue it with resume (--resume) or start afresh with "
                  "overwrite (--overwrite)");
  }
}

void Trainer::remove_old_run() {
  // last.nnck first: once it is gone, the old run can no longer be resumed, whatever else is left.
  for (const char* file : {"last.nnck", "best.nnck", "metrics.csv", "metrics.jsonl", "train.log", "loss.svg"}) {
    std::error_code ec;
    fs::remove(path(file), ec);
    if (ec) fail(path(file).string(), "cannot be removed to start afresh (overwrite): " + ec.message());
  }
}

Trainer::Trainer(Module& model, Optimizer& optimizer, TrainerOptions options, LRScheduler* scheduler)
    : model_(model), optimizer_(optimizer), options_(std::move(options)), scheduler_(scheduler) {
  const std::string& who = options_.name;
  if (options_.epochs < 1) fail_expected(who, "epochs ≥ 1", std::to_string(options_.epochs));
  if (!(options_.clip_grad_norm >= 0))
    fail_expected(who, "clip_grad_norm ≥ 0", std::to_string(options_.clip_grad_norm));
  if (options_.patience < 0) fail_expected(who, "patience ≥ 0", std::to_string(options_.patience));
  if (!options_.save) {
    options_.save = [this](const fs::path& path, const Optimizer* optimizer, const LRScheduler* scheduler,
                           CheckpointTexts texts) { nn::save(path, model_, optimizer, std::move(texts), scheduler); };
  }
  if (!options_.load) {
    options_.load = [this](const fs::path& path, Optimizer* optimizer, LRScheduler* scheduler) {
      return nn::load(path, model_, optimizer, scheduler);
    };
  }
}

uint64_t Trainer::step_seed(int epoch, size_t step) const {
  const uint64_t epoch_seed = options_.seed * 1000003ull + static_cast<uint64_t>(epoch);
  const uint64_t rank = options_.parallel != nullptr ? static_cast<uint64_t>(options_.parallel->rank()) : 0;
  return (epoch_seed * 1000003ull + step) ^ (rank * 0x9E3779B97F4A7C15ull);  // rank 0: the single-process seed
}

Shard Trainer::shard() const {
  return options_.parallel != nullptr ? Shard{options_.parallel->rank(), options_.parallel->size()} : Shard{};
}

void Trainer::check_shards(size_t n, const DataLoaderOptions& loader, const std::string& who) const {
  const size_t steps = steps_per_epoch(n, loader), processes = static_cast<size_t>(shard().count);
  const size_t batch = static_cast<size_t>(loader.batch_size);
  const size_t smallest = steps == 0 ? processes : std::min(n - (steps - 1) * batch, batch);
  if (smallest < processes) {
    fail_expected(who,
                  "batches of at least one example per process (" + std::to_string(processes) +
                      "; drop_last leaves out a short last batch)",
                  "a batch of " + std::to_string(smallest) + " of " + std::to_string(n) + " examples");
  }
}

bool Trainer::first_rank() const {
  return options_.parallel == nullptr || options_.parallel->rank() == 0;
}

bool Trainer::writes() const {
  return !options_.out_dir.empty() && first_rank();
}

bool Trainer::stop_requested() {
  std::vector<double> stop{options_.stop() ? 1.0 : 0.0};
  if (options_.parallel != nullptr) options_.parallel->sum(stop);
  return stop[0] > 0;
}

void Trainer::save_checkpoint(const fs::path& path, const Position& p) {
  CheckpointTexts texts{{"train.epoch", std::to_string(p.history.size())},
                        {"train.history", history_text(p.history)},
                        {"train.bad_epochs", std::to_string(p.bad_epochs)}};
  if (p.partial_epoch > 0) {
    texts.emplace_back("train.partial", std::to_string(p.partial_epoch) + " " + std::to_string(p.partial_step) + " " +
                                            g17(p.partial_weighted) + " " + g17(p.partial_items) + " " +
                                            g17(p.partial_seconds));
  }
  // Which schedule the run had, so that resuming it without one is refused rather than silently unscheduled.
  if (scheduler_ != nullptr) texts.emplace_back("train.scheduler", scheduler_->to_string());
  texts.insert(texts.end(), options_.texts.begin(), options_.texts.end());
  options_.save(path, &optimizer_, scheduler_, std::move(texts));
}

void Trainer::restore(Position& p) {
  const fs::path last = path("last.nnck");
  // A run that had a schedule continues only with one (nn::load ignores "scheduler/…" tensors without a scheduler);
  // checked before anything is loaded. With a scheduler, the hook (nn::load) restores its state after the
  // optimiser's, and refuses a file without one.
  if (scheduler_ == nullptr) {
    for (const auto& [key, value] : read_checkpoint_texts(last)) {
      if (key == "train.scheduler") {
        fail(last.string(), "holds a learning-rate schedule's state (" + printable(value) +
                                "), but no scheduler was given: resuming without it would change the run");
      }
    }
  }
  const CheckpointTexts texts = options_.load(last, &optimizer_, scheduler_);
  const std::string* partial = nullptr;
  for (const auto& [key, value] : texts) {
    if (key == "train.history") p.history = parse_history(value, last);
    if (key == "train.bad_epochs")
      p.bad_epochs = static_cast<int>(integer_entry(value, 0, kMaxCount, last, key.c_str()));
    if (key == "train.partial") partial = &value;
  }
  if (partial != nullptr) {  // "EPOCH STEP WEIGHTED ITEMS SECONDS": the epoch after the history's, a step done
    std::istringstream in(*partial);
    int64_t epoch = 0, step = 0;
    std::string more;
    if (!read_integer(in, 1, kMaxCount, epoch) || !read_integer(in, 1, kMaxCount, step) ||
        !read_double(in, p.partial_weighted) || !read_double(in, p.partial_items) ||
        !read_double(in, p.partial_seconds) || in >> more || epoch != static_cast<int64_t>(p.history.size()) + 1)
      fail(last.string(), "has an unreadable train.partial text '" + printable(*partial) + "'");
    p.partial_epoch = static_cast<int>(epoch);
    p.partial_step = static_cast<size_t>(step);
  }
}

void Trainer::write_reports(const Position& p, bool validated) {
  write_text_file(path("metrics.csv"), metrics_csv(p.history, validated));
  write_text_file(path("metrics.jsonl"), metrics_jsonl(p.history, validated));
  write_text_file(path("loss.svg"), loss_curve_svg(p.history, validated, options_.loss_label));
}

double Trainer::validate(const SourceFactory& validation, int epoch) {
  if (!validation) return NAN;
  ModeGuard mode(model_);
  model_.eval();
  NoGradGuard no_grad;
  std::unique_ptr<LossSource> source = validation(epoch, 1);
  double weighted = 0, items = 0;
  for (size_t step = 1;; ++step) {
    std::optional<BatchLoss> b = source->next({epoch, step, source->steps(), step_seed(epoch, step), false});
    if (!b) break;
    weighted += static_cast<double>(b->loss.item()) * b->items;
    items += b->items;
  }
  std::vector<double> sums{weighted, items};
  if (options_.parallel != nullptr) options_.parallel->sum(sums);  // every process's shards
  return sums[1] > 0 ? sums[0] / sums[1] : NAN;
}

void Trainer::note(const std::string& line) {
  if (options_.progress && first_rank()) std::fprintf(stderr, "%s\n", line.c_str());
  if (log_ != nullptr) std::fprintf(log_, "%s\n", line.c_str()), std::fflush(log_);
}

std::string Trainer::last_good() const {
  std::error_code ec;
  return !options_.out_dir.empty() && fs::exists(path("last.nnck"), ec)
             ? " (the last good checkpoint is " + path("last.nnck").string() + ")"
             : std::string(" (no checkpoint was written yet)");
}

// One optimiser step on batch loss `b`: checks, backward, the average over processes (b.items becomes the global
// batch's), callbacks, clipping, step, schedule. Returns the loss (the global batch's).
float Trainer::step(BatchLoss& b, const Step& s) {
  const std::string& who = options_.name;
  const std::string where = "epoch " + std::to_string(s.epoch) + ", step " + std::to_string(s.step);
  float value = b.loss.item();
  // Under a Parallel the verdict waits for the average, which every process shares (a process that threw here alone
  // would leave the others waiting in the all-reduce); a non-finite loss anywhere makes the average non-finite.
  if (options_.parallel == nullptr && !std::isfinite(value)) {
    fail(who, "the loss is " + std::to_string(value) + " at " + where);
  }
  fault_point("train_step");
  optimizer_.zero_grad();
  if (sync_ != nullptr) {  // the weight average_gradients will give this process's gradients
    std::vector<double> items{b.items};
    options_.parallel->sum(items);
    sync_->weight = items[0] > 0 ? b.items / items[0] : 0.0;
  }
  std::vector<Tensor> parameters;
  if (options_.parallel != nullptr) {  // the reduction may start during backward
    for (const auto& [name, t] : optimizer_.parameters()) parameters.push_back(t);
    options_.parallel->before_backward(parameters, value, b.items);
  }
  b.loss.backward();
  if (options_.parallel != nullptr) {
    const auto [loss, items] = options_.parallel->average_gradients(parameters, value, b.items);
    value = static_cast<float>(loss);
    b.items = items;
    if (!std::isfinite(value))
      fail(who, "the loss is " + std::to_string(value) + " at " + where + " (on some process)");
  }
  if (callbacks_.after_backward) callbacks_.after_backward(s);
  if (!gradients_finite(optimizer_.parameters()))
    fail(who, "the gradient is not finite at " + where + " (the loss was " + std::to_string(value) + ")");
  if (options_.clip_grad_norm > 0) {
    if (parameters.empty())
      for (const auto& [name, t] : optimizer_.parameters()) parameters.push_back(t);
    clip_grad_norm(parameters, options_.clip_grad_norm);
  }
  optimizer_.step();
  if (scheduler_ != nullptr) scheduler_->after_step();
  return value;
}

// The training part of `epoch`, from where `p` says it stopped (a resumed, interrupted epoch) to its end; a stop
// request saves the position and throws TrainingStopped. Returns the epoch's training figures.
EpochResult Trainer::train_epoch(const SourceFactory& train, int epoch, Position& p) {
  const auto start = std::chrono::steady_clock::now();
  const bool continuing = p.partial_epoch == epoch;
  double weighted = continuing ? p.partial_weighted : 0, items = continuing ? p.partial_items : 0;
  const double earlier_seconds = continuing ? p.partial_seconds : 0;
  const size_t first_step = continuing ? p.partial_step + 1 : 1;
  std::unique_ptr<LossSource> source = train(epoch, first_step);
  const size_t steps = source->steps();
  EpochResult r;
  Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(options_.epochs), steps, "items",
                    options_.progress && first_rank());
  progress.start_at(first_step - 1);
  auto last_logged = start;
  auto seconds = [&] {
    return earlier_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (size_t k = first_step;; ++k) {
    const Step s{epoch, k, steps, step_seed(epoch, k), true};
    if (options_.reseed) options_.reseed(s.seed);
    std::optional<BatchLoss> b = source->next(s);
    if (!b) break;
    r.lr = optimizer_.learning_rate(0);  // the rate this step uses (a schedule changes it after the step)
    const float value = step(*b, s);
    weighted += static_cast<double>(value) * b->items;
    items += b->items;
    if (callbacks_.after_step) callbacks_.after_step(s, value);
    progress.update(k, b->items, weighted / items);
    if (log_ != nullptr && std::chrono::steady_clock::now() - last_logged > std::chrono::seconds(10)) {
      last_logged = std::chrono::steady_clock::now();  // a plain progress line in train.log every 10 s
      std::fprintf(log_, "%s\n", progress.line(false).c_str());
      std::fflush(log_);
    }
    if (options_.stop && k < steps && stop_requested()) {  // after the last step, fit asks after the checkpoints
      source.reset();                                      // the loader's thread stops before the position is saved
      p.partial_epoch = epoch, p.partial_step = k, p.partial_weighted = weighted, p.partial_items = items;
      p.partial_seconds = seconds();
      if (writes()) save_checkpoint(path("last.nnck"), p);
      progress.finish();
      stopped("at epoch " + std::to_string(epoch) + ", step " + std::to_string(k));
    }
  }
  source.reset();
  progress.finish();
  r.epoch = epoch;
  r.train_loss = items > 0 ? weighted / items : NAN;
  r.items = items;
  r.steps = steps;
  r.seconds = seconds();
  return r;
}

// After an epoch's training: validation, the schedule, the best so far, checkpoints, reports and the log line.
void Trainer::end_epoch(EpochResult r, const SourceFactory& validation, Position& p) {
  const auto start = std::chrono::steady_clock::now();
  r.val_loss = validate(validation, r.epoch);
  if (scheduler_ != nullptr) scheduler_->after_epoch(r.val_loss);
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool validated = static_cast<bool>(validation);
  if (validated) {  // an improvement beyond min_delta on the best finite loss so far resets the count
    const int before = best_epoch_index(p.history, true);
    const double best_loss = before >= 0 ? p.history[before].val_loss : INFINITY;
    p.bad_epochs = std::isfinite(r.val_loss) && r.val_loss < best_loss - options_.min_delta ? 0 : p.bad_epochs + 1;
  }
  p.history.push_back(r);
  p.partial_epoch = 0;
  const bool best = best_epoch_index(p.history, validated) == static_cast<int>(p.history.size()) - 1;
  if (writes()) {
    // best.nnck first: last.nnck counts the epoch as done, so a run killed before it is written redoes the epoch on
    // resume and writes best.nnck again.
    if (best) save_checkpoint(path("best.nnck"), p);
    save_checkpoint(path("last.nnck"), p);
    write_reports(p, validated);
  }
  char line[256];
  const char* label = options_.loss_label.c_str();
  std::snprintf(line, sizeof line, "epoch %d/%d: train %s %.4f, validation %s %.4f, %.1f s, %.0f items/s%s", r.epoch,
                options_.epochs, label, r.train_loss, label, r.val_loss, r.seconds,
                r.seconds > 0 ? r.items / r.seconds : 0.0, best ? " (best so far)" : "");
  note(line);
  if (callbacks_.after_epoch) callbacks_.after_epoch(r);
}

void Trainer::stopped(const std::string& where) {
  const std::string line = options_.name + ": stopped on request " + where;
  note(line);
  throw TrainingStopped(line + (options_.out_dir.empty()
                                    ? std::string("; nothing saved (no out_dir)")
                                    : "; saved " + path("last.nnck").string() + " (--resume continues there)"));
}

std::vector<EpochResult> Trainer::fit_sources(const SourceFactory& train, const SourceFactory& validation) {
  Position p;
  bool resuming = false;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(nullptr, &std::fclose);
  if (!options_.out_dir.empty()) {
    make_directories(options_.out_dir);
    check_new_run(options_.out_dir, options_.resume, options_.overwrite, options_.name);
    std::error_code ec;
    resuming = options_.resume && fs::exists(path("last.nnck"), ec);
    if (resuming) restore(p);
    if (writes() && options_.overwrite && !options_.resume) remove_old_run();
    if (writes()) {
      log.reset(std::fopen(path("train.log").c_str(), options_.resume ? "a" : "w"));
      if (!log) fail(path("train.log").string(), "cannot be opened for writing");
    }
  }
  if (options_.parallel != nullptr) options_.parallel->broadcast(model_);  // every rank starts from rank 0's model
  log_ = log.get();
  SyncBatchNorm sync;
  sync.parallel = options_.parallel;
  auto synchronise = [this](SyncBatchNorm* s) {
    model_.apply([s](Module& m) {
      if (auto* bn = dynamic_cast<BatchNorm*>(&m)) bn->synchronise(s);
    });
    sync_ = s;
  };
  struct EndOfFit {  // what fit sets for its length, cleared however it ends
    std::FILE*& log;
    std::function<void()> unsynchronise;
    ~EndOfFit() {
      log = nullptr;
      if (unsynchronise) unsynchronise();
    }
  } end_of_fit{log_, {}};
  if (options_.parallel != nullptr && options_.sync_batch_norm) {
    synchronise(&sync);
    end_of_fit.unsynchronise = [&] { synchronise(nullptr); };
  }
  if (resuming) {  // said before the first (possibly slow) step
    const bool mid_epoch = p.partial_epoch > 0;
    const int epoch = mid_epoch ? p.partial_epoch : static_cast<int>(p.history.size()) + 1;
    const std::string line =
        epoch > options_.epochs
            ? options_.name + ": resuming after epoch " + std::to_string(p.history.size()) + ": every epoch is done"
            : options_.name + ": resuming at epoch " + std::to_string(epoch) + ", step " +
                  std::to_string(mid_epoch ? p.partial_step + 1 : 1);
    note(line);
    if (callbacks_.resumed) callbacks_.resumed(line);
  }
  // Every module's mode is given back at the end. A model in training mode trains as it is (a child frozen with
  // eval(), such as a fine-tuned backbone's BatchNorm, stays frozen); one in eval mode is switched to training.
  ModeGuard mode(model_);
  if (!model_.is_training()) model_.train();
  const bool early_stopping = options_.patience > 0 && validation;
  for (int epoch = static_cast<int>(p.history.size()) + 1; epoch <= options_.epochs; ++epoch) {
    if (early_stopping && p.bad_epochs >= options_.patience) break;  // a resumed run that had stopped early
    EpochResult r;
    try {
      r = train_epoch(train, epoch, p);
    } catch (const TrainingStopped&) {
      throw;
    } catch (const Error& e) {
      note(e.what() + last_good());
      throw Error(e.what() + last_good());
    }
    end_epoch(r, validation, p);
    if (early_stopping && p.bad_epochs >= options_.patience) {
      const int best = best_epoch_index(p.history, true);
      note(options_.name + ": stopping early after epoch " + std::to_string(epoch) + ": no validation improvement in " +
           std::to_string(p.bad_epochs) + " epochs (best: " +
           (best >= 0 ? "epoch " + std::to_string(p.history[best].epoch) : std::string("none, no finite loss")) + ")");
    } else if (epoch < options_.epochs && options_.stop && stop_requested()) {
      stopped("after epoch " + std::to_string(epoch));  // the epoch's checkpoints are written: nothing is lost
    }
  }
  return p.history;
}

}  // namespace nn
