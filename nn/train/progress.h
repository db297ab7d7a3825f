/// @file
/// Progress on stderr for long loops: count/total, rate, time left (and the loss for training steps). On a
/// terminal one line is redrawn in place at most five times a second; otherwise (a pipe, a log file) a plain line
/// is printed at most every `plain_every` seconds, so logs stay short.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <string>

namespace nn {

/// Whether stderr is a terminal.
bool stderr_is_terminal();

/// A progress line for a loop of `total` steps: "LABEL STEP/TOTAL[, loss L], R UNIT/s, ETA M:SS" while it runs and
/// "…, took M:SS" at the end, drawn on stderr (in place on a terminal) when enabled; line() gives the text for a log.
///
///     nn::Progress progress("epoch 3/20", loader.steps(), "images");
///     for (size_t k = 1; auto batch = epoch.next(); ++k) progress.update(k, batch_size, loss);
///     progress.finish();
class Progress {
 public:
  /// `label` starts the line ("epoch 3"), `unit` names what is counted per second ("images", "words").
  Progress(std::string label, size_t total, std::string unit, bool enabled = true, double plain_every = 10.0);
  /// n more done (counted both as steps and as items).
  void advance(size_t n = 1) { update(done_steps_ + n, static_cast<double>(n), NAN); }
  /// Starts counting at `step` already done (a resumed epoch), so that the rate and ETA count only new steps.
  void start_at(size_t step) { done_steps_ = start_step_ = step; }
  /// Step `step` of total done, `items` more items, the running loss (NaN: not shown).
  void update(size_t step, double items, double loss);
  /// The final line (with the time taken), and a newline on a terminal.
  void finish();
  /// The current line's text, without the terminal's control characters.
  std::string line(bool final) const;

 private:
  void draw(bool final);
  std::string label_, unit_;
  size_t total_, done_steps_ = 0, start_step_ = 0;
  double items_ = 0, loss_ = NAN, plain_every_;
  bool enabled_, terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace nn
