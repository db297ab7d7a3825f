/// @file
/// nn::speech — text to speech with no dependency on nn: normalisation → pronunciation (CMU dictionary, compound
/// splitting, letter-to-sound rules) → prosody → a Klatt-style formant synthesiser → 16-bit PCM / WAV.
///
/// @code
///   std::vector<int16_t> pcm = speech::synthesize("a dog runs on the grass", {.sample_rate = 16000});
///   speech::write_wav("dog.wav", pcm, 16000);
/// @endcode
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captioning/speech/text.h"

/// Text to speech (target nn::speech, which does not link nn).
namespace speech {

/// The speaker: an adult male, or an adult female voice made from it — F0 0.85 octave higher (×1.8), formants ×1.17
/// (the ratio of women's to men's vowel formants in Peterson & Barney 1952 and Hillenbrand et al. 1995: a shorter
/// vocal tract), a longer open phase and a steeper glottal spectrum (a softer, slightly breathier source).
enum class Voice : uint8_t { Male, Female };

/// How synthesize speaks; out-of-range values are an nn::Error naming the option.
struct Options {
  int sample_rate = 16000;  ///< 16000 or 22050 (any rate in 8000 … 48000 works)
  float rate = 1.0f;        ///< speaking rate, 0.25 … 4
  float pitch_hz = 110.0f;  ///< baseline F0 of the male voice, 50 … 400 (the female voice speaks 1.8 × higher)
  Voice voice = Voice::Male;
};

/// Samples of `text` spoken, deterministic for equal text and options; empty text (or only punctuation and
/// spaces) gives silence of zero length. Throws TextError for text it cannot read (the message names the byte)
/// and nn::Error naming the option for options out of range (TextError is an nn::Error too).
std::vector<int16_t> synthesize(std::string_view text, const Options& options = {});

/// The text as phonemes, words separated by " | ": "a dog" → "AX0 | D AO1 G" (for inspection and tests).
std::string phonemize(std::string_view text);

/// A 44-byte-header RIFF/WAVE file of mono 16-bit PCM.
std::string encode_wav(std::span<const int16_t> samples, int sample_rate);
/// Writes encode_wav() to `path` atomically (a temporary beside it, then rename); "-" writes to standard output.
/// Throws nn::Error naming the path when it cannot be written.
void write_wav(const std::filesystem::path& path, std::span<const int16_t> samples, int sample_rate);

}  // namespace speech
