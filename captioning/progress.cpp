#include "captioning/progress.h"

#include <cstdio>

namespace captioning {

Progress::Progress(std::string label, size_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::advance(size_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ > std::chrono::milliseconds(200)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (enabled_) draw(true);
}

void Progress::draw(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0;
  const double left = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0;
  const int width = 30, filled = total_ ? static_cast<int>(width * done_ / total_) : width;
  std::string bar(filled, '=');
  bar.resize(width, ' ');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f %s/s, %s %d:%02d", label_.c_str(), bar.c_str(), done_, total_, rate,
               unit_.c_str(), final ? "took" : "ETA", static_cast<int>((final ? seconds : left) / 60),
               static_cast<int>(final ? seconds : left) % 60);
  if (final) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace captioning
