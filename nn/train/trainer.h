/// @file
/// nn::Trainer: the training loop of any model — epochs of batches from a DataLoader, a loss the user gives,
/// gradient clipping, an optional learning-rate schedule, validation every epoch, early stopping, atomic
/// checkpoints (last.nnck every epoch, best.nnck at the best validation loss) holding the optimiser's and the
/// schedule's state and the trainer's position, exact resumption (also mid-epoch after a stop request such as
/// Ctrl-C), progress on the terminal, a log, metrics.csv / metrics.jsonl and a loss plot.
///
///     nn::Adam adam(model.named_parameters(), {.lr = 1e-3f});
///     nn::Trainer trainer(model, adam, {.epochs = 20, .out_dir = "run", .patience = 3});
///     auto loss = [&](std::vector<nn::Tensor>& b, const nn::Step&) {           // b: {x [N,…], y [N]}
///       return nn::BatchLoss{nn::mse_loss(model(b[0]), b[1]), double(b[0].dim(0))};
///     };
///     std::vector<nn::EpochResult> history = trainer.fit(train_loader, &val_loader, loss);
///
/// Files under out_dir: last.nnck, best.nnck (written before last.nnck, so that a run killed between the two redoes
/// the epoch on resume), metrics.csv, metrics.jsonl, loss.svg and train.log (plain lines:
/// every epoch, a progress line every 10 s, stops and errors). Every file but the log is written atomically
/// (nn::write_file_atomically), so a run killed at any instant leaves the previous complete state, from which `resume`
/// continues. Reproducibility: the data order comes from the loader's (seed, epoch), and `reseed` (before every step)
/// lets a model reseed its dropout from (seed, epoch, step); with both, a run resumed from any checkpoint ends
/// bit-identical to an uninterrupted one on the same machine and thread count.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/core/error.h"
#include "nn/data/dataloader.h"
#include "nn/layers/module.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"
#include "nn/train/metrics.h"

namespace nn {

/// Texts stored in a checkpoint beside its tensors (nn/io/checkpoint.h).
using CheckpointTexts = std::vector<std::pair<std::string, std::string>>;

/// What the loss function returns for one batch.
struct BatchLoss {
  Tensor loss;         ///< a one-element tensor: the batch's mean loss per item, differentiable when training
  double items = 1.0;  ///< how many items (examples, words) it averages over: the weight of this batch in the
                       ///< epoch's mean, and the count behind items/s
};

/// Where the loop is when it calls the loss function or a callback.
struct Step {
  int epoch = 0;         ///< 1-based
  size_t step = 0;       ///< 1-based within the epoch (validation counts its own batches)
  size_t steps = 0;      ///< steps in this epoch
  uint64_t seed = 0;     ///< derived from (TrainerOptions::seed, epoch, step): for dropout or augmentation draws
  bool training = true;  ///< false during validation (eval mode, no gradients)
};

/// Thrown by Trainer::fit when TrainerOptions::stop asked to stop: the state was saved in last.nnck mid-epoch,
/// and resuming from it gives exactly the result of an uninterrupted run.
struct TrainingStopped : Error {
  using Error::Error;
};

/// Data-parallel training: what the loop asks of the other processes of a job, each training on its shard of
/// every batch. nn::distributed implements it on MPI (nn/distributed/distributed.h); libnn itself does no
/// communication. With one, fit shards both loaders' batches (nn::Shard), every process restores the same
/// last.nnck from the shared out_dir but only rank 0 writes there and shows progress, the model is made rank 0's
/// before the first step, gradients and losses are averaged over the global batch after every backward, validation
/// losses are summed over the processes, a stop request counts when any process makes it, and Step::seed differs
/// per rank (rank 0 keeps the single-process seed) so that dropout masks differ but are reproducible.
class Parallel {
 public:
  virtual ~Parallel() = default;
  virtual int rank() const = 0;  ///< 0 … size() − 1
  virtual int size() const = 0;  ///< the number of processes
  /// Makes `model`'s parameters and buffers rank 0's on every process.
  virtual void broadcast(Module& model) = 0;
  /// Before backward, with what average_gradients will be given after it: a Parallel may start reducing each
  /// gradient as soon as backward has completed it (overlap; nn::distributed does). By default nothing.
  virtual void before_backward(const std::vector<Tensor>& parameters, double loss, double items) {
    (void)parameters, (void)loss, (void)items;
  }
  /// After backward on this process's shard of `items` items (its loss the mean over them): replaces each gradient
  /// of `parameters` by Σ_ranks items·grad / Σ_ranks items — the gradient of the global batch's mean loss — and
  /// returns {the global batch's mean loss, its items}.
  virtual std::pair<double, double> average_gradients(const std::vector<Tensor>& parameters, double loss,
                                                      double items) = 0;
  /// values[i] = Σ over the processes of values[i], in place.
  virtual void sum(std::vector<double>& values) = 0;
};

/// How Trainer::fit runs and what it writes.
struct TrainerOptions {
  int epochs = 10;                ///< the last epoch to train (a resumed run continues up to it), ≥ 1
  std::filesystem::path out_dir;  ///< where checkpoints, metrics, plot and log go; empty: nothing is written
  /// Continue from out_dir/last.nnck (weights, optimiser, schedule, position). Without it, fit refuses an out_dir
  /// that already holds a last.nnck unless `overwrite`.
  bool resume = false;
  /// Start afresh over an existing run in out_dir: its last.nnck (first), best.nnck, metrics files, train.log and
  /// loss.svg are removed before the first step, so that a run killed early cannot be resumed as the old one.
  bool overwrite = false;
  uint64_t seed = 1;            ///< the root of Step::seed
  float clip_grad_norm = 0.0f;  ///< > 0: scale the gradients to this global L2 norm at most before each step
  /// Early stopping: stop after this many epochs in a row without a validation loss below the best by more than
  /// min_delta; 0: never. Needs a validation loader.
  int patience = 0;
  double min_delta = 0.0;           ///< the least improvement of the validation loss that counts, for patience
  bool progress = true;             ///< the progress line (updated in place on a terminal) and epoch lines on stderr
  std::string name = "train";       ///< how messages name the loop ("train: the loss is nan at epoch 2, step 3")
  std::string loss_label = "loss";  ///< the plot's and log's name for the loss, e.g. "loss per word"
  /// Asked after every step but an epoch's last (true saves the position mid-epoch) and after every epoch's
  /// checkpoints but the last epoch's; true throws TrainingStopped (see captioning/stop_signal.h for a Ctrl-C that
  /// sets such a flag).
  std::function<bool()> stop;
  /// Called before every training step with Step::seed, e.g. to reseed the model's Dropout generators, so that a
  /// resumed run draws the masks an uninterrupted one draws.
  std::function<void(uint64_t seed)> reseed;
  /// Texts added to every checkpoint (e.g. the command line).
  CheckpointTexts texts;
  /// How a checkpoint is written: by default nn::save(path, model, optimizer, texts, scheduler) (`scheduler` is
  /// null when the trainer has none). A model owner replaces it to write a loadable bundle (its tokenizer and
  /// configuration beside the weights); it must pass `texts` and `scheduler` on.
  std::function<void(const std::filesystem::path& path, const Optimizer* optimizer, const LRScheduler* scheduler,
                     CheckpointTexts texts)>
      save;
  /// How last.nnck is read back on resume: by default nn::load(path, model, optimizer, scheduler); returns the
  /// texts. A replacement must pass `scheduler` on (nn::load then requires the file to hold its state).
  std::function<CheckpointTexts(const std::filesystem::path& path, Optimizer* optimizer, LRScheduler* scheduler)> load;
  /// One process of a data-parallel job (see Parallel; it must outlive fit); null: the only one. Checkpoints stay
  /// rank-free: a run resumes on any number of processes with the same global batch.
  Parallel* parallel = nullptr;
  /// With `parallel`: synchronised BatchNorm — in training mode every nn::BatchNorm of the model normalises with the
  /// statistics of the global batch (its per-channel sums are summed over the processes in the forward pass, and so
  /// are its gradient sums in the backward), so that N processes train as one process on the global batch. Off (the
  /// default): each process normalises with its own shard's statistics (as PyTorch's DistributedDataParallel
  /// without SyncBatchNorm), which costs no communication but makes the run depend on the number of processes.
  bool sync_batch_norm = false;
};

/// Hooks into the loop, for what later features plug in without touching it (data-parallel training averages the
/// gradients in after_backward).
struct TrainerCallbacks {
  std::function<void(const Step&)> after_backward;           ///< gradients are accumulated, not yet clipped or applied
  std::function<void(const Step&, double loss)> after_step;  ///< the optimiser (and scheduler) stepped
  std::function<void(const EpochResult&)> after_epoch;       ///< validation done, checkpoints written
  /// A resumed run's position, before its first step: the line fit notes, "train: resuming at epoch 2, step 17"
  /// (the next step to train), e.g. for a program that prints it without the progress output.
  std::function<void(const std::string& line)> resumed;
};

/// One epoch of batches turned into losses: what fit's template makes of a DataLoader and a loss function, so
/// that the loop itself is not a template.
class LossSource {
 public:
  virtual ~LossSource() = default;
  /// The number of batches in the epoch.
  virtual size_t steps() const = 0;
  /// The loss of the next batch, or nothing after the last.
  virtual std::optional<BatchLoss> next(const Step& step) = 0;
};

/// Throws nn::Error "WHO: OUT_DIR already holds a training run (last.nnck): continue it with resume (--resume) or
/// start afresh with overwrite (--overwrite)" when out_dir/last.nnck exists and neither flag is set; what fit checks
/// first, for programs that want to fail before their own slow preparation.
void check_new_run(const std::filesystem::path& out_dir, bool resume, bool overwrite, const std::string& who);

/// The training loop of a model, an optimiser and an optional schedule: fit() runs the epochs (see the file comment).
class Trainer {
 public:
  /// The trainer keeps references to the model, the optimiser and the scheduler: they must outlive it.
  /// Throws nn::Error for options out of range (epochs < 1, clip_grad_norm < 0, patience < 0).
  Trainer(Module& model, Optimizer& optimizer, TrainerOptions options, LRScheduler* scheduler = nullptr);
  /// Not copyable or movable: the default save and load functions refer to this trainer.
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// The hooks called during fit, to set before it.
  TrainerCallbacks& callbacks() { return callbacks_; }
  /// The options it was built with.
  const TrainerOptions& options() const { return options_; }

  /// Trains the remaining epochs on `train`'s batches, validating on `validation`'s (may be null) after each, with
  /// `loss(batch, step)` giving each batch's loss. Returns the whole history (resumed epochs included).
  /// Throws nn::Error: out_dir holds a run and neither resume nor overwrite is set; the loss or a gradient is not
  /// finite (naming epoch, step and the last good checkpoint, which is kept); last.nnck's "train.*" texts are
  /// malformed (naming the file and the entry); TrainingStopped on a stop request. With validation, best.nnck is
  /// the epoch with the lowest finite validation loss (none while no loss is finite).
  template <class Example, class Batch>
  std::vector<EpochResult> fit(const DataLoader<Example, Batch>& train,
                               std::type_identity_t<const DataLoader<Example, Batch>*> validation,
                               std::type_identity_t<std::function<BatchLoss(Batch& batch, const Step& step)>> loss);
  /// The same without validation (every epoch is the best: best.nnck follows last.nnck; no early stopping).
  template <class Example, class Batch>
  std::vector<EpochResult> fit(const DataLoader<Example, Batch>& train,
                               std::type_identity_t<std::function<BatchLoss(Batch& batch, const Step& step)>> loss) {
    return fit<Example, Batch>(train, nullptr, std::move(loss));
  }

  /// The loop behind fit: `train(epoch, first_step)` and `validation(epoch)` start an epoch's batches.
  using SourceFactory = std::function<std::unique_ptr<LossSource>(int epoch, size_t first_step)>;
  /// fit on LossSource factories; `validation` may be empty (no validation). Throws as fit. With
  /// TrainerOptions::parallel the sources must already give each process its shard (fit shards its batches itself;
  /// fit_sources cannot see inside a LossSource).
  std::vector<EpochResult> fit_sources(const SourceFactory& train, const SourceFactory& validation);

  /// The seed of a step: the same for (options.seed, epoch, step) in every run (and rank, with options.parallel).
  uint64_t step_seed(int epoch, size_t step) const;
  /// This process's part of every batch: the whole batch without options.parallel.
  Shard shard() const;
  /// With options.parallel, throws nn::Error when a batch of a loader of n examples would leave a process without
  /// examples (a last batch smaller than the number of processes: drop_last avoids it).
  void check_shards(size_t n, const DataLoaderOptions& loader, const std::string& who) const;

 private:
  struct Position;
  struct SyncBatchNorm;
  float step(BatchLoss& loss, const Step& step);
  EpochResult train_epoch(const SourceFactory& train, int epoch, Position& position);
  void end_epoch(EpochResult result, const SourceFactory& validation, Position& position);
  [[noreturn]] void stopped(const std::string& where);  // notes and throws TrainingStopped
  void remove_old_run();                                // what overwrite removes
  double validate(const SourceFactory& validation, int epoch);
  bool first_rank() const;             // alone, or rank 0: the process that writes and shows progress
  bool writes() const;                 // out_dir is set and this process writes it (rank 0)
  bool stop_requested();               // options.stop on some process
  void note(const std::string& line);  // to stderr (with progress on) and train.log
  std::string last_good() const;       // " (the last good checkpoint is …)" for error messages
  void save_checkpoint(const std::filesystem::path& path, const Position& position);
  void restore(Position& position);
  void write_reports(const Position& position, bool validated);
  std::filesystem::path path(const char* file) const { return options_.out_dir / file; }

  Module& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  LRScheduler* scheduler_;
  TrainerCallbacks callbacks_;
  std::FILE* log_ = nullptr;       // train.log while fit runs
  SyncBatchNorm* sync_ = nullptr;  // the BatchNorms' link to the other processes while fit runs (sync_batch_norm)
};

template <class Example, class Batch>
std::vector<EpochResult> Trainer::fit(
    const DataLoader<Example, Batch>& train, std::type_identity_t<const DataLoader<Example, Batch>*> validation,
    std::type_identity_t<std::function<BatchLoss(Batch& batch, const Step& step)>> loss) {
  class Source : public LossSource {
   public:
    Source(typename DataLoader<Example, Batch>::Epoch epoch, std::function<BatchLoss(Batch&, const Step&)>* loss)
        : epoch_(std::move(epoch)), loss_(loss) {}
    size_t steps() const override { return epoch_.steps(); }
    std::optional<BatchLoss> next(const Step& step) override {
      std::optional<Batch> batch = epoch_.next();
      if (!batch) return std::nullopt;
      return (*loss_)(*batch, step);
    }

   private:
    typename DataLoader<Example, Batch>::Epoch epoch_;
    std::function<BatchLoss(Batch&, const Step&)>* loss_;
  };
  auto train_source = [&](int epoch, size_t first_step) -> std::unique_ptr<LossSource> {
    return std::make_unique<Source>(train.epoch(epoch, first_step, shard()), &loss);
  };
  check_shards(train.size(), train.options(), options_.name);
  SourceFactory validation_source;
  if (validation != nullptr) {
    check_shards(validation->size(), validation->options(), options_.name + " (validation)");
    validation_source = [&](int epoch, size_t) -> std::unique_ptr<LossSource> {
      return std::make_unique<Source>(validation->epoch(epoch, 1, shard()), &loss);
    };
  }
  return fit_sources(train_source, validation_source);
}

}  // namespace nn
