// A progress bar on stderr with count, rate and time left, redrawn at most five times a second.
#pragma once

#include <chrono>
#include <string>

namespace captioning {

class Progress {
 public:
  Progress(std::string label, size_t total, std::string unit, bool enabled = true);
  void advance(size_t n = 1);
  void finish();  // the final line, and a newline

 private:
  void draw(bool final);
  std::string label_, unit_;
  size_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace captioning
