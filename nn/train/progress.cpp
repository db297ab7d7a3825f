#include "nn/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace nn {

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, size_t total, std::string unit, bool enabled, double plain_every)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      plain_every_(plain_every),
      enabled_(enabled),
      terminal_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(size_t step, double items, double loss) {
  done_steps_ = step;
  items_ += items;
  if (!std::isnan(loss)) loss_ = loss;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto every = terminal_ ? std::chrono::duration<double>(0.2) : std::chrono::duration<double>(plain_every_);
  if (now - last_draw_ > every) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (enabled_) draw(true);
}

std::string Progress::line(bool final) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double step_rate = seconds > 0 ? (done_steps_ - start_step_) / seconds : 0;
  const double left = step_rate > 0 && total_ > done_steps_ ? (total_ - done_steps_) / step_rate : 0;
  const int shown = static_cast<int>(final ? seconds : left);
  char text[256];
  int n = std::snprintf(text, sizeof text, "%s %zu/%zu", label_.c_str(), done_steps_, total_);
  if (!std::isnan(loss_)) n += std::snprintf(text + n, sizeof text - n, ", loss %.4f", loss_);
  std::snprintf(text + n, sizeof text - n, ", %.1f %s/s, %s %d:%02d", seconds > 0 ? items_ / seconds : 0.0,
                unit_.c_str(), final ? "took" : "ETA", shown / 60, shown % 60);
  return text;
}

void Progress::draw(bool final) {
  const std::string text = line(final);
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K%s", text.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

}  // namespace nn
