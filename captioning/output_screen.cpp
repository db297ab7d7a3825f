#include "captioning/output_screen.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <nn/core/error.h>
#include <nn/ops/ops.h>

#include "captioning/decode_step.h"
#include "captioning/output_screen_kernels.h"

namespace captioning {

namespace {

constexpr double kUnit = 0x1p-24;  // ε: f32's unit roundoff (output_screen.h)

// v rounded up to the next f32 (a bound stays a bound after the conversion).
float round_up(double v) {
  const float f = static_cast<float>(v);
  return static_cast<double>(f) >= v ? f : std::nextafter(f, std::numeric_limits<float>::infinity());
}

// Values (n) as bytes u in [0, kScreenByteMax], value ≈ scale·(u − zero): the range [min(values, 0), max(values, 0)]
// in kScreenByteMax steps, so that 0 is exact (a ReLU's row gets zero point 0 and every step), and the squared error
// Σ (value − scale·(u − zero))², each term exact in double (a float minus a float times a small integer that rounds it
// to within half a step) and summed in any order (the caller rounds its root up by far more than the order changes).
// A zero scale — all values 0, or a range too small for a nonzero float step — gives zero bytes and the error Σ value².
struct ByteImage {
  float scale;
  int32_t zero;
  double error2;
};
// Rounding is to the nearest integer, ties to even, as std::nearbyint rounds in the default mode: adding and taking
// away 1.5·2⁵² leaves a double of magnitude below 2⁵¹ no fraction bits (baseline x86-64 has no rounding instruction;
// a libm call per value, and the row's loops in order, made quantizing a row take 2.1 µs against 1.7 now, on an Intel
// Xeon). It relies on IEEE arithmetic as written: no reassociation, which -ffast-math would allow.
#if defined(__FAST_MATH__)
#error "output_screen.cpp rounds by adding and taking away 1.5·2⁵²: -ffast-math would fold that away"
#endif
ByteImage to_bytes(const float* values, int64_t n, uint8_t* bytes) {
  float low = 0, high = 0;
#pragma omp simd reduction(min : low) reduction(max : high)
  for (int64_t i = 0; i < n; ++i) {  // (std::min and std::max here kept GCC 12 from vectorising the loop)
    low = values[i] < low ? values[i] : low;
    high = values[i] > high ? values[i] : high;
  }
  const float scale = static_cast<float>((double{high} - double{low}) / kScreenByteMax);
  double error2 = 0;
  if (!(scale > 0)) {
    std::fill_n(bytes, n, uint8_t{0});
#pragma omp simd reduction(+ : error2)
    for (int64_t i = 0; i < n; ++i) error2 += double{values[i]} * values[i];
    return {0.0f, 0, error2};
  }
  constexpr double kRound = 0x1.8p52;
  // |value / scale| ≤ 127, or ≤ 2·127 where the scale is a subnormal rounded to nearest: far below 2⁵¹.
  const double zero_point = std::clamp((-double{low} / scale + kRound) - kRound, 0.0, double{kScreenByteMax});
  const auto zero = static_cast<int32_t>(zero_point);
#pragma omp simd reduction(+ : error2)
  for (int64_t i = 0; i < n; ++i) {
    const double u =
        std::clamp((double{values[i]} / scale + kRound) - kRound + zero_point, 0.0, double{kScreenByteMax});
    bytes[i] = static_cast<uint8_t>(u);
    const double rest = values[i] - double{scale} * (u - zero_point);
    error2 += rest * rest;
  }
  return {scale, zero, error2};
}

// Step 4 of OutputScreen::logits: puts the exact values (rows, C) of the columns `chosen` (C) into the logits z
// (rows, V), and returns each row's log Σ e^z over them: the pass's sum over the estimates (each term ≤ 1, the largest
// 1; exp_sums, at a shift of largest), less the exact columns' estimates' terms, plus their f32 values' (by the same
// exp_sum: a handful of terms). e^x saturates at e^88: a row whose f32 values reach 80 above its largest estimate —
// where ‖x‖ is not finite, or the bounds are wider than that — is summed again from its logits by log_sum_exp_rows;
// so is a row whose sum is not above 2⁻²⁰ of the estimates' (the exact columns held nearly all of it, and their f32
// values lie far below: the difference would be the two sums' rounding).
std::vector<float> exact_and_log_sum_exps(nn::Tensor& z, const std::vector<int32_t>& chosen, const float* exact_values,
                                          const ScreenRowNorms* norms, const float* largest, const double* exp_sums) {
  const int64_t rows = z.dim(0), v = z.dim(1), count = static_cast<int64_t>(chosen.size());
  float* zs = z.data();
  const ExpSum exp_sum = active_exp_sum();
  thread_local std::vector<float> estimates;
  estimates.resize(static_cast<size_t>(count));
  std::vector<float> log_sum_exp(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    bool in_range = std::isfinite(norms[r].x_norm) && std::isfinite(largest[r]);
    for (int64_t i = 0; i < count; ++i) {
      float& logit = zs[r * v + chosen[i]];
      estimates[i] = logit;
      logit = exact_values[r * count + i];
      in_range = in_range && logit - largest[r] <= 80;  // false for NaN too
    }
    const double total = in_range ? exp_sums[r] + exp_sum(count, exact_values + r * count, largest[r]) -
                                        exp_sum(count, estimates.data(), largest[r])
                                  : 0;
    log_sum_exp[r] = in_range && std::isfinite(total) && total > 0x1p-20 * exp_sums[r]
                         ? largest[r] + static_cast<float>(std::log(total))
                         : log_sum_exp_rows(nn::slice(z, 0, r, r + 1)).front();
  }
  return log_sum_exp;
}

}  // namespace

WeightSample::WeightSample(const nn::Tensor& weights) : shape_(weights.shape()) {
  if (weights.dtype() != nn::DType::f32)
    nn::fail_expected("WeightSample", "f32 weights", nn::dtype_name(weights.dtype()));
  const int64_t total = weights.numel();
  stride_ = std::max<int64_t>(1, total / 64) | 1;  // odd: a sample of a (K, V) matrix visits columns in turn
  for (int64_t i = 0; i < total; i += stride_) values_.push_back(weights.data()[i]);
}

bool WeightSample::matches(const nn::Tensor& weights) const {
  if (weights.dtype() != nn::DType::f32 || weights.shape() != shape_) return false;
  const float* w = weights.data();
  for (size_t s = 0; s < values_.size(); ++s) {
    if (std::memcmp(&w[static_cast<int64_t>(s) * stride_], &values_[s], sizeof(float)) != 0) return false;
  }
  return true;
}

OutputScreen::OutputScreen(const nn::Dense& output) : in_(output.options().in), out_(output.options().out) {
  const nn::Tensor& kernel = output.kernel();
  const bool f32_bias = !output.bias().defined() || output.bias().dtype() == nn::DType::f32;
  if (kernel.dtype() != nn::DType::f32 || !f32_bias || output.options().activation != nn::Activation::linear) {
    nn::fail_expected("OutputScreen", "a Dense layer with f32 weights and no activation",
                      std::string(nn::dtype_name(kernel.dtype())) + " weights" +
                          (f32_bias ? "" : std::string(", ") + nn::dtype_name(output.bias().dtype()) + " bias") +
                          ", activation " + nn::to_string(output.options().activation));
  }
  if (in_ > kMaxInputs) {  // |Σ u·q|, |z·Σ q| ≤ 127·127·K < 2³¹
    nn::fail_expected("OutputScreen", "at most " + std::to_string(kMaxInputs) + " inputs", std::to_string(in_));
  }
  kernel_sample_ = WeightSample(kernel);
  const int64_t k = in_, v = out_;
  tiles_ = (v + kScreenTile - 1) / kScreenTile;
  quads_ = (k + 3) / 4;
  const float* w = kernel.data();
  quantized_.assign(static_cast<size_t>(tiles_ * quads_ * kScreenTile * 4), 0);
  q_sums_.resize(v);
  scale_.resize(v);
  bias_.assign(v, 0.0f);
  spread_.resize(v);
  int8_norm_.resize(v);
  offset_.resize(v);
  columns_.resize(static_cast<size_t>(v * k));
  if (output.bias().defined()) std::memcpy(bias_.data(), output.bias().data(), sizeof(float) * v);
  const double gamma = (k + 1) * kUnit / (1 - (k + 1) * kUnit);
  for (int64_t j = 0; j < v; ++j) {
    float largest = 0;
    bool finite = true;
    for (int64_t p = 0; p < k; ++p) {
      columns_[j * k + p] = w[p * v + j];
      largest = std::max(largest, std::fabs(w[p * v + j]));
      finite = finite && std::isfinite(w[p * v + j]);
    }
    // A column with an infinite or NaN weight keeps q = 0 and an infinite spread: it is always computed in f32.
    const float s = finite ? largest / 127 : 0.0f;
    scale_[j] = s;
    double residual = 0, image = 0, weights = 0;  // ‖w − s·q‖², ‖s·q‖², ‖w‖²
    int32_t sum = 0;
    const int64_t tile = j / kScreenTile, c = j % kScreenTile;
    for (int64_t p = 0; p < k; ++p) {
      const float weight = w[p * v + j];
      const int q = s > 0 ? static_cast<int>(std::clamp(std::nearbyint(weight / s), -127.0f, 127.0f)) : 0;
      quantized_[((tile * quads_ + p / 4) * kScreenTile + c) * 4 + p % 4] = static_cast<int8_t>(q);
      sum += q;
      const double scaled = double{s} * q;  // exact: a float times a small integer fits a double
      residual += (weight - scaled) * (weight - scaled);
      image += scaled * scaled;
      weights += double{weight} * weight;
    }
    q_sums_[j] = sum;
    spread_[j] = finite ? round_up((std::sqrt(residual) + gamma * std::sqrt(weights)) * (1 + 1e-9))
                        : std::numeric_limits<float>::infinity();
    int8_norm_[j] = round_up(std::sqrt(image) * (1 + 1e-9));
    // Plus what no relative bound covers: subnormal products (the layer's, and the estimate's s·(…) once it
    // underflows).
    offset_[j] =
        round_up(((4 * kUnit + gamma) * std::fabs(double{bias_[j]}) + (k + 2) * 127.0 * 127.0 * 0x1p-149) * (1 + 1e-9));
    largest_norm_ = std::max(largest_norm_, std::sqrt(weights) + std::fabs(double{bias_[j]}));
  }
}

bool OutputScreen::matches(const nn::Dense& output) const {
  if (output.options().in != in_ || output.options().out != out_ ||
      output.options().activation != nn::Activation::linear || !kernel_sample_.matches(output.kernel())) {
    return false;
  }
  if (!output.bias().defined()) return std::all_of(bias_.begin(), bias_.end(), [](float b) { return b == 0; });
  return output.bias().dtype() == nn::DType::f32 &&
         std::memcmp(output.bias().data(), bias_.data(), sizeof(float) * out_) == 0;
}

ScreenRowNorms OutputScreen::quantize_row(const float* xr, uint8_t* bytes) const {
  const int64_t k = in_;
  // No bound holds for a non-finite row, nor where the layer's own sums could overflow (‖x‖‖w‖ + |b| near FLT_MAX,
  // while the estimate stays finite): screen_rows then takes every column in f32. (The loop is a reduction in any
  // order, so that it vectorises: squares of floats are exact in double, and the norm is rounded up by far more than
  // the order can change it.)
  int finite = 1;
  double norm2 = 0;
#pragma omp simd reduction(& : finite) reduction(+ : norm2)
  for (int64_t p = 0; p < k; ++p) {
    finite &= static_cast<int>(std::isfinite(xr[p]));
    norm2 += double{xr[p]} * xr[p];
  }
  if (!finite || std::sqrt(norm2) * largest_norm_ >= 0x1p126) return {.x_norm = std::numeric_limits<float>::infinity()};
  const ByteImage image = to_bytes(xr, k, bytes);
  return {.x_scale = image.scale,
          .x_zero = image.zero,
          .x_norm = round_up(std::sqrt(norm2) * (1 + 1e-9)),
          .x_error = round_up(std::sqrt(image.error2) * (1 + 1e-9))};
}

StepScores OutputScreen::logits(const nn::Tensor& x, int exact, int32_t first) const {
  if (x.dtype() != nn::DType::f32 || x.rank() != 2 || x.dim(1) != in_ || x.dim(0) < 1 || x.dim(0) > kMaxStepRows) {
    nn::fail_expected("OutputScreen",
                      "x of shape (B," + std::to_string(in_) + "), f32, 1 ≤ B ≤ " + std::to_string(kMaxStepRows),
                      nn::to_string(x.shape()) + " " + nn::dtype_name(x.dtype()));
  }
  if (exact < 1 || exact > kMaxStepRows || first < 0 || first >= out_) {
    nn::fail_expected("OutputScreen",
                      "exact in [1," + std::to_string(kMaxStepRows) + "] and first in [0," + std::to_string(out_) + ")",
                      "exact=" + std::to_string(exact) + ", first=" + std::to_string(first));
  }
  const int64_t rows = x.dim(0), k = in_, v = out_, depth = quads_ * 4;
  const float* xs = x.data();
  // Scratch kept by each thread between calls: a search makes one call a word, and fresh buffers of V would cost
  // page faults each time.
  thread_local Scratch scratch;
  scratch.bytes.assign(static_cast<size_t>(rows * depth), 0);  // past K: any byte meets q = 0
  scratch.bound.resize(static_cast<size_t>(rows * v));
  scratch.candidate.assign(static_cast<size_t>(v), 0);
  scratch.chosen.clear();

  // 1. Each row to bytes of 7 bits (to_bytes), x ≈ sₓ·(u − zₓ), x's error ‖x − x̂‖ ~1/127 of its range over √12 a
  //    value, against the weights' ~1/127 of their largest.
  ScreenRowNorms norms[kMaxStepRows];
  for (int64_t r = 0; r < rows; ++r) norms[r] = quantize_row(xs + r * k, scratch.bytes.data() + r * depth);
  //    … and every logit estimated, z̃ = b + s·sₓ·(Σ u·q − zₓ·Σ q) from exact int32 sums, with its bound;
  nn::Tensor z = nn::Tensor::empty({rows, v});
  float* zs = z.data();
  const ScreenColumns columns{.vocab = v,
                              .q_sums = q_sums_.data(),
                              .scale = scale_.data(),
                              .bias = bias_.data(),
                              .spread = spread_.data(),
                              .int8_norm = int8_norm_.data(),
                              .offset = offset_.data()};
  // 2. Candidates: per row, the words whose upper bound reaches the `exact`-th best lower bound (ids ≥ first), in the
  //    same pass; a row with no bound (non-finite x) makes every column one.
  //    With them each row's largest estimate and Σ e^(z̃ − largest) over its columns, for its log-sum-exp (step 4).
  std::vector<int32_t>& chosen = scratch.chosen;  // the candidates' ids, ascending
  float largest[kMaxStepRows];
  double exp_sums[kMaxStepRows];
  screen_rows(rows, tiles_, quads_, scratch.bytes.data(), quantized_.data(), columns, norms, first,
              static_cast<int>(std::min<int64_t>(exact, v - first)), zs, scratch.bound.data(), scratch.candidate.data(),
              chosen, largest, exp_sums);
  for (int64_t r = 0; r < rows; ++r) {
    if (!std::isfinite(norms[r].x_norm)) {
      chosen.resize(static_cast<size_t>(v));
      std::iota(chosen.begin(), chosen.end(), 0);
    }
  }

  // 3. The candidates again in f32, from their columns packed side by side (K, C), as dense_rows computes them.
  const int64_t count = static_cast<int64_t>(chosen.size());
  std::vector<float>& packed = scratch.packed;
  std::vector<float>& exact_values = scratch.exact_values;
  packed.resize(static_cast<size_t>(k * count));
  exact_values.resize(static_cast<size_t>(rows * count));
  for (int64_t i = 0; i < count; ++i) {
    const float* column = columns_.data() + int64_t{chosen[i]} * k;
    for (int64_t p = 0; p < k; ++p) packed[p * count + i] = column[p];
    for (int64_t r = 0; r < rows; ++r) exact_values[r * count + i] = bias_[chosen[i]];
  }
  rows_gemm_add(rows, count, k, xs, packed.data(), exact_values.data());

  StepScores scores{.logits = z};
  scores.log_sum_exp = exact_and_log_sum_exps(z, chosen, exact_values.data(), norms, largest, exp_sums);
  if (packed.capacity() > (size_t{1} << 20)) {  // after a row computed in full (non-finite): give the V·K floats back
    std::vector<float>().swap(packed);
    std::vector<float>().swap(exact_values);
  }
  scores.exact_ids = chosen;
  exact_columns_.fetch_add(count, std::memory_order_relaxed);
  rows_screened_.fetch_add(rows, std::memory_order_relaxed);
  return scores;
}

}  // namespace captioning
