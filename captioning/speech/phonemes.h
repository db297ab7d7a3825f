// The phoneme inventory of American English (ARPAbet, as the CMU Pronouncing Dictionary writes it, plus the
// reduced vowel AX for unstressed AH) and each phoneme's acoustic targets for the formant synthesiser.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace speech {

enum class Phoneme : uint8_t {
  AA,
  AE,
  AH,
  AO,
  AW,
  AY,
  EH,
  ER,
  EY,
  IH,
  IY,
  OW,
  OY,
  UH,
  UW,
  AX,  // vowels
  B,
  CH,
  D,
  DH,
  F,
  G,
  HH,
  JH,
  K,
  L,
  M,
  N,
  NG,
  P,
  R,
  S,
  SH,
  T,
  TH,
  V,
  W,
  Y,
  Z,
  ZH,  // consonants
  kCount
};

enum class Manner : uint8_t { Vowel, Diphthong, Glide, Liquid, Nasal, Fricative, Stop, Affricate, Aspirate };

// Targets in Hz and dB (Klatt 1980's conventions: amplitudes are dB where 60 is a full-strength source).
struct PhonemeInfo {
  std::string_view name;  // "AA"
  Manner manner;
  bool voiced;
  float f1, f2, f3;              // formant targets (for a stop or fricative: the loci its neighbours move from/towards)
  float b1, b2, b3;              // bandwidths
  float f1_end, f2_end, f3_end;  // diphthongs: the second target (0 otherwise)
  float frication_db;            // AF
  float a2, a3, a4, a5, a6, ab;  // parallel-branch amplitudes of the frication spectrum (dB; 0 = off)
  float inherent_ms, minimum_ms;  // Klatt's INHDUR and MINDUR
};

const PhonemeInfo& phoneme_info(Phoneme p);
std::optional<Phoneme> phoneme_from_name(std::string_view arpabet);  // "AA" → AA; nullopt when unknown

inline bool is_vowel(Phoneme p) {
  return p <= Phoneme::AX;
}
bool is_sonorant(Phoneme p);  // vowels, glides, liquids, nasals

}  // namespace speech
