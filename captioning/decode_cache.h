/// @file
/// What a search can compute once from a trained decoder so that each step reads little memory. Decoding one word
/// (decode_step.h) reads every weight matrix once: at V = 7,579 and U = 256, the output layer's 7.8 MB, the LSTM's
/// input kernel W (1 MB) and recurrent kernel R (1 MB), the merge layer's 0.25 MB — 10 MB a word, more than the
/// two cores' 4 MB of L2, so each step streams them from further away. A DecodeCache holds
///   • the word gates: the LSTM's input half b + e(w)·W for every word w (V × 4U f32, 31 MB at V = 7,579), computed
///     by lstm_input_gates, so a step reads its words' rows (4 KB each) instead of W, and gets W's numbers to the
///     bit;
///   • the output screen (output_screen.h): the output layer as int8 (1.9 MB), whose estimates find the few words
///     that must be computed in f32.
/// A step then reads R, the merge layer and the screen, 3.5 MB at V = 7,579; each row's best words are the f32
/// layers' (GenerateOptions::cache says what that means for a search). Memory: the gate table (V·4U floats), the
/// screen's int8 matrix and its f32 copy of the output kernel — 41 MB at V = 7,579, U = 256.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "captioning/model.h"
#include "captioning/output_screen.h"

namespace captioning {

class DecodeCache {
 public:
  /// The largest gate table built by default (V·4U floats): past it — V·U over 16 M, as V = 65,536 at U = 256 — a
  /// cache screens the output layer only, and steps read the LSTM's input kernel as without a cache.
  static constexpr int64_t kMaxGateTableBytes = int64_t{256} << 20;

  /// Computes both from the model's weights (f32), the gate table only if it takes at most max_gate_table_bytes.
  /// Throws nn::Error naming the tensor for other dtypes.
  explicit DecodeCache(const CaptionModel& model, int64_t max_gate_table_bytes = kMaxGateTableBytes);

  /// Whether `model` still has the weights this cache was built from (shapes, and WeightSamples of the embedding,
  /// the LSTM's input kernel and bias, and the output layer): searches check it once and refuse a stale cache.
  /// Loading changes every weight and training nearly every one, and both are caught; a sample cannot see one
  /// weight edited by hand — build the cache again after editing weights.
  bool matches(const CaptionModel& model) const;

  /// Whether its shapes are `model`'s (V, 4U and the output layer's K): step() refuses a cache that does not fit.
  bool fits(const CaptionModel& model) const;
  /// "V=…, U=…": its shapes, for messages.
  std::string shapes() const;

  /// Whether the gate table was built (see the constructor).
  bool has_word_gates() const { return !gates_.empty(); }
  /// The words' rows of the gate table → (B, 4U), a fresh tensor lstm_advance may overwrite. Throws nn::Error
  /// naming an id outside [0, V), or when there is no table.
  nn::Tensor word_gates(const std::vector<int32_t>& words) const;
  const OutputScreen& screen() const { return screen_; }
  /// Whether steps take the output layer's logits from the screen: where its int8 products run on AMX, AVX512-VNNI or
  /// AVX2 (screen_products_kind(1)), whatever the rows. AVX2 has no vpdpbusd — per row and pair of quads five
  /// instructions where VNNI has two —, yet reading a quarter of the bytes wins: on an AMD EPYC (Zen 3), greedy 20
  /// words at V = 7,579 took 2.07 / 2.05 ms against 4.22 / 4.50 from the f32 layer, beam 3 5.26 / 4.65 against
  /// 6.19 / 7.22 (two runs of build/benchmarks/caption --no-torch). Plain loops, all that the scalar level has, cost
  /// more than they save (greedy 13.4 against 5.9 ms on that machine): there steps compute the f32 layer.
  bool screens_output() const;

 private:
  int64_t vocab_ = 0, width_ = 0;  // V, 4U
  std::vector<float> gates_;       // (V, 4U)
  OutputScreen screen_;
  WeightSample embedding_sample_, kernel_sample_, bias_sample_;
};

}  // namespace captioning
