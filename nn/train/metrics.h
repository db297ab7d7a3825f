/// @file
/// What a training run reports: one EpochResult per epoch, written as metrics.csv and metrics.jsonl, and drawn as
/// an SVG loss plot (training and validation loss per epoch, axes with ticks, a legend, the best epoch marked).
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nn {

/// The figures of one epoch.
struct EpochResult {
  int epoch = 0;            ///< 1-based
  double train_loss = NAN;  ///< mean loss per item over the epoch's training batches
  double val_loss = NAN;    ///< mean loss per item over the validation set; NaN without one
  double seconds = 0;       ///< wall time of training and validation (of the last part only, for a resumed epoch)
  double items = 0;         ///< training items (BatchLoss::items summed)
  size_t steps = 0;         ///< training steps
  double lr = NAN;          ///< the learning rate of the optimiser's group 0 in the epoch's last step
};

/// The index in `history` of the best epoch. With a validation set (`validated`), an epoch is the best when its
/// validation loss is finite and lower than every earlier one: the lowest finite loss, the first of equals, or −1
/// when no epoch has a finite loss (NaN from an empty validation set, +inf). Without one, the last epoch. −1 for
/// an empty history. The Trainer writes best.nnck at this epoch, and the metrics, the plot and the log mark it.
int best_epoch_index(const std::vector<EpochResult>& history, bool validated);

/// metrics.csv: a header "epoch,train_loss,val_loss,items,steps,seconds,best,lr" and one row per epoch: best = 1 on
/// the best epoch (best_epoch_index) and 0 elsewhere; losses and items written to round-trip, seconds and lr with
/// 6 significant digits; NaN as an empty field.
std::string metrics_csv(const std::vector<EpochResult>& history, bool validated);
/// metrics.jsonl: one JSON object per epoch with the same fields ("best": true/false; NaN as null).
std::string metrics_jsonl(const std::vector<EpochResult>& history, bool validated);

/// An SVG line chart of training and validation loss per epoch: axes with ticks and labels, a legend, and the best
/// epoch (best_epoch_index) marked. `label` names the loss ("loss per word").
std::string loss_curve_svg(const std::vector<EpochResult>& history, bool validated, const std::string& label = "loss");

/// Writes `text` to `path` atomically (nn::write_file_atomically); throws nn::Error naming the path.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace nn
