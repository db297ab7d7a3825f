#include "nn/ops/window.h"

#include <algorithm>
#include <tuple>

#include "nn/core/error.h"

namespace nn {

const char* to_string(Padding padding) {
  return padding == Padding::same ? "same" : "valid";
}

namespace {

// Output extent and padding before, along one axis.
std::pair<int64_t, int64_t> plan_axis(const char* op, const char* axis, int64_t in, int64_t k, int64_t s,
                                      Padding padding) {
  if (padding == Padding::valid) {
    if (k > in) {
      fail_expected(op,
                    std::string("a kernel no larger than the input along ") + axis + " (" + std::to_string(in) +
                        ") with valid padding",
                    "kernel " + std::to_string(k));
    }
    return {(in - k) / s + 1, 0};
  }
  int64_t out = (in + s - 1) / s;
  int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
  return {out, total / 2};
}

}  // namespace

kernels::Window2D plan_window(const char* op, const Shape& input, const WindowSpec& spec, int64_t out_channels) {
  if (input.size() != 4) fail_expected(op, "an NHWC input of rank 4", "shape " + to_string(input));
  if (spec.kh < 1 || spec.kw < 1) {
    fail_expected(op, "a kernel of at least 1×1", std::to_string(spec.kh) + "×" + std::to_string(spec.kw));
  }
  if (spec.sh < 1 || spec.sw < 1) {
    fail_expected(op, "strides of at least 1", std::to_string(spec.sh) + "×" + std::to_string(spec.sw));
  }
  if (input[1] < 1 || input[2] < 1) fail_expected(op, "an input of at least 1×1 pixels", "shape " + to_string(input));
  kernels::Window2D g;
  g.n = input[0];
  g.h = input[1];
  g.w = input[2];
  g.c = input[3];
  g.kh = spec.kh;
  g.kw = spec.kw;
  g.sh = spec.sh;
  g.sw = spec.sw;
  std::tie(g.oh, g.pad_top) = plan_axis(op, "height", g.h, g.kh, g.sh, spec.padding);
  std::tie(g.ow, g.pad_left) = plan_axis(op, "width", g.w, g.kw, g.sw, spec.padding);
  g.oc = out_channels;
  return g;
}

}  // namespace nn
