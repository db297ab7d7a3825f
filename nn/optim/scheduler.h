/// @file
/// Learning-rate schedules. A scheduler changes its optimiser's learning rate(s) as training goes on; the Trainer
/// (nn/train/trainer.h) calls after_step() after every optimiser step and after_epoch() after every epoch, and saves
/// state() in its checkpoints beside the optimiser's, so that a resumed run continues the schedule exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/layers/module.h"

namespace nn {

/// The interface every learning-rate schedule implements (the Trainer calls it).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  /// After every optimiser step (schedules counted in steps act here).
  virtual void after_step() {}
  /// After every epoch, with that epoch's validation loss (NaN when there is none).
  virtual void after_epoch(double validation_loss) { (void)validation_loss; }
  /// The schedule's position as named tensors; load_state restores it (nn::Error naming the entry on a mismatch).
  virtual NamedTensors state() const = 0;
  /// Restores a position from state(); nn::Error naming the entry on a mismatch.
  virtual void load_state(const NamedTensors& state) = 0;
  /// One line for logs, e.g. "CosineWithWarmup(warmup=100, total=5000, min_lr=0, per step)".
  virtual std::string to_string() const = 0;
};

class Optimizer;

/// What a schedule counts: optimiser steps (after_step) or epochs (after_epoch).
enum class ScheduleUnit { step, epoch };

/// The base of the schedules whose rate is a function of a count and of each group's base rate (the group's rate
/// when the schedule was made). The constructor sets the rates for count 0, each after_step() or after_epoch()
/// (whichever the unit says) advances the count and sets the rates again; load_state() restores the count and the
/// base rates and sets the rates. The optimiser must outlive the schedule.
class CountingScheduler : public LRScheduler {
 public:
  void after_step() override;
  void after_epoch(double validation_loss) override;
  /// "type.<Name>", "count" (steps or epochs so far) and "base_lrs" (one per group).
  NamedTensors state() const override;
  /// nn::Error naming the entry for another schedule's state, another number of groups, or a value out of range.
  void load_state(const NamedTensors& state) override;

  /// Steps or epochs counted so far.
  int64_t count() const { return count_; }
  /// Each group's base rate.
  const std::vector<float>& base_learning_rates() const { return base_lrs_; }
  /// The rate a group with base rate `base` gets after `count` units.
  virtual double rate(double base, int64_t count) const = 0;

 protected:
  /// Schedules `optimizer`'s groups, taking their current rates as base rates; counts in `unit`; `type` names the
  /// schedule in its state and in errors.
  CountingScheduler(Optimizer& optimizer, ScheduleUnit unit, std::string type);
  /// Sets every group's rate for the current count (the derived constructor calls it once it is complete).
  void apply();
  /// " per step" or " per epoch", for to_string().
  std::string unit_text() const;

 private:
  void advance();

  Optimizer& optimizer_;
  ScheduleUnit unit_;
  std::string type_;
  int64_t count_ = 0;
  std::vector<float> base_lrs_;
};

/// StepLR's options.
struct StepLROptions {
  int64_t step_size = 1;                    ///< units between decays, > 0
  double gamma = 0.1;                       ///< factor of each decay, > 0
  ScheduleUnit unit = ScheduleUnit::epoch;  ///< PyTorch's usual use: per epoch
};

/// torch.optim.lr_scheduler.StepLR: rate = base·γ^⌊count / step_size⌋.
class StepLR : public CountingScheduler {
 public:
  /// Throws nn::Error for step_size <= 0 or gamma <= 0.
  StepLR(Optimizer& optimizer, const StepLROptions& options);
  double rate(double base, int64_t count) const override;
  std::string to_string() const override;  ///< "StepLR(step_size=30, gamma=0.1, per epoch)"

 private:
  StepLROptions options_;
};

/// ExponentialLR's options.
struct ExponentialLROptions {
  double gamma = 0.9;                       ///< factor per unit, > 0
  ScheduleUnit unit = ScheduleUnit::epoch;  ///< PyTorch's usual use: per epoch
};

/// torch.optim.lr_scheduler.ExponentialLR: rate = base·γ^count.
class ExponentialLR : public CountingScheduler {
 public:
  /// Throws nn::Error for gamma <= 0.
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options);
  double rate(double base, int64_t count) const override;
  std::string to_string() const override;  ///< "ExponentialLR(gamma=0.9, per epoch)"

 private:
  ExponentialLROptions options_;
};

/// CosineWithWarmup's options.
struct CosineWithWarmupOptions {
  int64_t warmup = 0;                      ///< units of linear warm-up, 0 <= warmup <= total
  int64_t total = 1;                       ///< units until the rate reaches min_lr, > 0
  double min_lr = 0.0;                     ///< the floor (the same for every group), 0 <= min_lr
  ScheduleUnit unit = ScheduleUnit::step;  ///< usually per step
};

/// Linear warm-up, then a half cosine down to min_lr. With c units counted so far (the rate for unit c + 1):
///   c < warmup:            rate = base·(c + 1)/warmup                 (the first step already moves)
///   c >= warmup:           p = min(1, (c − warmup)/(total − warmup)),
///                          rate = min_lr + (base − min_lr)·(1 + cos(π·p))/2   (base at c = warmup, min_lr from c =
///                          total).
class CosineWithWarmup : public CountingScheduler {
 public:
  /// Throws nn::Error unless 0 <= warmup <= total, total > 0 and min_lr >= 0.
  CosineWithWarmup(Optimizer& optimizer, const CosineWithWarmupOptions& options);
  double rate(double base, int64_t count) const override;
  std::string to_string() const override;  ///< "CosineWithWarmup(warmup=100, total=5000, min_lr=0, per step)"

 private:
  CosineWithWarmupOptions options_;
};

/// How ReduceLROnPlateau decides that a loss improved on the best so far.
enum class ThresholdMode {
  relative,  ///< loss < best·(1 − threshold)
  absolute,  ///< loss < best − threshold
};

/// ReduceLROnPlateau's options; the defaults are PyTorch's.
struct ReduceLROnPlateauOptions {
  double factor = 0.1;      ///< new rate = max(rate·factor, min_lr), 0 < factor < 1
  int64_t patience = 10;    ///< epochs without improvement tolerated; the next one reduces, >= 0
  double threshold = 1e-4;  ///< the least improvement that counts, >= 0
  ThresholdMode threshold_mode = ThresholdMode::relative;  ///< how `threshold` compares a loss with the best
  int64_t cooldown = 0;  ///< epochs after a reduction during which bad epochs are not counted, >= 0
  double min_lr = 0.0;   ///< the floor, >= 0
  double eps = 1e-8;     ///< a change of the rate smaller than this is not made
};

/// torch.optim.lr_scheduler.ReduceLROnPlateau in mode "min", acting in after_epoch() on the validation loss: after
/// more than `patience` epochs without improvement it multiplies every group's rate by `factor`. It works on the
/// optimiser's current rates (which the optimiser's state saves), not on base rates. A NaN validation loss (no
/// validation data) is an nn::Error: this schedule needs one.
class ReduceLROnPlateau : public LRScheduler {
 public:
  /// Throws nn::Error for an option out of range. The optimiser must outlive the schedule.
  ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  void after_epoch(double validation_loss) override;
  /// "type.ReduceLROnPlateau", "best", "bad_epochs", "cooldown_counter".
  NamedTensors state() const override;
  /// Restores best, bad_epochs and cooldown_counter from state(); nn::Error naming the entry on a mismatch.
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;  ///< "ReduceLROnPlateau(factor=0.1, patience=10, …)"

  /// The best loss so far (+inf before the first epoch), as a float (what the state saves).
  float best() const { return best_; }
  /// Epochs since the last improvement, not counting cooldown epochs.
  int64_t bad_epochs() const { return bad_epochs_; }

 private:
  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  float best_;
  int64_t bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace nn
