/// @file
/// Text normalisation: UTF-8 text → words to pronounce and pauses. Numbers become words ("42" → forty two,
/// "3.5" → three point five, "1st" → first, "1990" → nineteen ninety), common abbreviations and symbols are
/// expanded, capitalised letter strings that are no word are spelled, punctuation becomes pauses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nn/core/error.h"  // header-only: nn::Error; nn::speech does not link nn

namespace speech {

/// Text the front end cannot read: invalid UTF-8, characters of scripts it has no pronunciation for, or more than
/// kMaxTextBytes. The message names the byte offset and the character.
struct TextError : nn::Error {
  using nn::Error::Error;
};

/// About 18 minutes of speech. The synthesiser holds ~9 KB per byte of text at its peak (frames, parameter tracks,
/// samples), so 1 MB of text took ~9.7 GB; 16 KiB stays near 150 MB.
inline constexpr size_t kMaxTextBytes = 16 << 10;

/// A pause from the punctuation: a phrase (, ; : parentheses, a spaced dash), a sentence (. !), a question (?).
enum class Pause : uint8_t { None, Phrase, Sentence, Question };

/// One word to pronounce, or a pause.
struct Token {
  std::string word;           ///< lower-case letters and apostrophes; empty for a pause
  Pause pause = Pause::None;  ///< the pause this token stands for (None for a word)
  bool spell = false;         ///< read letter by letter (an acronym such as "BBC")
};

/// The words and pauses of UTF-8 `text`, in order. Throws TextError for text it cannot read.
std::vector<Token> normalize(std::string_view text);

/// "42" → "forty two"; works for 0 … 999,999,999,999.
std::string number_to_words(unsigned long long n);

}  // namespace speech
