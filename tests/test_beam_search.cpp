// Decoding with every beam as one row of one step (decode_step.h): the product kernel against a plain loop, the
// row path's logits against the layers' whole-caption forward, and the batched beam search against a reference
// search that runs one beam at a time.
#include <algorithm>
#include <cstring>
#include <string>

#include <captioning/decode_step.h>
#include <captioning/generate.h>
#include <captioning/model.h>
#include <captioning/tokenizer.h>

#include "support/check.h"

using captioning::CaptionModel;
using captioning::Tokenizer;
using nn::Tensor;

TEST_CASE("rows_gemm_add adds a·b to c as a double-precision loop does, for 1 to 16 rows and ragged blocks") {
  nn::Generator gen(11);
  const int64_t n = 1100, k = 7;       // two 512-column blocks and a narrow one; k not a multiple of the unroll
  for (int64_t m = 1; m <= 16; ++m) {  // groups of 4 rows: whole, and one of 1 to 3 after them
    Tensor a = Tensor::uniform({m, k}, -1, 1, gen), b = Tensor::uniform({k, n}, -1, 1, gen);
    Tensor c = Tensor::uniform({m, n}, -1, 1, gen), expected = c.clone(), alone = c.clone();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = expected.data()[i * n + j];
        for (int64_t p = 0; p < k; ++p) sum += double{a.data()[i * k + p]} * b.data()[p * n + j];
        expected.data()[i * n + j] = static_cast<float>(sum);
      }
    captioning::rows_gemm_add(m, n, k, a.data(), b.data(), c.data());
    test::check_close(c, expected, 1e-5, 1e-6, "m=" + std::to_string(m));
    // Each row's numbers are those of the row alone, to the bit, whatever group it ran in (decode_step.h).
    for (int64_t i = 0; i < m; ++i)
      captioning::rows_gemm_add(1, n, k, a.data() + i * k, b.data(), alone.data() + i * n);
    const bool same = std::memcmp(c.data(), alone.data(), sizeof(float) * m * n) == 0;
    REQUIRE_MESSAGE(same, "m=" << m);
  }
}

TEST_CASE("the row path's steps give the whole-caption forward's logits, for three captions at once") {
  CaptionModel model({.vocab = 13, .feature_dim = 6, .units = 8, .seed = 3});
  model.eval();
  nn::Generator gen(4);
  Tensor features = Tensor::uniform({3, 6}, 0, 1, gen);
  const std::vector<int32_t> ids{Tokenizer::kStart, 5, 9, 4, Tokenizer::kStart, 7, 7, 12, Tokenizer::kStart, 6, 2, 11};
  Tensor whole = model.forward(features, nn::Indices({3, 4}, ids));  // the layers' path, (3, 4, 13)
  nn::NoGradGuard no_grad;                                           // the row path
  Tensor image = model.image(features), h, c;
  for (int64_t t = 0; t < 4; ++t) {
    Tensor logits = model.step(image, {ids[t], ids[4 + t], ids[8 + t]}, h, c).logits;
    test::check_close(logits, nn::slice(whole, 1, t, t + 1).reshape({3, 13}), 1e-5, 1e-6, "step " + std::to_string(t));
  }
}

namespace {

// The reference: beam search as the textbook states it, one beam per model step (batch of one), its own LSTM state
// carried with each hypothesis. Candidates are the finished hypotheses, then each live one's `beam` best next
// words (by logit, best first, ties to the lower id), ranked stably by score; a word's log-probability is its logit
// less the step's log Σ e^logits (whose value tests/test_decode_cache.cpp checks).
struct Hypothesis {
  std::vector<int32_t> ids;
  double log_prob = 0;
  bool finished = false;
  Tensor h, c;
};

std::vector<captioning::Caption> one_beam_at_a_time(CaptionModel& model, const Tensor& features,
                                                    const captioning::GenerateOptions& o) {
  nn::NoGradGuard no_grad;
  model.eval();
  const Tensor image = model.image(features);
  const int32_t vocab = static_cast<int32_t>(model.options().vocab);
  auto score = [&](const Hypothesis& x) {
    return o.length_normalize ? x.log_prob / static_cast<double>(x.ids.size() + 1) : x.log_prob;
  };
  std::vector<Hypothesis> beams{Hypothesis{}};
  for (int length = 0; length < o.max_length; ++length) {
    std::vector<Hypothesis> candidates;
    bool any_live = false;
    for (const Hypothesis& x : beams)
      if (x.finished) candidates.push_back(x);
    for (const Hypothesis& x : beams) {
      if (x.finished) continue;
      any_live = true;
      Tensor h = x.h, c = x.c;
      const captioning::StepScores scores = model.step(image, {x.ids.empty() ? Tokenizer::kStart : x.ids.back()}, h, c);
      const Tensor logits = scores.logits;
      std::vector<int32_t> words;  // ordered by logit (ties to the lower id), scored by log-probability
      for (int32_t w = Tokenizer::kEnd; w < vocab; ++w) words.push_back(w);
      std::stable_sort(words.begin(), words.end(),
                       [&](int32_t a, int32_t b) { return logits.data()[a] > logits.data()[b]; });
      for (int j = 0; j < std::min<int>(o.beam, static_cast<int>(words.size())); ++j) {
        Hypothesis next = x;
        next.log_prob += logits.data()[words[j]] - scores.log_sum_exp[0];
        next.h = h, next.c = c;
        if (words[j] == Tokenizer::kEnd)
          next.finished = true;
        else
          next.ids.push_back(words[j]);
        candidates.push_back(next);
      }
    }
    if (!any_live) break;
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](const Hypothesis& a, const Hypothesis& b) { return score(a) > score(b); });
    candidates.resize(std::min<size_t>(candidates.size(), static_cast<size_t>(o.beam)));
    beams = candidates;
  }
  std::vector<captioning::Caption> out;
  for (const Hypothesis& x : beams) out.push_back({x.ids, "", x.log_prob, score(x)});
  return out;
}

}  // namespace

TEST_CASE("the batched beam search gives exactly the captions and scores of one beam at a time") {
  std::string text = "libnn-tokenizer 1 min_count=1\n";
  for (int w = 4; w < 40; ++w) text.append("w").append(std::to_string(w)).append("\n");
  const Tokenizer tokenizer = Tokenizer::deserialize(text, "test");
  int finished = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 6, .units = 16, .seed = seed});
    // A large end-token bias, so that some hypotheses finish early and finished ones compete with live ones.
    for (auto& [name, p] : model.named_parameters())
      if (name == "output.bias") p.data()[Tokenizer::kEnd] = 1.5f;
    nn::Generator gen(seed + 100);
    Tensor features = Tensor::uniform({1, 6}, 0, 1, gen);
    for (int beam : {1, 2, 3, 5}) {
      for (bool normalize : {false, true}) {
        const captioning::GenerateOptions o{.beam = beam, .max_length = 9, .length_normalize = normalize};
        std::vector<captioning::Caption> batched = captioning::beam_search(model, tokenizer, features, o);
        std::vector<captioning::Caption> reference = one_beam_at_a_time(model, features, o);
        const std::string what =
            "seed " + std::to_string(seed) + ", beam " + std::to_string(beam) + (normalize ? ", normalised" : "");
        REQUIRE_MESSAGE(batched.size() == reference.size(), what);
        for (size_t i = 0; i < batched.size(); ++i) {
          CHECK_MESSAGE(batched[i].ids == reference[i].ids, what);
          CHECK_MESSAGE(batched[i].log_prob == reference[i].log_prob, what);  // exactly: the same products
          CHECK_MESSAGE(batched[i].score == reference[i].score, what);
          finished += batched[i].ids.size() < 9;
        }
      }
    }
  }
  CHECK(finished > 10);  // the search met the end token, not only the length limit
}
