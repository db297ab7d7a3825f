// Coarticulation between a consonant and a neighbouring vowel by Klatt's boundary-value rules (Klatt 1979, 1980;
// Allen, Hunnicutt & Klatt 1987, ch. 9): at a consonant–vowel boundary each formant starts (or, vowel–consonant,
// ends) at  F_boundary = locus + k · (F_vowel − locus),  where the locus and the coarticulation factor k belong to
// the consonant's place of articulation, and moves to (from) the vowel's target over a transition time of that
// place. A small k (alveolars) keeps the onset near the locus whatever the vowel; a large k (labials, velars) lets
// the vowel pull it far — the locus equations' slopes (Sussman et al. 1991: /b/ ≈ 0.8, /d/ ≈ 0.4, /g/ ≈ 0.7).
#pragma once

#include <array>
#include <optional>

#include "captioning/speech/phonemes.h"

namespace speech {

struct Locus {
  std::array<float, 3> hz;  // F1, F2, F3 loci
  std::array<float, 3> k;   // coarticulation factors: 0 = the boundary sits at the locus, 1 = at the vowel target
  float transition_ms;      // F2 and F3 move between the boundary value and the vowel target in this time
  float f1_transition_ms;   // F1 (the jaw) moves faster
};

// The locus of a stop or nasal by its place; nullopt for the other phonemes: vowels; glides and liquids, which are
// transitions themselves; /h/, which takes the next vowel's shape; fricatives and affricates, whose boundary
// values measured worse (WER 0.268 -> 0.304 on 50 captions) than the synthesiser's plain smoothing.
std::optional<Locus> locus_of(Phoneme p);

// F1 … F3 at the boundary between a consonant with `locus` and a vowel whose targets are `vowel` (F1 … F3).
std::array<float, 3> boundary_formants(const Locus& locus, const std::array<float, 3>& vowel);

}  // namespace speech
