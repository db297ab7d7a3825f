/// @file
/// Caption generation: greedy and beam search over CaptionModel's steps, stopping at the end token or max_length.
/// Both run in eval mode (dropout off) without recording gradients; the model's mode is restored afterwards.
#pragma once

#include <string>
#include <vector>

#include "captioning/decode_cache.h"
#include "captioning/model.h"
#include "captioning/tokenizer.h"

namespace captioning {

/// One generated caption with its probability.
struct Caption {
  std::vector<int32_t> ids;  ///< the words, without start and end
  std::string text;          ///< the words joined by spaces (tokenizer.decode)
  double log_prob = 0;       ///< Σ log p of the words and of the end token (when it was reached)
  double score = 0;          ///< what the search ranked by: log_prob, or log_prob / length with length normalisation
};

/// The widest beam the programs and the web API accept (one range for every front end; wider beams cost time and
/// rarely change the caption).
inline constexpr int kMaxBeam = 16;

/// How beam_search searches.
struct GenerateOptions {
  int beam = 1;                   ///< 1: greedy
  int max_length = 34;            ///< words, the original's longest training caption
  bool length_normalize = false;  ///< rank finished captions by log_prob / (words + 1)
  /// Built from the model (decode_cache.h): each step reads a third of the memory. The words each beam may extend
  /// with, and their order, are the f32 layers' — greedy's caption is the same —; log-probabilities differ by the
  /// output screen's log-sum-exp error (output_screen.h: < 1e-4 nats on the shipped captioner, up to 2e-4 a word on
  /// a flat untrained one), so two beams whose scores lie closer than that may rank the other way round.
  const DecodeCache* cache = nullptr;
};

/// features (1, F) → the best caption, taking the most probable word at each step. Throws nn::Error naming the
/// expected shape for other features, or a cache that was not built from this model's weights.
Caption greedy_caption(CaptionModel& model, const Tokenizer& tokenizer, const nn::Tensor& features, int max_length = 34,
                       const DecodeCache* cache = nullptr);
/// features (1, F) → up to `beam` captions, best first. beam = 1 gives exactly greedy_caption's caption.
/// The live beams advance together, as the rows of one model step: each weight matrix is read once per step for
/// all of them (decode_step.h), and the result is exactly that of advancing them one at a time.
/// Throws nn::Error for beam < 1 or max_length < 1, or a cache that was not built from this model's weights.
std::vector<Caption> beam_search(CaptionModel& model, const Tokenizer& tokenizer, const nn::Tensor& features,
                                 const GenerateOptions& options);

}  // namespace captioning
