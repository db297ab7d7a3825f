#include "nn/train/metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "nn/core/error.h"
#include "nn/io/checkpoint.h"

namespace nn {

int best_epoch_index(const std::vector<EpochResult>& history, bool validated) {
  if (!validated) return static_cast<int>(history.size()) - 1;
  int best = -1;
  for (size_t i = 0; i < history.size(); ++i) {
    const double v = history[i].val_loss;
    if (std::isfinite(v) && (best < 0 || v < history[best].val_loss)) best = static_cast<int>(i);
  }
  return best;
}

namespace {

// `v` with `digits` significant digits (17 round-trips a double), or `none` for NaN and ±inf.
std::string number(double v, const char* none, int digits = 17) {
  if (!std::isfinite(v)) return none;
  char text[32];
  std::snprintf(text, sizeof text, "%.*g", digits, v);
  return text;
}

}  // namespace

std::string metrics_csv(const std::vector<EpochResult>& history, bool validated) {
  const int best = best_epoch_index(history, validated);
  std::string out = "epoch,train_loss,val_loss,items,steps,seconds,best,lr\n";
  for (size_t i = 0; i < history.size(); ++i) {
    const EpochResult& r = history[i];
    out += std::to_string(r.epoch) + "," + number(r.train_loss, "") + "," + number(r.val_loss, "") + "," +
           number(r.items, "") + "," + std::to_string(r.steps) + "," + number(r.seconds, "", 6) + "," +
           (static_cast<int>(i) == best ? "1" : "0") + "," + number(r.lr, "", 6) + "\n";
  }
  return out;
}

std::string metrics_jsonl(const std::vector<EpochResult>& history, bool validated) {
  const int best = best_epoch_index(history, validated);
  std::string out;
  for (size_t i = 0; i < history.size(); ++i) {
    const EpochResult& r = history[i];
    out += "{\"epoch\": " + std::to_string(r.epoch) + ", \"train_loss\": " + number(r.train_loss, "null") +
           ", \"val_loss\": " + number(r.val_loss, "null") + ", \"items\": " + number(r.items, "null") +
           ", \"steps\": " + std::to_string(r.steps) + ", \"seconds\": " + number(r.seconds, "null", 6) +
           ", \"best\": " + (static_cast<int>(i) == best ? "true" : "false") + ", \"lr\": " + number(r.lr, "null", 6) +
           "}\n";
  }
  return out;
}

namespace {

// Round tick values covering [low, high], about `count` of them: steps of 1, 2, 2.5 or 5 × 10^k.
std::vector<double> ticks(double low, double high, int count) {
  const double raw = (high - low) / std::max(1, count);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double v = std::ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push_back(v);
  return out;
}

std::string fmt(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

}  // namespace

std::string loss_curve_svg(const std::vector<EpochResult>& history, bool validated, const std::string& label) {
  const double width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 50;
  double low = INFINITY, high = -INFINITY;
  for (const EpochResult& r : history)
    for (double v : {r.train_loss, r.val_loss}) {
      if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
    }
  if (!std::isfinite(low)) low = 0, high = 1;
  if (high - low < 1e-9) high = low + 1;
  const double pad = 0.05 * (high - low);
  low -= pad, high += pad;
  const int n = static_cast<int>(history.size());
  const int first = n ? history.front().epoch : 1, last = n ? history.back().epoch : 1;
  auto x = [&](double epoch) {
    return left + (last > first ? (width - left - right) * (epoch - first) / (last - first) : 0.0);
  };
  auto y = [&](double v) { return top + (height - top - bottom) * (high - v) / (high - low); };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // Axes, with ticks and labels.
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right << "\" y2=\""
      << height - bottom << "\" stroke=\"black\"/>\n<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
      << "\" y2=\"" << height - bottom << "\" stroke=\"black\"/>\n";
  for (double v : ticks(low, high, 6)) {
    svg << "<line class=\"ytick\" x1=\"" << left - 5 << "\" y1=\"" << y(v) << "\" x2=\"" << left << "\" y2=\"" << y(v)
        << "\" stroke=\"black\"/><text x=\"" << left - 8 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">" << fmt(v)
        << "</text>\n";
  }
  for (double e : ticks(first, std::max(last, first + 1), std::min(10, std::max(1, last - first)))) {
    if (e != std::floor(e) || e > last) continue;
    svg << "<line class=\"xtick\" x1=\"" << x(e) << "\" y1=\"" << height - bottom << "\" x2=\"" << x(e) << "\" y2=\""
        << height - bottom + 5 << "\" stroke=\"black\"/><text x=\"" << x(e) << "\" y=\"" << height - bottom + 18
        << "\" text-anchor=\"middle\">" << e << "</text>\n";
  }
  svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">epoch</text>\n<text x=\"15\" y=\"" << (top + height - bottom) / 2
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 15 " << (top + height - bottom) / 2 << ")\">" << label
      << "</text>\n";
  // The two series.
  const char* colours[2] = {"#2471a3", "#e67e22"};
  for (int series = 0; series < 2; ++series) {
    svg << "<polyline class=\"" << (series ? "validation" : "train") << "\" fill=\"none\" stroke-width=\"2\" stroke=\""
        << colours[series] << "\" points=\"";
    for (const EpochResult& r : history) {
      const double v = series ? r.val_loss : r.train_loss;
      if (std::isfinite(v)) svg << x(r.epoch) << "," << y(v) << " ";
    }
    svg << "\"/>\n";
  }
  // The best epoch: a dashed vertical line and a dot on its validation loss.
  const int best = best_epoch_index(history, validated);
  if (best >= 0) {
    const EpochResult& b = history[best];
    svg << "<line class=\"best\" x1=\"" << x(b.epoch) << "\" y1=\"" << top << "\" x2=\"" << x(b.epoch) << "\" y2=\""
        << height - bottom << "\" stroke=\"#27ae60\" stroke-dasharray=\"4 3\"/>\n";
    if (std::isfinite(b.val_loss))
      svg << "<circle cx=\"" << x(b.epoch) << "\" cy=\"" << y(b.val_loss) << "\" r=\"4\" fill=\"#27ae60\"/>\n";
  }
  // The legend.
  const char* names[3] = {"train", "validation", "best epoch"};
  const char* legend_colours[3] = {colours[0], colours[1], "#27ae60"};
  for (int k = 0; k < 3; ++k) {
    const double lx = left + 10 + 150 * k;
    svg << "<line x1=\"" << lx << "\" y1=\"20\" x2=\"" << lx + 20 << "\" y2=\"20\" stroke-width=\"2\" stroke=\""
        << legend_colours[k] << "\"" << (k == 2 ? " stroke-dasharray=\"4 3\"" : "") << "/><text x=\"" << lx + 26
        << "\" y=\"24\">" << names[k] << (k == 2 && best >= 0 ? " (" + std::to_string(history[best].epoch) + ")" : "")
        << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) fail(path.string(), "write failed");
  });
}

}  // namespace nn
