/// @file
/// Corpus BLEU-1…4, equal to NLTK's corpus_bleu with its defaults (closest reference length for the brevity
/// penalty, no smoothing: an order with no match contributes log(DBL_MIN), and no unigram match gives 0).
#pragma once

#include <array>
#include <string>
#include <vector>

namespace captioning {

/// One sentence's words.
using Tokens = std::vector<std::string>;

/// For each hypothesis, its references. Returns {BLEU-1, BLEU-2, BLEU-3, BLEU-4} with NLTK's cumulative weights
/// (1), (½,½), (⅓,⅓,⅓), (¼,¼,¼,¼). Throws nn::Error if the counts differ or a hypothesis has no reference.
std::array<double, 4> corpus_bleu(const std::vector<std::vector<Tokens>>& references,
                                  const std::vector<Tokens>& hypotheses);

/// `text` split at white space (runs of spaces, tabs and newlines), empty words dropped.
Tokens split_words(const std::string& text);

}  // namespace captioning
