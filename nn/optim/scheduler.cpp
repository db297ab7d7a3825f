#include "nn/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "nn/core/error.h"
#include "nn/optim/optimizer.h"

namespace nn {
namespace {

// nn::Error unless `state` holds no other schedule's "type." tag.
void check_schedule_type(const std::string& type, const NamedTensors& state) {
  for (const auto& [name, t] : state) {
    if (name.starts_with("type.") && name != "type." + type) {
      fail(type + "::load_state",
           "the state is another schedule's (entry '" + printable(name) + "'), expected 'type." + type + "'");
    }
  }
}

void check(bool ok, const char* who, const char* what, double value) {
  if (!ok) fail_expected(who, what, detail::number(value));
}

}  // namespace

// ---- CountingScheduler ----

CountingScheduler::CountingScheduler(Optimizer& optimizer, ScheduleUnit unit, std::string type)
    : optimizer_(optimizer), unit_(unit), type_(std::move(type)) {
  for (size_t g = 0; g < optimizer_.group_count(); ++g) base_lrs_.push_back(optimizer_.learning_rate(g));
}

void CountingScheduler::apply() {
  for (size_t g = 0; g < base_lrs_.size(); ++g) {
    optimizer_.set_learning_rate(static_cast<float>(rate(base_lrs_[g], count_)), g);
  }
}

void CountingScheduler::advance() {
  ++count_;
  apply();
}

void CountingScheduler::after_step() {
  if (unit_ == ScheduleUnit::step) advance();
}

void CountingScheduler::after_epoch(double validation_loss) {
  (void)validation_loss;
  if (unit_ == ScheduleUnit::epoch) advance();
}

std::string CountingScheduler::unit_text() const {
  return unit_ == ScheduleUnit::step ? "per step" : "per epoch";
}

NamedTensors CountingScheduler::state() const {
  return {{"type." + type_, Tensor::scalar(1.0f)},
          {"count", detail::count_tensor(count_)},
          {"base_lrs", Tensor::from_data({static_cast<int64_t>(base_lrs_.size())}, base_lrs_)}};
}

void CountingScheduler::load_state(const NamedTensors& state) {
  const std::string who = type_ + "::load_state";
  check_schedule_type(type_, state);
  const int64_t count = detail::read_count(who, state, "count");
  NamedTensors expected = this->state();  // fresh tensors for load_named to fill
  detail::load_named(who.c_str(), state, expected);
  const Tensor& bases = expected[2].second;
  for (int64_t g = 0; g < bases.numel(); ++g) {
    const float base = bases.data()[g];
    if (!(base >= 0.0f) || !std::isfinite(base)) {
      fail_expected(who, "state tensor 'base_lrs' of finite rates >= 0",
                    detail::number(base) + " for group " + std::to_string(g));
    }
  }
  count_ = count;
  base_lrs_ = bases.to_vector();
  apply();
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options)
    : CountingScheduler(optimizer, options.unit, "StepLR"), options_(options) {
  check(options.step_size > 0, "StepLR", "step_size > 0", static_cast<double>(options.step_size));
  check(options.gamma > 0.0 && std::isfinite(options.gamma), "StepLR", "gamma > 0", options.gamma);
  apply();
}

double StepLR::rate(double base, int64_t count) const {
  return base * std::pow(options_.gamma, static_cast<double>(count / options_.step_size));
}

std::string StepLR::to_string() const {
  return "StepLR(step_size=" + std::to_string(options_.step_size) + ", gamma=" + detail::number(options_.gamma) + ", " +
         unit_text() + ")";
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& options)
    : CountingScheduler(optimizer, options.unit, "ExponentialLR"), options_(options) {
  check(options.gamma > 0.0 && std::isfinite(options.gamma), "ExponentialLR", "gamma > 0", options.gamma);
  apply();
}

double ExponentialLR::rate(double base, int64_t count) const {
  return base * std::pow(options_.gamma, static_cast<double>(count));
}

std::string ExponentialLR::to_string() const {
  return "ExponentialLR(gamma=" + detail::number(options_.gamma) + ", " + unit_text() + ")";
}

// ---- CosineWithWarmup ----

CosineWithWarmup::CosineWithWarmup(Optimizer& optimizer, const CosineWithWarmupOptions& options)
    : CountingScheduler(optimizer, options.unit, "CosineWithWarmup"), options_(options) {
  check(options.total > 0, "CosineWithWarmup", "total > 0", static_cast<double>(options.total));
  check(options.warmup >= 0 && options.warmup <= options.total, "CosineWithWarmup",
        ("warmup in [0, total = " + std::to_string(options.total) + "]").c_str(), static_cast<double>(options.warmup));
  check(options.min_lr >= 0.0 && std::isfinite(options.min_lr), "CosineWithWarmup", "min_lr >= 0", options.min_lr);
  apply();
}

double CosineWithWarmup::rate(double base, int64_t count) const {
  const int64_t warmup = options_.warmup, total = options_.total;
  if (count < warmup) return base * static_cast<double>(count + 1) / static_cast<double>(warmup);
  const double progress =
      count >= total ? 1.0 : static_cast<double>(count - warmup) / static_cast<double>(total - warmup);
  return options_.min_lr + (base - options_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

std::string CosineWithWarmup::to_string() const {
  return "CosineWithWarmup(warmup=" + std::to_string(options_.warmup) + ", total=" + std::to_string(options_.total) +
         ", min_lr=" + detail::number(options_.min_lr) + ", " + unit_text() + ")";
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options), best_(std::numeric_limits<float>::infinity()) {
  const char* who = "ReduceLROnPlateau";
  check(options.factor > 0.0 && options.factor < 1.0, who, "factor in (0, 1)", options.factor);
  check(options.patience >= 0, who, "patience >= 0", static_cast<double>(options.patience));
  check(options.threshold >= 0.0 && std::isfinite(options.threshold), who, "threshold >= 0", options.threshold);
  check(options.cooldown >= 0, who, "cooldown >= 0", static_cast<double>(options.cooldown));
  check(options.min_lr >= 0.0 && std::isfinite(options.min_lr), who, "min_lr >= 0", options.min_lr);
  check(options.eps >= 0.0 && std::isfinite(options.eps), who, "eps >= 0", options.eps);
}

void ReduceLROnPlateau::after_epoch(double validation_loss) {
  if (std::isnan(validation_loss)) {
    fail("ReduceLROnPlateau", "expected a validation loss after the epoch, got NaN (is there validation data?)");
  }
  const double best = best_;
  const bool better = options_.threshold_mode == ThresholdMode::relative
                          ? validation_loss < best * (1.0 - options_.threshold)
                          : validation_loss < best - options_.threshold;
  if (better) {
    best_ = static_cast<float>(validation_loss);  // a float, as the state holds it: a resumed run decides alike
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > options_.patience) {
    for (size_t g = 0; g < optimizer_.group_count(); ++g) {
      const double old_lr = optimizer_.learning_rate(g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) optimizer_.set_learning_rate(static_cast<float>(new_lr), g);
    }
    cooldown_counter_ = options_.cooldown;
    bad_epochs_ = 0;
  }
}

NamedTensors ReduceLROnPlateau::state() const {
  return {{"type.ReduceLROnPlateau", Tensor::scalar(1.0f)},
          {"best", Tensor::scalar(best_)},
          {"bad_epochs", detail::count_tensor(bad_epochs_)},
          {"cooldown_counter", detail::count_tensor(cooldown_counter_)}};
}

void ReduceLROnPlateau::load_state(const NamedTensors& state) {
  const std::string who = "ReduceLROnPlateau::load_state";
  check_schedule_type("ReduceLROnPlateau", state);
  const int64_t bad_epochs = detail::read_count(who, state, "bad_epochs");
  const int64_t cooldown_counter = detail::read_count(who, state, "cooldown_counter");
  NamedTensors expected = this->state();  // fresh tensors for load_named to fill
  detail::load_named(who.c_str(), state, expected);
  const float best = expected[1].second.item();
  if (std::isnan(best)) fail_expected(who, "state tensor 'best' a loss or +inf", "NaN");
  best_ = best;
  bad_epochs_ = bad_epochs;
  cooldown_counter_ = cooldown_counter;
}

std::string ReduceLROnPlateau::to_string() const {
  const ReduceLROnPlateauOptions& o = options_;
  return "ReduceLROnPlateau(factor=" + detail::number(o.factor) + ", patience=" + std::to_string(o.patience) +
         ", threshold=" + detail::number(o.threshold) +
         (o.threshold_mode == ThresholdMode::relative ? " (relative)" : " (absolute)") +
         ", cooldown=" + std::to_string(o.cooldown) + ", min_lr=" + detail::number(o.min_lr) + ", per epoch)";
}

}  // namespace nn
