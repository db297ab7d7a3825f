// Pronunciation: the CMU Pronouncing Dictionary (embedded, ~126k words, lexical stress included), compound
// splitting for words it lacks ("skateboarder" = skate + boarder), and letter-to-sound rules for the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "captioning/speech/phonemes.h"

namespace speech {

struct Phone {
  Phoneme phoneme;
  uint8_t stress = 0;  // vowels: 0 unstressed, 1 primary, 2 secondary
  bool operator==(const Phone&) const = default;
};
using Pronunciation = std::vector<Phone>;

// How pronounce() found a word.
enum class Source : uint8_t { Dictionary, Compound, Rules };

struct Lookup {
  Pronunciation phones;
  Source source;
};

// The dictionary entry of `word` (any case; letters, apostrophes, hyphens), or nullopt.
std::optional<Pronunciation> dictionary_pronunciation(std::string_view word);
// Letter-to-sound rules in the style of Elovitz et al. (NRL, 1976), primary stress on the first vowel.
Pronunciation rule_pronunciation(std::string_view word);
// Dictionary, then compound splitting (each part from the dictionary, or a plural/possessive of one), then rules.
// `word` must be letters (and apostrophes); throws nn::Error otherwise.
Lookup pronounce(std::string_view word);

// "D AO1 G": ARPAbet with stress digits on vowels (AX printed as AX0).
std::string to_arpabet(const Pronunciation& phones);
// Number of words in the embedded dictionary.
size_t dictionary_size();

}  // namespace speech
