#include "captioning/generate.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <nn/autograd/autograd.h>
#include <nn/core/error.h>
#include <nn/ops/ops.h>

#include "captioning/decode_step.h"

namespace captioning {

namespace {

// Eval mode and no graph for the duration of a search; the previous mode comes back afterwards. A model already in
// eval mode is not written to, so that several threads can search with one model at once (the describe server).
class InferenceScope {
 public:
  explicit InferenceScope(CaptionModel& m) : model_(m), was_training_(m.is_training()) {
    if (was_training_) m.eval();
  }
  ~InferenceScope() {
    if (was_training_) model_.train();
  }

 private:
  CaptionModel& model_;
  bool was_training_;
  nn::NoGradGuard no_grad_;
};

void check_features(const CaptionModel& model, const nn::Tensor& features) {
  const int64_t width = model.options().feature_width();
  if (features.rank() != 2 || features.dim(0) != 1 || features.dim(1) != width) {
    nn::fail_expected("caption generation", "features of shape (1," + std::to_string(width) + ")",
                      nn::to_string(features.shape()));
  }
}

// Rows `rows` of a (B, U) tensor, as a new (rows.size(), U) tensor.
nn::Tensor gather_rows(const nn::Tensor& t, const std::vector<int64_t>& rows) {
  const int64_t u = t.dim(1);
  nn::Tensor out = nn::Tensor::empty({static_cast<int64_t>(rows.size()), u});
  for (size_t i = 0; i < rows.size(); ++i) std::memcpy(out.data() + i * u, t.data() + rows[i] * u, sizeof(float) * u);
  return out;
}

// The step's settings for a search keeping `keep` words per row; throws for a cache of other weights.
StepCache step_cache(const CaptionModel& model, const DecodeCache* cache, int keep, const char* search) {
  if (cache && !cache->matches(model)) {
    nn::fail_expected(search, "a DecodeCache built from this model's weights",
                      "a cache of other weights (build it again after training or loading)");
  }
  // A beam wider than a step's rows takes the layers' path (CaptionModel::step), with or without a cache.
  return {.cache = keep <= kMaxStepRows ? cache : nullptr, .exact = keep, .first = Tokenizer::kEnd};
}

// The `keep` best ids of a row of V scores among the end token and the words (never pad or start), best first; equal
// scores go to the lower id, as an argmax would pick. Where the step names the columns its row's best lie among
// (StepScores::exact_ids, ascending: a DecodeCache's screen), only those are looked at; else one pass over the row.
// The kept few in insertion order.
std::vector<int32_t> best_words(const float* row, int64_t vocab, int keep, const std::vector<int32_t>& among) {
  std::vector<int32_t> best;
  best.reserve(static_cast<size_t>(keep) + 1);
  auto enter = [&](int32_t w) {
    if (static_cast<int>(best.size()) == keep && !(row[w] > row[best.back()])) return;
    // After every kept id with a score ≥ row[w] (ids arrive in increasing order: ties stay behind the lower id).
    auto at = std::find_if(best.begin(), best.end(), [&](int32_t b) { return row[b] < row[w]; });
    best.insert(at, w);
    if (static_cast<int>(best.size()) > keep) best.pop_back();
  };
  if (!among.empty()) {
    for (int32_t w : among)
      if (w >= Tokenizer::kEnd) enter(w);
    return best;
  }
  int32_t w = Tokenizer::kEnd;
  for (; w < vocab && static_cast<int>(best.size()) < keep; ++w) enter(w);
  // Then 16 scores at a time against the last kept one (four 4-lane comparisons, baseline SSE2 on x86-64), one by one
  // only where one is above it.
  using v4 = float __attribute__((vector_size(16)));
  using v4i = int __attribute__((vector_size(16)));
  for (; w + 16 <= vocab; w += 16) {
    const float last = row[best.back()];
    const v4 bar = {last, last, last, last};
    v4i above = {0, 0, 0, 0};
    for (int i = 0; i < 16; i += 4) {
      v4 scores;
      std::memcpy(&scores, row + w + i, sizeof(scores));
      above |= scores > bar;
    }
    if ((above[0] | above[1] | above[2] | above[3]) == 0) continue;
    for (int i = 0; i < 16; ++i) enter(w + i);
  }
  for (; w < vocab; ++w) enter(w);
  return best;
}

struct Beam {
  std::vector<int32_t> ids;
  double log_prob = 0;
  bool finished = false;
  int64_t row = -1;  // its state's row in the current (h, c)
};

double score_of(const Beam& b, bool normalize) {
  return normalize ? b.log_prob / static_cast<double>(b.ids.size() + 1) : b.log_prob;
}

}  // namespace

std::vector<Caption> beam_search(CaptionModel& model, const Tokenizer& tokenizer, const nn::Tensor& features,
                                 const GenerateOptions& options) {
  if (options.beam < 1 || options.max_length < 1) {
    nn::fail_expected("beam_search", "beam ≥ 1 and max_length ≥ 1",
                      "beam=" + std::to_string(options.beam) + ", max_length=" + std::to_string(options.max_length));
  }
  check_features(model, features);
  InferenceScope scope(model);
  const StepCache cache = step_cache(model, options.cache, options.beam, "beam_search");
  const nn::Tensor image = model.image(features);  // (1, U), or (1, (1+P)·U) with attention
  const int64_t u = model.options().units, vocab = model.options().vocab;
  std::vector<Beam> beams{Beam{{}, 0.0, false, 0}};
  nn::Tensor h, c;  // undefined: zero state
  for (int length = 0; length < options.max_length; ++length) {
    std::vector<int64_t> live;
    std::vector<int32_t> last;
    for (size_t i = 0; i < beams.size(); ++i) {
      if (beams[i].finished) continue;
      live.push_back(static_cast<int64_t>(i));
      last.push_back(beams[i].ids.empty() ? Tokenizer::kStart : beams[i].ids.back());
    }
    if (live.empty()) break;
    std::vector<int64_t> rows;
    for (int64_t i : live) rows.push_back(beams[i].row);
    nn::Tensor h_live = h.defined() ? gather_rows(h, rows) : nn::Tensor::zeros({static_cast<int64_t>(live.size()), u});
    nn::Tensor c_live = c.defined() ? gather_rows(c, rows) : nn::Tensor::zeros({static_cast<int64_t>(live.size()), u});
    nn::Tensor images = nn::broadcast_to(image, {static_cast<int64_t>(live.size()), image.dim(1)});
    // The words are chosen on the logits — exact for each row's best with a cache, and free of log-softmax's rounding,
    // which could tie two of them — and scored by their log-probabilities, logit − log Σ e^logits.
    const StepScores scores = model.step(images, last, h_live, c_live, cache);  // logits (live, V)

    // Candidates: finished beams as they are, and each live beam extended by its `beam` best next words.
    std::vector<Beam> candidates;
    for (const Beam& b : beams) {
      if (b.finished) candidates.push_back(b);
    }
    for (size_t k = 0; k < live.size(); ++k) {
      const float* row = scores.logits.data() + k * vocab;
      const std::vector<int32_t> order = best_words(row, vocab, options.beam, scores.exact_ids);
      const int keep = static_cast<int>(order.size());
      for (int j = 0; j < keep; ++j) {
        const int32_t w = order[j];
        Beam next = beams[live[k]];
        next.log_prob += row[w] - scores.log_sum_exp[k];
        next.row = static_cast<int64_t>(k);
        if (w == Tokenizer::kEnd) {
          next.finished = true;
        } else {
          next.ids.push_back(w);
        }
        candidates.push_back(std::move(next));
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](const Beam& a, const Beam& b) {
      return score_of(a, options.length_normalize) > score_of(b, options.length_normalize);
    });
    candidates.resize(std::min<size_t>(candidates.size(), static_cast<size_t>(options.beam)));
    beams = std::move(candidates);
    h = h_live;
    c = c_live;
  }
  std::vector<Caption> out;
  for (const Beam& b : beams) {
    out.push_back({b.ids, tokenizer.decode(b.ids), b.log_prob, score_of(b, options.length_normalize)});
  }
  return out;
}

Caption greedy_caption(CaptionModel& model, const Tokenizer& tokenizer, const nn::Tensor& features, int max_length,
                       const DecodeCache* decode_cache) {
  if (max_length < 1) nn::fail_expected("greedy_caption", "max_length ≥ 1", std::to_string(max_length));
  check_features(model, features);
  InferenceScope scope(model);
  const StepCache cache = step_cache(model, decode_cache, 1, "greedy_caption");
  const nn::Tensor image = model.image(features);
  const int64_t vocab = model.options().vocab;
  Caption caption;
  nn::Tensor h, c;
  int32_t last = Tokenizer::kStart;
  for (int length = 0; length < max_length; ++length) {
    const StepScores scores = model.step(image, {last}, h, c, cache);
    const float* row = scores.logits.data();
    // The first maximum of the logits over the end token and the words (see beam_search), scored by its
    // log-probability.
    const int32_t best = best_words(row, vocab, 1, scores.exact_ids).front();
    caption.log_prob += row[best] - scores.log_sum_exp[0];
    if (best == Tokenizer::kEnd) break;
    caption.ids.push_back(best);
    last = best;
  }
  caption.text = tokenizer.decode(caption.ids);
  caption.score = caption.log_prob;
  return caption;
}

}  // namespace captioning
