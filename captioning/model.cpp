#include "captioning/model.h"

#include <cmath>

#include <nn/core/error.h>
#include <nn/ops/ops.h>

#include "captioning/decode_cache.h"
#include "captioning/decode_step.h"

namespace captioning {

CaptionModel::CaptionModel(const CaptionModelOptions& o) : options_(o) {
  if (o.vocab < 5 || o.feature_dim < 1 || o.units < 1 || o.positions < 0 || o.positions > 4096) {
    nn::fail_expected("CaptionModel", "vocab ≥ 5, feature_dim ≥ 1, units ≥ 1 and 0 ≤ positions ≤ 4096",
                      "vocab=" + std::to_string(o.vocab) + ", feature_dim=" + std::to_string(o.feature_dim) +
                          ", units=" + std::to_string(o.units) + ", positions=" + std::to_string(o.positions));
  }
  nn::Generator gen(o.seed);
  feature_dropout_ = register_module(
      "feature_dropout", std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = o.dropout, .seed = o.seed + 1}));
  image_dense_ = register_module(
      "image_dense",
      std::make_shared<nn::Dense>(
          nn::DenseOptions{.in = o.feature_dim, .out = o.units, .activation = nn::Activation::relu}, gen));
  embedding_ = register_module(
      "embedding",
      std::make_shared<nn::Embedding>(nn::EmbeddingOptions{.vocab = o.vocab, .dim = o.units, .mask_zero = true}, gen));
  word_dropout_ = register_module(
      "word_dropout", std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = o.dropout, .seed = o.seed + 2}));
  lstm_ = register_module("lstm",
                          std::make_shared<nn::LSTM>(
                              nn::LSTMOptions{.input_size = o.units, .units = o.units, .return_sequences = true}, gen));
  merge_dense_ = register_module(
      "merge_dense", std::make_shared<nn::Dense>(
                         nn::DenseOptions{.in = o.units, .out = o.units, .activation = nn::Activation::relu}, gen));
  output_ =
      register_module("output", std::make_shared<nn::Dense>(nn::DenseOptions{.in = o.units, .out = o.vocab}, gen));
  if (o.positions > 0) {
    value_dense_ = register_module(
        "value_dense",
        std::make_shared<nn::Dense>(
            nn::DenseOptions{.in = o.feature_dim, .out = o.units, .activation = nn::Activation::relu}, gen));
    query_dense_ = register_module("query_dense",
                                   std::make_shared<nn::Dense>(nn::DenseOptions{.in = o.units, .out = o.units}, gen));
  }
}

nn::Tensor CaptionModel::image(const nn::Tensor& features) {
  const int64_t p = options_.positions, f = options_.feature_dim, width = options_.feature_width();
  if (features.rank() != 2 || features.dim(1) != width) {
    nn::fail_expected("CaptionModel", "image features of shape (N," + std::to_string(width) + ")",
                      nn::to_string(features.shape()));
  }
  if (p == 0) return image_dense_->forward(feature_dropout_->forward(features));
  const int64_t n = features.dim(0), u = options_.units;
  nn::Tensor map = feature_dropout_->forward(features).reshape({n, p, f});
  nn::Tensor image = image_dense_->forward(nn::mean(map, {1}));        // (N, U)
  nn::Tensor values = value_dense_->forward(map).reshape({n, p * u});  // (N, P·U)
  return nn::concat({image, values}, 1);
}

nn::Tensor CaptionModel::merge(const nn::Tensor& image_part, const nn::Tensor& words) {
  const int64_t n = words.dim(0), t = words.dim(1), u = options_.units, p = options_.positions;
  if (p == 0) return nn::add(words, image_part.reshape({n, 1, u}));  // the image broadcast over the steps
  nn::Tensor image = nn::slice(image_part, 1, 0, u).reshape({n, 1, u});
  nn::Tensor values = nn::slice(image_part, 1, u, (1 + p) * u).reshape({n, 1, p, u});
  nn::Tensor query = query_dense_->forward(words).reshape({n, t, 1, u});
  nn::Tensor scores = nn::sum(nn::mul(query, values), {3}) * (1.0f / std::sqrt(static_cast<float>(u)));  // (N,T,P)
  nn::Tensor weights = nn::softmax(scores).reshape({n, t, p, 1});
  nn::Tensor context = nn::sum(nn::mul(weights, values), {2});  // (N, T, U)
  return nn::add(nn::add(words, image), context);
}

nn::Tensor CaptionModel::head(const nn::Tensor& merged) {
  return output_->forward(merge_dense_->forward(merged));
}

nn::Tensor CaptionModel::merged_steps(const nn::Tensor& features, const nn::Indices& ids) {
  if (ids.shape.size() != 2 || ids.shape[0] != features.dim(0)) {
    nn::fail_expected("CaptionModel", "word ids of shape (" + std::to_string(features.dim(0)) + ",T)",
                      nn::to_string(ids.shape));
  }
  nn::Tensor image_part = image(features);
  nn::Tensor words = lstm_->forward(word_dropout_->forward(embedding_->forward(ids)), embedding_->mask(ids)).outputs;
  return merge(image_part, words);
}

nn::Tensor CaptionModel::forward(const nn::Tensor& features, const nn::Indices& ids) {
  nn::Tensor merged = merged_steps(features, ids);
  return head(merged).reshape({merged.dim(0), merged.dim(1), options_.vocab});
}

nn::Tensor CaptionModel::forward(const nn::Tensor& features, const nn::Indices& ids, const nn::Indices& rows) {
  nn::Tensor merged = merged_steps(features, ids);
  const int64_t positions = merged.dim(0) * merged.dim(1);
  for (size_t k = 0; k < rows.values.size(); ++k) {
    if (rows.values[k] < 0 || rows.values[k] >= positions) {
      nn::fail_expected("CaptionModel",
                        "positions in [0," + std::to_string(positions) + ") of ids " + nn::to_string(ids.shape),
                        std::to_string(rows.values[k]) + " at row " + std::to_string(k));
    }
  }
  // The chosen rows of the (N·T, U) table of steps (nn::embedding is the differentiable row gather).
  return head(nn::embedding(merged.reshape({positions, options_.units}), rows));
}

StepScores CaptionModel::step(const nn::Tensor& image_part, const std::vector<int32_t>& last_words, nn::Tensor& h,
                              nn::Tensor& c, const StepCache& cache) {
  const int64_t b = static_cast<int64_t>(last_words.size());
  nn::Indices ids({b, 1}, last_words);
  // Inference on a few rows (decoding): each weight matrix read once for all rows (decode_step.h). Dropout is off
  // in eval mode only, so training mode keeps the layers' path.
  if (!is_training() && step_rows_apply(b, {image_part, h, c, embedding_->weight(), lstm_->weights().kernel,
                                            merge_dense_->kernel(), output_->kernel()})) {
    if (cache.cache && !cache.cache->fits(*this)) {
      nn::fail_expected("CaptionModel::step",
                        "a DecodeCache of this model's shapes (V=" + std::to_string(options_.vocab) +
                            ", U=" + std::to_string(options_.units) + ")",
                        "one of " + cache.cache->shapes());
    }
    if (cache.cache && cache.cache->has_word_gates()) {
      nn::Tensor gates = cache.cache->word_gates(last_words);  // b + e(w)·W from the table
      lstm_advance(*lstm_, gates, h, c);
    } else {
      lstm_rows(*lstm_, embedding_->forward(ids).reshape({b, options_.units}), h, c);
    }
    nn::Tensor merged = merge(image_part, h.reshape({b, 1, options_.units})).reshape({b, options_.units});
    nn::Tensor hidden = dense_rows(*merge_dense_, merged);
    return cache.cache && cache.cache->screens_output() ? cache.cache->screen().logits(hidden, cache.exact, cache.first)
                                                        : step_scores(dense_rows(*output_, hidden));
  }
  nn::LstmResult r = lstm_->forward(word_dropout_->forward(embedding_->forward(ids)), nn::Tensor(), h, c);
  h = r.h;
  c = r.c;
  return step_scores(head(merge(image_part, r.h.reshape({b, 1, options_.units}))).reshape({b, options_.vocab}));
}

void CaptionModel::reseed_dropout(uint64_t seed) {
  feature_dropout_->reseed(seed * 2 + 1);
  word_dropout_->reseed(seed * 2 + 2);
}

std::string CaptionModel::to_string() const {
  return "CaptionModel(vocab=" + std::to_string(options_.vocab) + ", features=" + std::to_string(options_.feature_dim) +
         ", units=" + std::to_string(options_.units) +
         (options_.positions ? ", attention over " + std::to_string(options_.positions) + " positions" : "") + ")";
}

}  // namespace captioning
