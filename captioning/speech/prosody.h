// Prosody: phoneme durations by context (Klatt 1979's rules), phrase-final lengthening, an F0 contour with
// declination and stress accents, and the parameter frames the synthesiser renders, with smooth transitions
// between phoneme targets.
#pragma once

#include <string>
#include <vector>

#include "captioning/speech/klatt.h"
#include "captioning/speech/lexicon.h"
#include "captioning/speech/text.h"

namespace speech {

struct ProsodyOptions {
  float rate = 1.0f;        // speaking rate: 2 = twice as fast
  float pitch_hz = 110.0f;  // the phrase's starting baseline F0
  float frame_ms = 5.0f;
};

// One phoneme (or a pause) with its place in the utterance, duration and F0 target.
struct Segment {
  Phoneme phoneme = Phoneme::AX;
  uint8_t stress = 0;
  bool pause = false;  // a silence (phoneme unused)
  bool word_initial = false, word_final = false;
  bool phrase_final = false;  // in the last syllable before a pause
  bool minor_final = false;   // in the last syllable before a minor phrase boundary (no pause there)
  bool minor_start = false;   // starts a minor phrase: a prepositional phrase ("a dog runs | through the grass")
  bool deaccented = false;    // a word said earlier in the utterance, or a function word: it takes no pitch accent
  bool syllabic = false;      // an /l/ or /n/ carrying its syllable ("bottle", "button"): the schwa before it dropped
  float duration_ms = 0;
  float f0_hz = 0;  // at the segment's middle
};

// A word's pronunciation, or a pause, in order: what the front end hands prosody.
struct SpokenWord {
  Pronunciation phones;  // empty for a pause
  Pause pause = Pause::None;
  std::string text;  // the word as written, lower case (may be empty): for deaccenting and phrasing
};

std::vector<Segment> plan_segments(const std::vector<SpokenWord>& words, const ProsodyOptions& options);
std::vector<Frame> make_frames(const std::vector<Segment>& segments, const ProsodyOptions& options);

}  // namespace speech
