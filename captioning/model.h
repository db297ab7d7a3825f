/// @file
/// The merge captioning model of the original Keras project, exactly:
///   image features (N, F=2048) → Dropout(0.5) → Dense(256, relu)                                   = image
///   word ids (N, T) → Embedding(V, 256, mask zero) → Dropout(0.5) → LSTM(256), every step        = words
///   add(image, words) → Dense(256, relu) → Dense(V)                                                = logits
/// (the original ends in a softmax; here logits go to the fused softmax cross-entropy, and generation takes the
/// softmax itself). Trained by teacher forcing over whole captions: step t sees `<start>` w1 … w(t−1) and predicts
/// w(t) — the original's one-sample-per-prefix objective in one pass.
///
/// With `positions` P > 0 the features are a feature map, P vectors of F per image (flattened to (N, P·F)), and the
/// merge gains soft attention over them (Xu et al. 2015, "Show, attend and tell", with dot-product scores):
///   image = Dense(relu) of the map's mean, as above; values (N, P, U) = Dense(relu) of each position;
///   query (N, T, U) = Dense(words); weights (N, T, P) = softmax over P of query·values / √U;
///   context (N, T, U) = Σ_p weights·values;  logits = head(image + words + context).
/// The word just emitted steers where the model looks ("green" → the green object), so a colour can be bound to
/// the shape at the same place, which a pooled vector cannot record.
#pragma once

#include <memory>

#include <nn/layers/dense.h>
#include <nn/layers/dropout.h>
#include <nn/layers/embedding.h>
#include <nn/layers/lstm.h>
#include <nn/layers/module.h>

#include "captioning/decode_step.h"

namespace captioning {

/// CaptionModel's configuration; the defaults are the original Keras model's.
struct CaptionModelOptions {
  int64_t vocab = 0;           ///< V, the tokenizer's vocab_size()
  int64_t feature_dim = 2048;  ///< F
  int64_t units = 256;         ///< U
  float dropout = 0.5f;        ///< both dropout layers' rate
  uint64_t seed = 1;           ///< initial weights and dropout masks
  int64_t positions = 0;       ///< P: 0 for one feature vector per image, P > 0 for a map attended to (see above)
  /// The width of one image's features: F, or P·F with attention.
  int64_t feature_width() const { return (positions > 0 ? positions : 1) * feature_dim; }
};

class DecodeCache;

/// How step() runs: from the layers' weights (no cache), or from a DecodeCache (decode_cache.h) built from them.
struct StepCache {
  const DecodeCache* cache = nullptr;
  int exact = 1;      ///< the words per row whose logits must be exact: 1 for greedy, the beam width for a beam search
  int32_t first = 0;  ///< the lowest id a search may pick
};

/// The merge decoder described above: image features and word ids in, next-word logits out.
class CaptionModel : public nn::Module {
 public:
  /// Throws nn::Error unless vocab ≥ 5, feature_dim ≥ 1, units ≥ 1 and 0 ≤ positions ≤ 4096.
  explicit CaptionModel(const CaptionModelOptions& options);

  /// features (N, F) — or (N, P·F) with attention —, ids (N, T) with 0 as padding → logits (N, T, V).
  /// Throws nn::Error with the shapes when features are not (N, feature_width()) or ids not (N, T).
  nn::Tensor forward(const nn::Tensor& features, const nn::Indices& ids);
  /// The same on chosen positions only: `rows` (R) are flat positions n·T + t of ids (N, T), e.g. a batch's real
  /// words (TokenBatch::rows) → logits (R, V). The head (the merge and output Dense layers, most of a training step's
  /// work at a large vocabulary) then runs on those R rows alone, so padding costs only the LSTM's steps. A position
  /// outside [0, N·T) is an nn::Error naming it.
  nn::Tensor forward(const nn::Tensor& features, const nn::Indices& ids, const nn::Indices& rows);

  /// One step of generation for a batch of B partial captions: the image part (B, U) — with attention (B, (1+P)·U),
  /// the image vector then the values — from image(), each caption's LSTM state (h, c: (B, U), undefined at the
  /// start) and its last word → logits (B, V); the state is advanced.
  /// image(): features (B, feature_width()) → the image part; another shape is an nn::Error with the shapes.
  nn::Tensor image(const nn::Tensor& features);
  /// step(): see above; h and c are replaced by the advanced state. The logits come with each row's log-sum-exp
  /// (StepScores, decode_step.h). With a cache (built from this model, in eval mode with f32 weights), the LSTM's
  /// input half comes from its table and the output layer goes through its screen: the state is the same to the bit,
  /// and in each row the `exact` largest logits among ids ≥ `first` are the f32 layer's, the others estimates below
  /// them — what a search that keeps `exact` words per row needs —, and exact_ids names the columns to look at.
  StepScores step(const nn::Tensor& image_part, const std::vector<int32_t>& last_words, nn::Tensor& h, nn::Tensor& c,
                  const StepCache& cache = {});
  /// The layers a DecodeCache is computed from.
  const nn::Embedding& embedding_layer() const { return *embedding_; }
  const nn::LSTM& lstm_layer() const { return *lstm_; }
  const nn::Dense& output_layer() const { return *output_; }

  const CaptionModelOptions& options() const { return options_; }  ///< as constructed
  /// "CaptionModel(vocab=…, features=…, units=…[, attention over P positions])".
  std::string to_string() const override;
  /// Restarts both dropout mask streams from `seed`.
  void reseed_dropout(uint64_t seed);

 private:
  nn::Tensor head(const nn::Tensor& merged);  // (…, U) → logits (…, V)
  // features (N, feature_width()), ids (N, T) → what the head reads at every step, (N, T, U)
  nn::Tensor merged_steps(const nn::Tensor& features, const nn::Indices& ids);
  // image part (N, U or (1+P)·U), words (N, T, U) → image + words [+ context], (N, T, U)
  nn::Tensor merge(const nn::Tensor& image_part, const nn::Tensor& words);

  CaptionModelOptions options_;
  std::shared_ptr<nn::Dropout> feature_dropout_, word_dropout_;
  std::shared_ptr<nn::Dense> image_dense_, merge_dense_, output_;
  std::shared_ptr<nn::Dense> value_dense_, query_dense_;  // attention only
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::LSTM> lstm_;
};

}  // namespace captioning
