// Learning-rate schedules. A scheduler changes its optimiser's learning rate(s) as training goes on; the Trainer
// (nn/train/trainer.h) calls after_step() after every optimiser step and after_epoch() after every epoch, and saves
// state() in its checkpoints beside the optimiser's, so that a resumed run continues the schedule exactly.
#pragma once

#include <string>

#include "nn/module.h"

namespace nn {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  // After every optimiser step (schedules counted in steps act here).
  virtual void after_step() {}
  // After every epoch, with that epoch's validation loss (NaN when there is none).
  virtual void after_epoch(double validation_loss) { (void)validation_loss; }
  // The schedule's position as named tensors; load_state restores it (nn::Error naming the entry on a mismatch).
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state) = 0;
  // One line for logs, e.g. "CosineWithWarmup(warmup=100, total=5000, min=0)".
  virtual std::string to_string() const = 0;
};

}  // namespace nn
