#include "captioning/speech/phonemes.h"

#include <array>

namespace speech {
namespace {

using M = Manner;
constexpr float kNone = 0.0f;

// Formant targets and bandwidths of the vowels and sonorants follow Klatt (1980), "Software for a cascade/parallel
// formant synthesizer", table III (adult male); durations follow Klatt (1979)'s INHDUR/MINDUR tables; stop and
// fricative loci and frication spectra are rounded from the same sources. Columns:
//   name manner voiced | F1 F2 F3 | B1 B2 B3 | F1' F2' F3' (diphthong end) | AF | A2 A3 A4 A5 A6 AB | INH MIN
constexpr std::array<PhonemeInfo, static_cast<size_t>(Phoneme::kCount)> kTable{{
    {"AA", M::Vowel, true, 700, 1220, 2600, 130, 70, 160, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 240, 100},
    {"AE", M::Vowel, true, 620, 1660, 2430, 70, 150, 320, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 230, 80},
    {"AH", M::Vowel, true, 620, 1220, 2550, 80, 50, 140, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 140, 60},
    {"AO", M::Vowel, true, 600, 990, 2570, 90, 100, 80, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 240, 100},
    {"AW", M::Diphthong, true, 640, 1230, 2550, 80, 70, 110, 420, 940, 2350, 0, 0, 0, 0, 0, 0, 0, 260, 100},
    {"AY", M::Diphthong, true, 660, 1200, 2550, 100, 70, 200, 400, 1880, 2500, 0, 0, 0, 0, 0, 0, 0, 250, 150},
    {"EH", M::Vowel, true, 530, 1680, 2500, 60, 90, 200, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 150, 70},
    {"ER", M::Vowel, true, 470, 1270, 1540, 100, 60, 110, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 180, 80},
    {"EY", M::Diphthong, true, 480, 1720, 2520, 70, 100, 200, 330, 2200, 2600, 0, 0, 0, 0, 0, 0, 0, 190, 100},
    {"IH", M::Vowel, true, 400, 1800, 2570, 50, 100, 140, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 135, 40},
    {"IY", M::Vowel, true, 310, 2020, 2960, 45, 200, 400, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 155, 55},
    {"OW", M::Diphthong, true, 540, 1100, 2300, 80, 70, 70, 450, 900, 2300, 0, 0, 0, 0, 0, 0, 0, 220, 80},
    {"OY", M::Diphthong, true, 550, 960, 2400, 80, 50, 130, 360, 1820, 2450, 0, 0, 0, 0, 0, 0, 0, 280, 150},
    {"UH", M::Vowel, true, 450, 1100, 2350, 80, 100, 80, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 160, 60},
    {"UW", M::Vowel, true, 330, 1000, 2250, 65, 110, 140, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 210, 70},
    {"AX", M::Vowel, true, 500, 1400, 2300, 100, 80, 150, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 120, 60},
    {"B", M::Stop, true, 200, 900, 2100, 65, 90, 125, kNone, kNone, kNone, 56, 54, 42, 0, 0, 0, 30, 85, 60},
    {"CH", M::Affricate, false, 300, 1840, 2750, 200, 100, 300, kNone, kNone, kNone, 60, 0, 55, 50, 48, 46, 0, 70, 50},
    {"D", M::Stop, true, 200, 1700, 2600, 60, 100, 170, kNone, kNone, kNone, 56, 0, 0, 0, 42, 50, 0, 75, 50},
    {"DH", M::Fricative, true, 300, 1150, 2700, 60, 95, 185, kNone, kNone, kNone, 44, 0, 0, 0, 26, 30, 40, 50, 30},
    {"F", M::Fricative, false, 340, 1100, 2080, 200, 120, 150, kNone, kNone, kNone, 44, 0, 0, 0, 0, 0, 52, 100, 80},
    {"G", M::Stop, true, 250, 1800, 2300, 70, 90, 120, kNone, kNone, kNone, 56, 0, 54, 46, 0, 0, 0, 80, 60},
    {"HH", M::Aspirate, false, 500, 1500, 2500, 300, 300, 300, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 80, 20},
    {"JH", M::Affricate, true, 260, 1800, 2820, 60, 80, 270, kNone, kNone, kNone, 52, 0, 48, 44, 42, 40, 0, 70, 50},
    {"K", M::Stop, false, 250, 1800, 2300, 160, 130, 160, kNone, kNone, kNone, 60, 0, 54, 48, 0, 0, 0, 80, 60},
    {"L", M::Liquid, true, 310, 1050, 2880, 50, 100, 280, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 80, 40},
    {"M", M::Nasal, true, 480, 1270, 2130, 40, 200, 200, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 70, 60},
    {"N", M::Nasal, true, 480, 1340, 2470, 40, 300, 300, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 60, 50},
    {"NG", M::Nasal, true, 480, 2000, 2900, 160, 150, 200, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 95, 60},
    {"P", M::Stop, false, 200, 900, 2100, 300, 190, 185, kNone, kNone, kNone, 60, 58, 46, 0, 0, 0, 36, 90, 50},
    {"R", M::Liquid, true, 310, 1060, 1380, 70, 100, 120, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 80, 30},
    {"S", M::Fricative, false, 320, 1390, 2530, 200, 80, 200, kNone, kNone, kNone, 60, 0, 0, 0, 50, 56, 0, 105, 60},
    {"SH", M::Fricative, false, 300, 1840, 2750, 200, 100, 300, kNone, kNone, kNone, 62, 0, 56, 50, 48, 46, 0, 105, 80},
    {"T", M::Stop, false, 200, 1700, 2600, 300, 180, 250, kNone, kNone, kNone, 60, 0, 0, 0, 48, 56, 0, 75, 50},
    {"TH", M::Fricative, false, 320, 1290, 2540, 200, 90, 200, kNone, kNone, kNone, 46, 0, 0, 0, 28, 32, 46, 90, 60},
    {"V", M::Fricative, true, 220, 1100, 2080, 60, 90, 120, kNone, kNone, kNone, 46, 0, 0, 0, 0, 0, 44, 60, 40},
    {"W", M::Glide, true, 290, 610, 2150, 50, 80, 60, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 80, 60},
    {"Y", M::Glide, true, 260, 2070, 3020, 40, 250, 500, kNone, kNone, kNone, 0, 0, 0, 0, 0, 0, 0, 80, 40},
    {"Z", M::Fricative, true, 240, 1390, 2530, 70, 60, 180, kNone, kNone, kNone, 52, 0, 0, 0, 42, 50, 0, 75, 40},
    {"ZH", M::Fricative, true, 300, 1840, 2750, 70, 100, 300, kNone, kNone, kNone, 52, 0, 50, 44, 42, 40, 0, 70, 40},
}};

}  // namespace

const PhonemeInfo& phoneme_info(Phoneme p) {
  return kTable[static_cast<size_t>(p)];
}

std::optional<Phoneme> phoneme_from_name(std::string_view arpabet) {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (kTable[i].name == arpabet) return static_cast<Phoneme>(i);
  return std::nullopt;
}

bool is_sonorant(Phoneme p) {
  const Manner m = phoneme_info(p).manner;
  return m == Manner::Vowel || m == Manner::Diphthong || m == Manner::Glide || m == Manner::Liquid ||
         m == Manner::Nasal;
}

}  // namespace speech
