#include "captioning/speech/prosody.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>

#include "captioning/speech/coarticulation.h"

namespace speech {
namespace {

bool is_stop(Phoneme p) {
  return phoneme_info(p).manner == Manner::Stop;
}
bool voiceless_stop(Phoneme p) {
  return is_stop(p) && !phoneme_info(p).voiced;
}

float pause_ms(Pause p) {
  switch (p) {
    case Pause::Phrase:
      return 220;
    case Pause::Sentence:
    case Pause::Question:
      return 450;
    case Pause::None:
      return 0;
  }
  return 0;
}

// Prepositions that open a prepositional phrase, before which captions take a minor phrase boundary ("a dog runs
// | through the grass"). Not "of" or "to" ("a group of people" is one phrase), nor particles such as "up".
bool starts_minor_phrase(const std::string& word) {
  static const std::set<std::string, std::less<>> kPrepositions = {
      "above",  "across",  "against", "along",  "among",   "around", "at",         "behind", "below", "beneath",
      "beside", "between", "by",      "in",     "inside",  "into",   "near",       "on",     "onto",  "outside",
      "over",   "past",    "through", "toward", "towards", "under",  "underneath", "with",   "within"};
  return kPrepositions.contains(word);
}

// Function words — articles, prepositions, conjunctions, auxiliaries, pronouns — carry no pitch accent in a
// neutral reading: accents go to the content words (Ladd 1996; the "content word" rule of Hirschberg 1993).
bool function_word(const std::string& word) {
  static const std::set<std::string, std::less<>> kFunctionWords = {
      "a",       "an",    "the",        "this",   "that",    "these",   "those", "some",  "of",      "to",
      "for",     "from",  "about",      "above",  "across",  "against", "along", "among", "around",  "at",
      "behind",  "below", "beneath",    "beside", "between", "by",      "down",  "in",    "inside",  "into",
      "near",    "off",   "on",         "onto",   "out",     "outside", "over",  "past",  "through", "toward",
      "towards", "under", "underneath", "up",     "with",    "within",  "and",   "or",    "but",     "as",
      "while",   "is",    "are",        "was",    "were",    "be",      "been",  "being", "has",     "have",
      "had",     "does",  "do",         "did",    "can",     "will",    "he",    "she",   "it",      "they",
      "his",     "her",   "its",        "their",  "them",    "him",     "who",   "which", "there",   "one's"};
  return kFunctionWords.contains(word);
}

// A word-final unstressed schwa + /l/, or + /n/ after an alveolar obstruent, after a consonant: the /l/ or /n/
// is syllabic ("bottle" [ˈbɑɾl̩], "button", "little", "dozen"), as American English says them.
bool syllabic_consonant(const Pronunciation& phones, size_t schwa) {
  if (schwa == 0 || schwa + 2 != phones.size() || phones[schwa].phoneme != Phoneme::AX) return false;
  const Phoneme before = phones[schwa - 1].phoneme, after = phones[schwa + 1].phoneme;
  if (is_vowel(before) || phoneme_info(before).manner == Manner::Glide) return false;
  if (after == Phoneme::L) return before != Phoneme::L && before != Phoneme::R;
  return after == Phoneme::N &&
         (before == Phoneme::T || before == Phoneme::D || before == Phoneme::S || before == Phoneme::Z);
}

// The words as segments, with word edges, pauses, minor phrase starts, deaccented (repeated or function) words and
// syllabic consonants marked (durations and F0 come later).
std::vector<Segment> flatten(const std::vector<SpokenWord>& words) {
  std::vector<Segment> out;
  out.push_back({.pause = true, .duration_ms = 60});  // a short lead-in
  std::set<std::string, std::less<>> said;
  for (const SpokenWord& w : words) {
    if (w.phones.empty()) {
      if (w.pause != Pause::None && !out.back().pause) out.push_back({.pause = true, .duration_ms = pause_ms(w.pause)});
      continue;
    }
    const bool minor = !out.back().pause && starts_minor_phrase(w.text);
    const bool repeated = !w.text.empty() && (!said.insert(w.text).second || function_word(w.text));
    const size_t first = out.size();
    for (size_t i = 0; i < w.phones.size(); ++i) {
      if (syllabic_consonant(w.phones, i)) continue;  // the schwa: its consonant takes the syllable
      out.push_back({.phoneme = w.phones[i].phoneme,
                     .stress = w.phones[i].stress,
                     .word_initial = out.size() == first,
                     .word_final = i + 1 == w.phones.size(),
                     .minor_start = minor && out.size() == first,
                     .deaccented = repeated,
                     .syllabic = i > 0 && syllabic_consonant(w.phones, i - 1)});
    }
  }
  if (!out.back().pause) out.push_back({.pause = true, .duration_ms = 200});
  return out;
}

// A syllable's nucleus: its vowel, or a syllabic consonant.
bool nucleus(const Segment& s) {
  return !s.pause && (is_vowel(s.phoneme) || s.syllabic);
}

// Klatt's inherent durations are those of slow, careful reading: at rate 1 the first 50 test captions came out at
// 180 words a minute (pauses included; flite reads them at 210), with long vowels into which the recogniser of
// benchmarks/speech_wer.py inserted words (WER 0.45). 1.3 × faster (240 words a minute) measured 0.32.
constexpr float kTempo = 1.3f;

// Klatt (1979): DUR = MINDUR + (INHDUR − MINDUR) × PRCNT, PRCNT the product of the context rules below, for
// segment i said as `info` (a syllabic consonant's syllable is its consonant and, as `vowel`, a schwa).
float klatt_duration(const std::vector<Segment>& seg, size_t i, const PhonemeInfo& info, bool vowel) {
  const Segment& s = seg[i];
  float percent = 1.0f, minimum = info.minimum_ms;
  // Syllables of the word: is this one in its word's last syllable, and has the word more than one?
  size_t begin = i, end = i;
  while (begin > 0 && !seg[begin].word_initial && !seg[begin - 1].pause) --begin;
  while (end + 1 < seg.size() && !seg[end].word_final && !seg[end + 1].pause) ++end;
  int vowels = 0, vowels_after = 0;
  for (size_t k = begin; k <= end; ++k) {
    vowels += nucleus(seg[k]);
    vowels_after += k > i && nucleus(seg[k]);
  }
  const Segment* next = i + 1 < seg.size() && !seg[i + 1].pause ? &seg[i + 1] : nullptr;
  if (vowel) {
    if (s.phrase_final)
      percent *= 1.4f;  // clause-final lengthening
    else if (s.minor_final)
      percent *= 0.8f;  // before a minor phrase boundary: a third longer than Klatt's non-phrase-final 0.6
    else
      percent *= 0.6f;                       // non-phrase-final shortening (Klatt 1979)
    if (vowels_after > 0) percent *= 0.85f;  // non-word-final shortening
    if (vowels > 1) percent *= 0.8f;         // polysyllabic shortening
    if (s.stress == 0) {                     // unstressed shortening
      percent *= 0.6f;
      minimum *= 0.5f;
    }
    if (next && next->word_final == s.word_final) {  // postvocalic context, within the word
      const PhonemeInfo& n = phoneme_info(next->phoneme);
      if (voiceless_stop(next->phoneme))
        percent *= 0.75f;
      else if (n.voiced && (n.manner == Manner::Fricative || n.manner == Manner::Stop))
        percent *= 1.2f;
      else if (n.manner == Manner::Nasal)
        percent *= 0.9f;
    }
  } else {
    if (!s.word_initial) percent *= 0.85f;  // non-initial consonant shortening
    const bool cluster =
        (next && !is_vowel(next->phoneme)) || (i > 0 && !seg[i - 1].pause && !is_vowel(seg[i - 1].phoneme));
    if (cluster) percent *= 0.75f;  // shortening in consonant clusters
    // Unstressed shortening applies to a consonant too (Klatt: 0.7): the syllable's vowel, the next one in the
    // word, or the word's last before it.
    const Segment* v = nullptr;
    for (size_t k = i + 1; k <= end && !v; ++k)
      if (is_vowel(seg[k].phoneme)) v = &seg[k];
    for (size_t k = i; k-- > begin && !v;)
      if (is_vowel(seg[k].phoneme)) v = &seg[k];
    if (v && v->stress == 0) percent *= 0.7f;
    if (s.phrase_final) percent *= 1.3f;
  }
  return minimum + (info.inherent_ms - minimum) * percent;
}

void assign_durations(std::vector<Segment>& seg, float rate) {
  // Phrase-final syllable: from the last nucleus before each pause (or minor phrase boundary) up to it.
  for (size_t i = 0; i < seg.size(); ++i) {
    if (i == 0 || !(seg[i].pause || seg[i].minor_start)) continue;
    for (size_t j = i; j-- > 0 && !seg[j].pause;) {
      (seg[i].pause ? seg[j].phrase_final : seg[j].minor_final) = true;
      if (nucleus(seg[j])) break;
    }
  }
  for (size_t i = 0; i < seg.size(); ++i) {
    Segment& s = seg[i];
    if (s.pause) continue;
    s.duration_ms = klatt_duration(seg, i, phoneme_info(s.phoneme), is_vowel(s.phoneme));
    if (s.syllabic) s.duration_ms += klatt_duration(seg, i, phoneme_info(Phoneme::AX), true);
    s.duration_ms /= rate;
  }
  for (Segment& s : seg)
    if (s.pause) s.duration_ms /= rate;
}

// F0: per phrase a baseline falling from pitch_hz to 80 % of it (declination), partly reset at each minor phrase
// boundary; accents on stressed vowels except those of repeated and function words, and a final fall (statement), rise
// (question) or slight continuation rise (comma).
void assign_f0(std::vector<Segment>& seg, const std::vector<SpokenWord>& words, float pitch) {
  std::vector<Pause> phrase_ends;
  for (const SpokenWord& w : words)
    if (w.phones.empty() && w.pause != Pause::None) phrase_ends.push_back(w.pause);
  size_t phrase = 0;
  for (size_t begin = 0; begin < seg.size();) {
    while (begin < seg.size() && seg[begin].pause) ++begin;
    size_t end = begin;
    while (end < seg.size() && !seg[end].pause) ++end;
    if (begin >= seg.size()) break;
    float total = 0;
    for (size_t k = begin; k < end; ++k) total += seg[k].duration_ms;
    const Pause kind = end + 1 < seg.size() && phrase < phrase_ends.size() ? phrase_ends[phrase] : Pause::Sentence;
    size_t last_vowel = end;
    for (size_t k = begin; k < end; ++k)
      if (is_vowel(seg[k].phoneme)) last_vowel = k;
    float t = 0, reset = 0;
    bool first_accent = true;
    for (size_t k = begin; k < end; ++k) {
      // A minor phrase boundary takes back 40 % of the declination so far: a small reset.
      if (seg[k].minor_start) reset = 0.4f * 0.2f * t / std::max(total, 1.0f);
      const float middle = (t + 0.5f * seg[k].duration_ms) / std::max(total, 1.0f);
      t += seg[k].duration_ms;
      float f0 = pitch * (1.0f - 0.2f * middle + reset);
      if (seg[k].deaccented) {
        // A word said before is given information, a function word carries no accent: it keeps to the baseline.
      } else if (is_vowel(seg[k].phoneme) && seg[k].stress == 1) {
        f0 *= first_accent ? 1.25f : 1.15f;
        first_accent = false;
      } else if (is_vowel(seg[k].phoneme) && seg[k].stress == 2) {
        f0 *= 1.05f;
      }
      if (k >= last_vowel && last_vowel < end) {
        if (kind == Pause::Question)
          f0 = pitch * 1.4f;
        else if (kind == Pause::Phrase)
          f0 = pitch * 0.95f;
        else
          f0 = pitch * 0.7f;
      }
      seg[k].f0_hz = f0;
    }
    if (kind != Pause::Sentence || phrase < phrase_ends.size()) ++phrase;
    begin = end;
  }
  // Pauses carry their neighbour's F0 so that the interpolated contour does not dip through them.
  for (size_t k = 0; k < seg.size(); ++k)
    if (seg[k].pause) seg[k].f0_hz = k > 0 ? seg[k - 1].f0_hz : 0;
  for (size_t k = seg.size(); k-- > 0;)
    if (seg[k].f0_hz == 0) seg[k].f0_hz = k + 1 < seg.size() ? seg[k + 1].f0_hz : pitch;
}

// ---- frames ----

// A stretch with constant targets: a segment, or part of one (a stop's closure, burst and aspiration; a
// diphthong's two halves).
struct Target {
  float start_ms = 0, duration_ms = 0;
  Frame frame;
  bool silent = false;
  bool glide_through = false;  // a diphthong's second half: the transition spans both halves
  bool consonant = false;
  bool abrupt = false;  // its sources switch on at once (a stop's release), not over the usual ±6 ms
  bool liquid = false;  // a glide or liquid: itself a transition, its formants move through half its length
  // A consonant whose formants are boundary values against a neighbouring vowel (coarticulation.h): the vowel's
  // formants move from (to) them over these times, and the consonant's own stay put. 0 otherwise.
  float transition_ms = 0, f1_transition_ms = 0;
  Frame edge;  // the frame with F1 … F3 at their boundary values, where the vowel's transition starts or ends
  bool faces_next = false;  // the vowel it faces follows it (else precedes it)
  float edge_reach_ms = 0;  // a nasal murmur moves from its own formants to the boundary values in this time
};

Frame shape_of(const PhonemeInfo& p, bool second_half = false) {
  Frame f;
  f.formant[0] = second_half ? p.f1_end : p.f1;
  f.formant[1] = second_half ? p.f2_end : p.f2;
  f.formant[2] = second_half ? p.f3_end : p.f3;
  f.bandwidth[0] = p.b1;
  f.bandwidth[1] = p.b2;
  f.bandwidth[2] = p.b3;
  return f;
}

void set_frication(Frame& f, const PhonemeInfo& p, float scale_db = 0) {
  f.frication_db = p.frication_db + scale_db;
  f.parallel_db = {p.a2, p.a3, p.a4, p.a5, p.a6, p.ab};
}

// Formants and bandwidths from a to b by w (F1 by w1: it may move faster than the others).
void blend_shape(Frame& out, const Frame& a, const Frame& b, float w, float w1) {
  for (size_t k = 0; k < 5; ++k) {
    const float wk = k == 0 ? w1 : w;
    out.formant[k] = a.formant[k] + (b.formant[k] - a.formant[k]) * wk;
    out.bandwidth[k] = a.bandwidth[k] + (b.bandwidth[k] - a.bandwidth[k]) * wk;
  }
  out.nasal_zero_hz = a.nasal_zero_hz + (b.nasal_zero_hz - a.nasal_zero_hz) * w;
}
void blend_shape(Frame& out, const Frame& a, const Frame& b, float w) {
  blend_shape(out, a, b, w, w);
}

// The formants of vowel segment s at its start or its end (a diphthong's second target): its table targets,
// reduced towards schwa when unstressed (keeping ER's r-colouring).
Frame vowel_shape(const Segment& s, bool end) {
  const PhonemeInfo& p = phoneme_info(s.phoneme);
  Frame f = shape_of(p, end && p.manner == Manner::Diphthong);
  if (p.manner == Manner::Vowel && s.stress == 0 && s.phoneme != Phoneme::ER)
    blend_shape(f, f, shape_of(phoneme_info(Phoneme::AX)), 0.3f);
  return f;
}

// Klatt's boundary values for consonant segment i's target `f`: against the vowel after it (prefer_next) or
// before it, or against the other side's vowel when the preferred side has no vowel and no sonorant either (a
// pause, an obstruent: "cats", "a dog."). The consonant's frame takes F1 … F3 at the boundary; the returned
// locus gives the vowel's transition times (nullopt: no vowel to face, or a consonant without a locus), and
// faces_next which side the vowel is on.
std::optional<Locus> face_vowel(Frame& f, const std::vector<Segment>& seg, size_t i, bool prefer_next,
                                bool& faces_next) {
  const std::optional<Locus> locus = locus_of(seg[i].phoneme);
  if (!locus) return std::nullopt;
  auto neighbour = [&](bool next) -> const Segment* {
    if (next ? i + 1 >= seg.size() : i == 0) return nullptr;
    const Segment& n = seg[next ? i + 1 : i - 1];
    return n.pause ? nullptr : &n;
  };
  const Segment* preferred = neighbour(prefer_next);
  bool next = prefer_next;
  if (!preferred || !is_vowel(preferred->phoneme)) {
    const Segment* other = neighbour(!prefer_next);
    if ((preferred && is_sonorant(preferred->phoneme)) || !other || !is_vowel(other->phoneme)) return std::nullopt;
    preferred = other;
    next = !prefer_next;
  }
  const Frame v = vowel_shape(*preferred, !next);
  const std::array<float, 3> b = boundary_formants(*locus, {v.formant[0], v.formant[1], v.formant[2]});
  for (size_t k = 0; k < 3; ++k) f.formant[k] = b[k];
  faces_next = next;
  return locus;
}

std::vector<Target> make_targets(const std::vector<Segment>& seg) {
  std::vector<Target> out;
  auto add = [&](float ms, const Frame& f, bool silent = false, bool glide = false, bool consonant = true) {
    out.push_back({0, ms, f, silent, glide, consonant});
  };
  // A consonant target at its boundary values against the vowel on its preferred side (face_vowel).
  // A stop's closure holds them (its formants are where the vowel's transition ended); a burst or a nasal murmur
  // keeps its own spectrum.
  auto add_facing = [&](size_t i, float ms, Frame f, bool prefer_next, bool hold = false) {
    Frame edge = f;
    bool faces_next = false;
    const std::optional<Locus> locus = face_vowel(edge, seg, i, prefer_next, faces_next);
    add(ms, hold ? edge : f);
    out.back().edge = edge;
    out.back().faces_next = faces_next;
    // A nasal is voiced: its murmur's formants move to the boundary values over its last (first) 20 ms, so that
    // the voiced formant tracks stay continuous (its sources still switch at once).
    if (locus && phoneme_info(seg[i].phoneme).manner == Manner::Nasal)
      out.back().edge_reach_ms = std::min(20.0f, 0.5f * ms);
    if (locus) {
      out.back().transition_ms = locus->transition_ms;
      out.back().f1_transition_ms = locus->f1_transition_ms;
    }
  };
  for (size_t i = 0; i < seg.size(); ++i) {
    const Segment& s = seg[i];
    if (s.pause) {
      add(s.duration_ms, Frame{}, true);
      continue;
    }
    const PhonemeInfo& p = phoneme_info(s.phoneme);
    const Segment* next = i + 1 < seg.size() && !seg[i + 1].pause ? &seg[i + 1] : nullptr;
    Frame f = shape_of(p);
    // An obstruent before a liquid or glide is made with the tongue and lips already on their way to it ("green",
    // "play", "twin"): half of the way in F2 and F3.
    if (next && !is_sonorant(s.phoneme) && is_sonorant(next->phoneme) && !is_vowel(next->phoneme) &&
        phoneme_info(next->phoneme).manner != Manner::Nasal) {
      const Frame toward = shape_of(phoneme_info(next->phoneme));
      for (size_t k = 1; k < 3; ++k) f.formant[k] = 0.5f * (f.formant[k] + toward.formant[k]);
    }
    switch (p.manner) {
      case Manner::Vowel:
        f = vowel_shape(s, false);
        f.voicing_db = s.stress ? 60 : 57;
        add(s.duration_ms, f, false, false, false);
        break;
      case Manner::Diphthong: {
        f.voicing_db = s.stress ? 60 : 57;
        Frame end = shape_of(p, true);
        end.voicing_db = f.voicing_db;
        add(0.45f * s.duration_ms, f, false, false, false);
        add(0.55f * s.duration_ms, end, false, true, false);
        break;
      }
      case Manner::Glide:
      case Manner::Liquid:
        f.voicing_db = 56;
        add(s.duration_ms, f);
        out.back().liquid = true;
        break;
      case Manner::Nasal:
        f.voicing_db = 58;
        // The zero of the side branch (the closed mouth) lies lower the longer that branch: /m/ ~750-1000 Hz,
        // /n/ ~1450-2000 Hz, /ng/ above 3000 Hz (Fujimura 1962; Stevens 1998, ch. 9).
        f.nasal_zero_hz = s.phoneme == Phoneme::M ? 750.0f : s.phoneme == Phoneme::N ? 1450.0f : 3000.0f;
        add_facing(i, s.duration_ms, f, true);
        break;
      case Manner::Fricative:
        f.voicing_db = p.voiced ? 47 : 0;
        set_frication(f, p);
        add(s.duration_ms, f);
        break;
      case Manner::Aspirate: {
        if (next) f = shape_of(phoneme_info(next->phoneme));
        f.aspiration_db = 56;
        add(s.duration_ms, f);
        break;
      }
      case Manner::Affricate: {
        Frame closure = f;
        closure.voicing_db = p.voiced ? 38 : 0;
        add(0.45f * s.duration_ms, closure);
        f.voicing_db = p.voiced ? 44 : 0;
        set_frication(f, p);
        add(0.55f * s.duration_ms, f);
        break;
      }
      case Manner::Stop: {
        // American English flaps /t d/ between a vowel (or /r/) and an unstressed vowel or syllabic /l/ of the same
        // word ("water", "city", "bottle"): a brief voiced tap of the tongue, no closure silence and no burst.
        const bool after_vowel =
            i > 0 && !seg[i - 1].pause && (is_vowel(seg[i - 1].phoneme) || seg[i - 1].phoneme == Phoneme::R);
        const bool unstressed_next =
            next && ((is_vowel(next->phoneme) && next->stress == 0) || (next->syllabic && next->phoneme == Phoneme::L));
        if ((s.phoneme == Phoneme::T || s.phoneme == Phoneme::D) && !s.word_initial && after_vowel && unstressed_next) {
          f.voicing_db = 52;
          add(std::min(s.duration_ms, 25.0f), f);
          break;
        }
        const float burst = p.voiced ? 8.0f : 12.0f;
        Frame closure = f;
        closure.voicing_db = p.voiced ? 38 : 0;
        add_facing(i, std::max(s.duration_ms - burst, 10.0f), closure, false, true);
        Frame release = f;
        // Weaker for a voiced stop, and before a pause (a final stop is released softly, if at all).
        set_frication(release, p, (p.voiced ? -4.0f : 0.0f) + (next ? 0.0f : -10.0f));
        add_facing(i, burst, release, true);
        out.back().abrupt = true;
        const bool after_s = i > 0 && !seg[i - 1].pause && seg[i - 1].phoneme == Phoneme::S;
        if (!p.voiced && next && is_sonorant(next->phoneme) && !after_s) {
          Frame aspiration = shape_of(phoneme_info(next->phoneme));
          aspiration.aspiration_db = 64;
          add(is_vowel(next->phoneme) && next->stress ? 45.0f : 25.0f, aspiration);
        }
        break;
      }
    }
  }
  // Silences take their neighbours' formants, so nothing glides in or out of them.
  for (size_t k = 0; k < out.size(); ++k) {
    if (!out[k].silent) continue;
    size_t j = k;
    while (j < out.size() && out[j].silent) ++j;
    const Frame& like = j < out.size() ? out[j].frame : (k > 0 ? out[k - 1].frame : out[k].frame);
    out[k].frame.formant = like.formant;
    out[k].frame.bandwidth = like.bandwidth;
  }
  float t = 0;
  for (Target& target : out) {
    target.start_ms = t;
    t += target.duration_ms;
  }
  return out;
}

float smooth(float x) {
  x = std::clamp(x, 0.0f, 1.0f);
  return x * x * (3.0f - 2.0f * x);
}

// The weight of the later target at time t (ms) from a boundary whose transition reaches `before` ms into the
// earlier target and `after` ms into the later one (a jump when both are 0).
float ramp(float t, float before, float after) {
  return before + after > 0 ? smooth((t + before) / (before + after)) : (t >= 0 ? 1.0f : 0.0f);
}

void blend_source(Frame& out, const Frame& a, const Frame& b, float w) {
  out.voicing_db = a.voicing_db + (b.voicing_db - a.voicing_db) * w;
  out.aspiration_db = a.aspiration_db + (b.aspiration_db - a.aspiration_db) * w;
  out.frication_db = a.frication_db + (b.frication_db - a.frication_db) * w;
  for (size_t k = 0; k < 6; ++k) out.parallel_db[k] = a.parallel_db[k] + (b.parallel_db[k] - a.parallel_db[k]) * w;
}

// How far (ms) formant transitions reach into target `a` and into target `b` at the boundary between them.
struct Window {
  float a, b;    // F2 and above
  float a1, b1;  // F1
};

// Consonant c's frame as its neighbour v sees it: at its boundary values when v is a vowel it faces.
const Frame& edge_of(const Target& c, const Target& v, bool v_after_c) {
  return c.transition_ms > 0 && c.faces_next == v_after_c && !v.consonant && !v.silent ? c.edge : c.frame;
}

Window formant_window(const Target& a, const Target& b) {
  if (b.glide_through) return {0.5f * a.duration_ms, 0.5f * b.duration_ms, 0.5f * a.duration_ms, 0.5f * b.duration_ms};
  if (a.silent || b.silent || b.abrupt) return {0.0f, 0.0f, 0.0f, 0.0f};  // a release is an instant
  // Boundary values (Klatt): the consonant holds them, the vowel moves from (to) them within at most half its
  // length, so that its steady state is still reached.
  const bool vowel_a = !a.consonant && !a.silent, vowel_b = !b.consonant && !b.silent;
  if (a.transition_ms > 0 && a.faces_next && vowel_b) {
    const float half = 0.5f * b.duration_ms;
    return {0.0f, std::min(half, a.transition_ms), 0.0f, std::min(half, a.f1_transition_ms)};
  }
  if (b.transition_ms > 0 && !b.faces_next && vowel_a) {
    const float half = 0.5f * a.duration_ms;
    return {std::min(half, b.transition_ms), 0.0f, std::min(half, b.f1_transition_ms), 0.0f};
  }
  if (a.liquid || b.liquid) {
    auto reach = [](const Target& t) {
      return t.liquid ? 0.5f * t.duration_ms : std::min(0.5f * t.duration_ms, 60.0f);
    };
    return {reach(a), reach(b), reach(a), reach(b)};
  }
  const float into_a = std::min(0.5f * a.duration_ms, a.consonant ? 10.0f : 40.0f);
  const float into_b = std::min(0.5f * b.duration_ms, a.consonant ? 45.0f : (b.consonant ? 10.0f : 30.0f));
  return {into_a, into_b, into_a, into_b};
}

// A nasal murmur's formants move linearly to their boundary values at the vowel it faces, over its last (or
// first) edge_reach_ms.
void murmur_to_edge(Frame& f, const std::vector<Target>& targets, size_t k, float now) {
  const Target& cur = targets[k];
  if (cur.edge_reach_ms <= 0) return;
  const Target* vowel =
      cur.faces_next ? (k + 1 < targets.size() ? &targets[k + 1] : nullptr) : (k > 0 ? &targets[k - 1] : nullptr);
  if (!vowel || &edge_of(cur, *vowel, cur.faces_next) != &cur.edge) return;
  const float from_edge = cur.faces_next ? cur.start_ms + cur.duration_ms - now : now - cur.start_ms;
  if (from_edge < cur.edge_reach_ms)
    blend_shape(f, cur.edge, cur.frame, std::clamp(from_edge / cur.edge_reach_ms, 0.0f, 1.0f));
}

}  // namespace

std::vector<Segment> plan_segments(const std::vector<SpokenWord>& words, const ProsodyOptions& options) {
  std::vector<Segment> seg = flatten(words);
  assign_durations(seg, options.rate * kTempo);
  assign_f0(seg, words, options.pitch_hz);
  return seg;
}

std::vector<Frame> make_frames(const std::vector<Segment>& segments, const ProsodyOptions& options) {
  const std::vector<Target> targets = make_targets(segments);
  if (targets.empty()) return {};
  const float total = targets.back().start_ms + targets.back().duration_ms;
  // F0 through the segments' middles.
  std::vector<std::pair<float, float>> f0_points;
  float t = 0;
  for (const Segment& s : segments) {
    f0_points.emplace_back(t + 0.5f * s.duration_ms, s.f0_hz);
    t += s.duration_ms;
  }
  const size_t count = static_cast<size_t>(std::ceil(total / options.frame_ms));
  std::vector<Frame> frames(count);
  size_t k = 0, p = 0;
  for (size_t i = 0; i < count; ++i) {
    const float now = (static_cast<float>(i) + 0.5f) * options.frame_ms;
    while (k + 1 < targets.size() && now >= targets[k + 1].start_ms) ++k;
    const Target& cur = targets[k];
    Frame f = cur.frame;
    constexpr float kSourceWindow = 6.0f;  // amplitude changes are quick: ±6 ms
    if (k > 0) {
      const Target& prev = targets[k - 1];
      const Window w = formant_window(prev, cur);
      if (now < cur.start_ms + std::max(w.b, w.b1))
        blend_shape(f, edge_of(prev, cur, true), cur.frame, ramp(now - cur.start_ms, w.a, w.b),
                    ramp(now - cur.start_ms, w.a1, w.b1));
      const float sl = cur.abrupt ? 0.0f : std::min(kSourceWindow, 0.5f * prev.duration_ms),
                  sr = cur.abrupt ? 0.5f : std::min(kSourceWindow, 0.5f * cur.duration_ms);
      if (now < cur.start_ms + sr)
        blend_source(f, prev.frame, cur.frame, smooth((now - cur.start_ms + sl) / (sl + sr)));
    }
    if (k + 1 < targets.size()) {
      const Target& next = targets[k + 1];
      const float end = next.start_ms;
      const Window w = formant_window(cur, next);
      if (now > end - std::max(w.a, w.a1))
        blend_shape(f, cur.frame, edge_of(next, cur, false), ramp(now - end, w.a, w.b), ramp(now - end, w.a1, w.b1));
      const float sl = next.abrupt ? 0.0f : std::min(kSourceWindow, 0.5f * cur.duration_ms),
                  sr = next.abrupt ? 0.5f : std::min(kSourceWindow, 0.5f * next.duration_ms);
      if (now > end - sl) blend_source(f, cur.frame, next.frame, smooth((now - end + sl) / (sl + sr)));
    }
    murmur_to_edge(f, targets, k, now);
    while (p + 1 < f0_points.size() && f0_points[p + 1].first <= now) ++p;
    if (p + 1 < f0_points.size() && now > f0_points[p].first) {
      const auto [t0, v0] = f0_points[p];
      const auto [t1, v1] = f0_points[p + 1];
      f.f0 = v0 + (v1 - v0) * (now - t0) / std::max(t1 - t0, 1e-3f);
    } else {
      f.f0 = f0_points[p].second;
    }
    frames[i] = f;
  }
  return frames;
}

}  // namespace speech
