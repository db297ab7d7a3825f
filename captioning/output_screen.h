/// @file
/// The decoder's output layer for a search, without reading its f32 matrix at every step. At V = 7,579 the output
/// kernel (256 × V, 7.8 MB) is three quarters of the bytes a decoding step reads, and decoding is bound by those reads
/// (decode_step.h). An OutputScreen keeps an int8 copy of it (each column scaled by its largest |w| / 127: 1.9 MB) and,
/// for each column j, what bounds the distance between the logit estimated from that copy and the f32 one. A step
///   1. quantizes each row x to bytes of 7 bits, x ≈ sₓ·(u − zₓ) (its range, 0 included, in 127 steps, zₓ its zero
///      point), and estimates every logit z̃ⱼ from the bytes and the int8 column — exact integer sums (AMX tiles for
///      beams of 7 to 16 where the processor has AMX-INT8, AVX512-VNNI where it has that, else AVX2, whose vpmaddubsw
///      takes a quad of 7-bit bytes into int16 without saturating) —, with its bound eⱼ (below);
///   2. keeps as candidates the words of each row whose upper bound z̃ⱼ + eⱼ reaches the row's `exact`-th best lower
///      bound z̃ᵢ − eᵢ: a word whose f32 logit is among the row's `exact` best always is one;
///   3. computes the candidates' logits again from f32 columns with the same kernel, in the same order, as
///      dense_rows(output, x): those values are dense_rows's to the bit.
/// Each row's `exact` best words, their order and their logits are therefore those of the f32 layer (ties to the lower
/// id alike); every other word holds its estimate z̃ⱼ, lower than all of them. Only the log-sum-exp of a softmax over
/// such a row sees the estimates: log-probabilities differ from the f32 layer's by at most the largest eⱼ of the
/// non-candidates times their share of the probability (tests/test_decode_cache.cpp measures it: < 1e-4 nats on the
/// shipped captioner, 2.4e-3 over 10 words of an untrained 60-word decoder, whose flat rows put most mass on
/// estimates).
///
/// The bound, for x (K) with its image x̂ = sₓ·(u − zₓ), and column j with f32 weights w, int8 weights q, scale s and
/// bias b (ε = 2⁻²⁴, f32's unit roundoff; γ = (K+1)ε / (1 − (K+1)ε)): the f32 layer's value is within γ(|b| + ‖x‖‖w‖)
/// of the real b + x·w (any order of summation); the estimate's real value b + x̂·(s·q) differs from b + x·w by
/// x·(w − s·q) + (x − x̂)·(s·q), at most ‖x‖‖w − s·q‖ + ‖x − x̂‖‖s·q‖; the integer sum is exact, and converting and
/// scaling it (three roundings) and adding b (one) rounds by at most 8ε|z̃| + 4ε|b|. So
/// eⱼ = ‖x‖·Eⱼ + ‖x − x̂‖·Sⱼ + Gⱼ + 8ε|z̃ⱼ| with Eⱼ = ‖w − s·q‖ + γ‖w‖, Sⱼ = ‖s·q‖ and
/// Gⱼ = (4ε + γ)|b| + (K+2)·127²·2⁻¹⁴⁹ (subnormal products, which no relative bound covers), each rounded up, and the
/// whole widened by 2⁻¹⁰ for the rounding of its own computation. A row that is not finite, or whose ‖x‖ times a
/// column's ‖w‖ + |b| reaches 2¹²⁶ (where the layer's own sums could overflow), is computed in f32 throughout.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <nn/layers/dense.h>

#include "captioning/decode_step.h"
#include "captioning/output_screen_kernels.h"

namespace captioning {

/// About 64 values of a weight tensor, spread evenly over it, kept to tell later whether it still holds the same
/// weights (loading changes them all, training nearly all — the embedding rows of words a run never saw excepted) at a
/// few µs, where comparing megabytes would cost as much as several decoding steps.
class WeightSample {
 public:
  WeightSample() = default;
  explicit WeightSample(const nn::Tensor& weights);
  /// The same shape, f32, and the same bits at every sampled position.
  bool matches(const nn::Tensor& weights) const;

 private:
  std::vector<int64_t> shape_;
  int64_t stride_ = 1;
  std::vector<float> values_;
};

class OutputScreen {
 public:
  /// Snapshots output's kernel (K, V) and bias (f32, no activation, K ≤ kMaxInputs). Throws nn::Error naming the
  /// layer otherwise. Memory: the int8 copy (K·V bytes), an f32 copy of the kernel (4·K·V) and six floats per word.
  /// The screen holds its own copies: it describes the weights the layer had when it was built (see matches()).
  explicit OutputScreen(const nn::Dense& output);

  /// x (B, K) f32, B ≤ kMaxStepRows → logits (B, V): in each row, the `exact` largest among the columns [first, V)
  /// are exactly dense_rows(output, x)'s values; every other column holds an estimate below them. With them each
  /// row's log Σ e^logits, from the same pass over the vocabulary (not nn's softmax rows: equal to rounding), and the
  /// ids of the columns computed in f32 (each row's `exact` best among them). Throws nn::Error naming the argument for
  /// a shape, exact outside [1, kMaxStepRows] or first outside [0, V).
  StepScores logits(const nn::Tensor& x, int exact, int32_t first) const;

  /// Whether `output` still has the weights this screen was built from: the same shapes and activation, the same
  /// biases and the same kernel by a WeightSample (checked once per search).
  bool matches(const nn::Dense& output) const;

  /// The most inputs K a screen takes: its int32 sums Σ u·q and z·Σ q, and their difference, stay within 127·127·K
  /// in magnitude (below 2³¹ for K up to 133,000; the limit leaves room to spare).
  static constexpr int64_t kMaxInputs = 65536;

  int64_t in() const { return in_; }    ///< K
  int64_t out() const { return out_; }  ///< V
  /// Columns computed in f32 by the calls so far, and the calls (one per row): their ratio is the screen's cost.
  int64_t exact_columns() const { return exact_columns_.load(std::memory_order_relaxed); }
  int64_t rows_screened() const { return rows_screened_.load(std::memory_order_relaxed); }

 private:
  int64_t in_ = 0, out_ = 0;
  int64_t tiles_ = 0, quads_ = 0;  // the int8 copy's size in tiles and quads (output_screen_kernels.h)
  std::vector<int8_t> quantized_;  // q, (4·quads, 64·tiles) laid out as screen_products reads it, zeros past K and V
  std::vector<int32_t> q_sums_;    // (V): Σ_k q, which the zero point of x's bytes brings in
  std::vector<float> scale_;       // (V): s
  std::vector<float> bias_;        // (V): b (zeros without a bias)
  std::vector<float> spread_;      // (V): E
  std::vector<float> int8_norm_;   // (V): S
  std::vector<float> offset_;      // (V): G
  std::vector<float> columns_;     // (V, K): the f32 kernel transposed, one column's weights together
  double largest_norm_ = 0;  // max over columns of ‖w‖ + |b|: rows whose ‖x‖ times it nears FLT_MAX go to f32
  WeightSample kernel_sample_;
  // Row x (K) to bytes (4·quads, zeros past K) and its norms, or x_norm = ∞ where no bound holds (logits() step 1).
  ScreenRowNorms quantize_row(const float* xr, uint8_t* bytes) const;
  struct Scratch {  // logits()'s buffers, one set per thread
    std::vector<uint8_t> bytes, candidate;
    std::vector<float> bound, packed, exact_values;
    std::vector<int32_t> chosen;
  };
  // Statistics only, counted relaxed: a screen may serve several threads (the describe server).
  mutable std::atomic<int64_t> exact_columns_{0}, rows_screened_{0};
};

}  // namespace captioning
