#include "captioning/speech/speech.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include "captioning/speech/klatt.h"
#include "captioning/speech/lexicon.h"
#include "captioning/speech/prosody.h"
#include "nn/core/error.h"

namespace speech {
namespace {

void check_options(const Options& o) {
  auto bad = [](const char* name, const std::string& value, const char* range) {
    throw nn::Error(std::string("speech: option ") + name + " = " + value + " is outside " + range);
  };
  if (o.sample_rate < 8000 || o.sample_rate > 48000) bad("sample_rate", std::to_string(o.sample_rate), "8000 … 48000");
  if (!(o.rate >= 0.25f && o.rate <= 4.0f)) bad("rate", std::to_string(o.rate), "0.25 … 4");
  if (!(o.pitch_hz >= 50.0f && o.pitch_hz <= 400.0f)) bad("pitch_hz", std::to_string(o.pitch_hz), "50 … 400");
}

// Each token's pronunciation: spelled tokens read as their letter names.
std::vector<SpokenWord> spoken_words(const std::vector<Token>& tokens) {
  std::vector<SpokenWord> out;
  for (const Token& t : tokens) {
    if (t.word.empty()) {
      out.push_back({{}, t.pause});
      continue;
    }
    static const char* const kLetterNames[] = {"a",   "bee", "see", "dee", "e",        "ef", "gee", "aitch", "i",
                                               "jay", "kay", "el",  "em",  "en",       "o",  "pee", "cue",   "ar",
                                               "es",  "tee", "you", "vee", "double-u", "ex", "why", "zee"};
    std::string word = t.word;
    if (t.spell && word.size() == 1 && word[0] >= 'a' && word[0] <= 'z') word = kLetterNames[word[0] - 'a'];
    Pronunciation phones;
    if (word == "a" && t.spell)
      phones = {{Phoneme::EY, 1}};
    else if (word == "double-u") {
      phones = pronounce("double").phones;
      Pronunciation you = pronounce("you").phones;
      phones.insert(phones.end(), you.begin(), you.end());
    } else {
      phones = pronounce(word).phones;
    }
    out.push_back({std::move(phones), Pause::None, t.word});
  }
  return out;
}

}  // namespace

std::string phonemize(std::string_view text) {
  std::string out;
  for (const SpokenWord& w : spoken_words(normalize(text))) {
    if (w.phones.empty()) continue;
    if (!out.empty()) out += " | ";
    out += to_arpabet(w.phones);
  }
  return out;
}

std::vector<int16_t> synthesize(std::string_view text, const Options& options) {
  check_options(options);
  const std::vector<SpokenWord> words = spoken_words(normalize(text));
  if (std::none_of(words.begin(), words.end(), [](const SpokenWord& w) { return !w.phones.empty(); })) return {};
  const bool female = options.voice == Voice::Female;
  const ProsodyOptions prosody{.rate = options.rate, .pitch_hz = options.pitch_hz * (female ? 1.8f : 1.0f)};
  std::vector<Frame> frames = make_frames(plan_segments(words, prosody), prosody);
  SynthesizerOptions synthesizer{.sample_rate = options.sample_rate, .frame_ms = prosody.frame_ms};
  if (female) {
    for (Frame& f : frames)
      for (float& formant : f.formant) formant *= 1.17f;
    synthesizer.open_quotient = 0.7f;
    synthesizer.spectral_tilt = 0.3f;
  }
  const std::vector<float> wave = render_frames(frames, synthesizer);
  float peak = 0;
  for (float x : wave) peak = std::max(peak, std::abs(x));
  const float scale = peak > 0 ? 0.8f * 32767.0f / peak : 0.0f;  // normalised to −2 dBFS
  std::vector<int16_t> pcm(wave.size());
  for (size_t i = 0; i < wave.size(); ++i)
    pcm[i] = static_cast<int16_t>(std::lround(std::clamp(wave[i] * scale, -32767.0f, 32767.0f)));
  return pcm;
}

std::string encode_wav(std::span<const int16_t> samples, int sample_rate) {
  const uint32_t data_bytes = static_cast<uint32_t>(samples.size() * 2);
  std::string out;
  out.reserve(44 + data_bytes);
  auto u32 = [&](uint32_t v) {
    for (int k = 0; k < 4; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
  };
  auto u16 = [&](uint16_t v) {
    for (int k = 0; k < 2; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
  };
  out += "RIFF";
  u32(36 + data_bytes);
  out += "WAVEfmt ";
  u32(16);  // fmt chunk size
  u16(1);   // PCM
  u16(1);   // mono
  u32(static_cast<uint32_t>(sample_rate));
  u32(static_cast<uint32_t>(sample_rate) * 2);  // bytes per second
  u16(2);                                       // bytes per frame
  u16(16);                                      // bits per sample
  out += "data";
  u32(data_bytes);
  for (int16_t s : samples) u16(static_cast<uint16_t>(s));
  return out;
}

void write_wav(const std::filesystem::path& path, std::span<const int16_t> samples, int sample_rate) {
  const std::string bytes = encode_wav(samples, sample_rate);
  auto fail = [&](const std::string& what) { throw nn::Error(path.string() + ": cannot write WAV: " + what); };
  if (path == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0)
      fail(std::strerror(errno));
    return;
  }
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    fail(std::strerror(ok ? errno : saved));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(ec.message());
  }
}

}  // namespace speech
