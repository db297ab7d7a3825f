#include "captioning/bleu.h"

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <nn/core/error.h>

namespace captioning {

namespace {

using Counts = std::map<std::vector<std::string>, int64_t>;

Counts ngrams(const Tokens& words, size_t n) {
  Counts out;
  for (size_t i = 0; i + n <= words.size(); ++i) ++out[Tokens(words.begin() + i, words.begin() + i + n)];
  return out;
}

}  // namespace

Tokens split_words(const std::string& text) {
  std::istringstream in(text);
  Tokens out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::array<double, 4> corpus_bleu(const std::vector<std::vector<Tokens>>& references,
                                  const std::vector<Tokens>& hypotheses) {
  if (references.size() != hypotheses.size()) {
    nn::fail_expected("corpus_bleu",
                      "as many reference lists as hypotheses (" + std::to_string(hypotheses.size()) + ")",
                      std::to_string(references.size()));
  }
  std::array<int64_t, 4> matched{}, total{};
  int64_t hyp_length = 0, ref_length = 0;
  for (size_t s = 0; s < hypotheses.size(); ++s) {
    const Tokens& hyp = hypotheses[s];
    if (references[s].empty()) nn::fail("corpus_bleu", "hypothesis " + std::to_string(s) + " has no reference");
    for (size_t n = 1; n <= 4; ++n) {
      // Modified precision: each n-gram counts at most as often as in the reference that has it most.
      Counts hyp_counts = ngrams(hyp, n), max_ref;
      for (const Tokens& ref : references[s])
        for (const auto& [gram, count] : ngrams(ref, n)) max_ref[gram] = std::max(max_ref[gram], count);
      for (const auto& [gram, count] : hyp_counts) {
        auto it = max_ref.find(gram);
        matched[n - 1] += std::min(count, it == max_ref.end() ? int64_t{0} : it->second);
      }
      // NLTK counts at least 1 per sentence (a hypothesis shorter than n adds 1 to the denominator).
      total[n - 1] += std::max<int64_t>(1, static_cast<int64_t>(hyp.size()) - static_cast<int64_t>(n) + 1);
    }
    // The reference length closest to the hypothesis's, the shorter on a tie.
    int64_t h = static_cast<int64_t>(hyp.size()), best = -1;
    for (const Tokens& ref : references[s]) {
      int64_t r = static_cast<int64_t>(ref.size());
      if (best < 0 || std::llabs(r - h) < std::llabs(best - h) ||
          (std::llabs(r - h) == std::llabs(best - h) && r < best))
        best = r;
    }
    hyp_length += h;
    ref_length += best;
  }
  std::array<double, 4> scores{};
  if (matched[0] == 0) return scores;
  const double bp = hyp_length > ref_length ? 1.0
                    : hyp_length == 0       ? 0.0
                                            : std::exp(1.0 - static_cast<double>(ref_length) / hyp_length);
  std::array<double, 4> log_p{};
  for (size_t n = 0; n < 4; ++n) {
    // NLTK's method0: an order without matches counts as the smallest positive double.
    double p = matched[n] == 0 ? DBL_MIN : static_cast<double>(matched[n]) / total[n];
    log_p[n] = std::log(p);
  }
  for (size_t order = 1; order <= 4; ++order) {
    double sum = 0;
    for (size_t n = 0; n < order; ++n) sum += log_p[n] / order;
    scores[order - 1] = bp * std::exp(sum);
  }
  return scores;
}

}  // namespace captioning
