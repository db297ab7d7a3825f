// nn::speech: pronunciation (dictionary, compounds, letter-to-sound rules), text normalisation, the resonators,
// WAV encoding, durations, silence, determinism and the errors for text it cannot read.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <captioning/speech/klatt.h>
#include <captioning/speech/lexicon.h>
#include <captioning/speech/phonemes.h>
#include <captioning/speech/speech.h>
#include <captioning/speech/text.h>
#include <nn/core/error.h>

using namespace speech;

namespace {
std::string arpabet(const char* word) {
  return to_arpabet(pronounce(word).phones);
}

std::string words_of(const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) out += (out.empty() ? "" : " ") + (t.word.empty() ? std::string("|") : t.word);
  return out;
}

// Zero crossings per sample of pcm[begin, end).
double crossing_rate(const std::vector<int16_t>& pcm, size_t begin, size_t end) {
  int crossings = 0;
  for (size_t i = begin + 1; i < end; ++i) crossings += (pcm[i - 1] < 0) != (pcm[i] < 0);
  return static_cast<double>(crossings) / static_cast<double>(end - begin);
}
}  // namespace

TEST_CASE("the phoneme table is in enum order") {
  for (int i = 0; i < static_cast<int>(Phoneme::kCount); ++i) {
    const auto p = static_cast<Phoneme>(i);
    CHECK(phoneme_from_name(phoneme_info(p).name) == p);
  }
  CHECK_FALSE(phoneme_from_name("QQ").has_value());
}

TEST_CASE("dictionary words take the CMU pronunciation with its lexical stress") {
  CHECK(dictionary_size() > 120000);
  // CMUdict: dog D AO1 G; grass G R AE1 S; climbing K L AY1 M IH0 NG; about AH0 B AW1 T (unstressed AH → AX).
  CHECK(arpabet("dog") == "D AO1 G");
  CHECK(arpabet("Grass") == "G R AE1 S");
  CHECK(arpabet("climbing") == "K L AY1 M IH0 NG");
  CHECK(arpabet("about") == "AX0 B AW1 T");
  CHECK(pronounce("dog").source == Source::Dictionary);
}

TEST_CASE("words the dictionary lacks are split into known parts, the later parts with secondary stress") {
  // skate S K EY1 T + boarder B AO1 R D ER0; shirt SH ER1 T + less L EH1 S; snow S N OW1 + boarding B AO1 R D IH0 NG
  REQUIRE_FALSE(dictionary_pronunciation("skateboarder").has_value());
  CHECK(arpabet("skateboarder") == "S K EY1 T B AO2 R D ER0");
  CHECK(arpabet("shirtless") == "SH ER1 T L EH2 S");
  CHECK(arpabet("snowboarding") == "S N OW1 B AO2 R D IH0 NG");
  CHECK(pronounce("snowboarding").source == Source::Compound);
  // A plural of a dictionary word: + Z after a voiced sound, + S after a voiceless one, + IH Z after a sibilant.
  CHECK(pronounce("skateboarders").source == Source::Compound);
  CHECK(arpabet("skateboarders") == "S K EY1 T B AO2 R D ER0 Z");
}

TEST_CASE("letter-to-sound rules read made-up words") {
  CHECK(pronounce("blorft").source == Source::Rules);
  CHECK(arpabet("blorft") == "B L AO1 R F T");
  CHECK(arpabet("zib") == "Z IH1 B");
  CHECK(arpabet("shamp") == "SH AE1 M P");
  CHECK(to_arpabet(rule_pronunciation("thrake")) == "TH R EY1 K");
  CHECK_THROWS_WITH_AS(pronounce("a1"), "speech: cannot pronounce \"a1\": only letters and apostrophes", nn::Error);
}

TEST_CASE("normalisation spells out numbers, abbreviations and acronyms and marks pauses") {
  CHECK(number_to_words(0) == "zero");
  CHECK(number_to_words(42) == "forty two");
  CHECK(number_to_words(1234567) == "one million two hundred thirty four thousand five hundred sixty seven");
  CHECK(words_of(normalize("A dog, 3 cats.")) == "a dog | three cats |");
  CHECK(words_of(normalize("the 21st in 1990 cost 3.5%")) ==
        "the twenty first in nineteen ninety cost three point five percent");
  CHECK(words_of(normalize("Mr. Smith runs e.g. fast")) == "mister smith runs for example fast");
  CHECK(words_of(normalize("the QXZ")) == "the q x z");  // no word: spelled
  CHECK(normalize("Is it?").back().pause == Pause::Question);
  CHECK(words_of(normalize("Café\tcrème")) == "cafe creme");
  // More than 12 digits are read one by one; an ordinal suffix then applies to the last (found by fuzzing).
  CHECK(words_of(normalize("12345678901234th")) ==
        "one two three four five six seven eight nine zero one two three fourth");
}

TEST_CASE("a resonator's gain peaks at its formant frequency and the antiresonator undoes it") {
  const float fs = 16000;
  for (float formant : {500.0f, 1500.0f, 3000.0f}) {
    Resonator r;
    r.set(formant, 80, fs);
    std::vector<float> impulse_response(4096);
    for (size_t n = 0; n < impulse_response.size(); ++n) impulse_response[n] = r(n == 0 ? 1.0f : 0.0f);
    float best_hz = 0, best = 0;
    for (float hz = 100; hz < 7000; hz += 5) {
      std::complex<double> sum = 0;
      for (size_t n = 0; n < impulse_response.size(); ++n)
        sum += static_cast<double>(impulse_response[n]) * std::polar(1.0, -2 * M_PI * hz * static_cast<double>(n) / fs);
      if (std::abs(sum) > best) best = static_cast<float>(std::abs(sum)), best_hz = hz;
    }
    CHECK(best_hz == doctest::Approx(formant).epsilon(0.01));
  }
  Resonator r;
  AntiResonator z;
  r.set(700, 90, fs);
  z.set(700, 90, fs);
  for (int n = 0; n < 50; ++n) CHECK(z(r(n == 0 ? 1.0f : 0.0f)) == doctest::Approx(n == 0 ? 1.0 : 0.0).epsilon(1e-4));
}

TEST_CASE("WAV files have a valid RIFF header and the samples little-endian") {
  const std::vector<int16_t> samples{0, 1, -2, 32767};
  const std::string wav = encode_wav(samples, 22050);
  REQUIRE(wav.size() == 44 + 8);
  auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(wav[at])) |
           static_cast<uint32_t>(static_cast<unsigned char>(wav[at + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(wav[at + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(wav[at + 3])) << 24;
  };
  CHECK(wav.substr(0, 4) == "RIFF");
  CHECK(u32(4) == 36 + 8);
  CHECK(wav.substr(8, 8) == "WAVEfmt ");
  CHECK(u32(16) == 16);
  CHECK(u32(20) == (1u | 1u << 16));  // PCM, mono
  CHECK(u32(24) == 22050);
  CHECK(u32(28) == 44100);
  CHECK(u32(32) == (2u | 16u << 16));  // 2 bytes a frame, 16 bits
  CHECK(wav.substr(36, 4) == "data");
  CHECK(u32(40) == 8);
  CHECK(static_cast<unsigned char>(wav[48]) == 0xFE);  // −2
  CHECK(static_cast<unsigned char>(wav[49]) == 0xFF);

  const auto path = std::filesystem::temp_directory_path() / "nn_test_speech.wav";
  write_wav(path, samples, 22050);
  std::ifstream in(path, std::ios::binary);
  std::stringstream read;
  read << in.rdbuf();
  CHECK(read.str() == wav);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(write_wav("/nonexistent-dir/x.wav", samples, 16000),
                       doctest::Contains("/nonexistent-dir/x.wav: cannot write WAV"), nn::Error);
}

TEST_CASE("a sentence lasts as long as speech does, the rate option scales it, output is deterministic") {
  const std::vector<int16_t> normal = synthesize("a dog runs on the grass");
  const double seconds = static_cast<double>(normal.size()) / 16000;
  CHECK(seconds > 1.0);  // six words at 120 … 300 words a minute, plus lead-in and tail silence
  CHECK(seconds < 3.5);
  const std::vector<int16_t> fast = synthesize("a dog runs on the grass", {.rate = 2.0f});
  CHECK(static_cast<double>(fast.size()) / static_cast<double>(normal.size()) == doctest::Approx(0.5).epsilon(0.05));
  const std::vector<int16_t> hifi = synthesize("a dog runs on the grass", {.sample_rate = 22050});
  CHECK(static_cast<double>(hifi.size()) / 22050 == doctest::Approx(seconds).epsilon(0.01));
  CHECK(synthesize("a dog runs on the grass") == normal);
  int16_t peak = 0;
  for (int16_t s : normal) peak = std::max<int16_t>(peak, static_cast<int16_t>(std::abs(s)));
  CHECK(peak > 20000);  // normalised, not silent
}

TEST_CASE("frication is high-frequency noise, voicing is not") {
  // "sass": /s/ for its first ~100 ms after the 60 ms lead-in, then the vowel.
  const std::vector<int16_t> pcm = synthesize("sass");
  const size_t ms = 16;
  const double fricative = crossing_rate(pcm, 70 * ms, 120 * ms);
  const double vowel = crossing_rate(pcm, 200 * ms, 260 * ms);
  CHECK(fricative > 3 * vowel);
}

TEST_CASE("empty text and text of punctuation only are silence of zero length") {
  CHECK(synthesize("").empty());
  CHECK(synthesize("  ... ,, !? \n\t").empty());
  CHECK(phonemize("").empty());
}

TEST_CASE("the longest text it takes is spoken within a bounded memory") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipped under AddressSanitizer, whose own memory this would measure");
#else
  std::string text;
  while (text.size() + 24 <= kMaxTextBytes) text += "a dog runs on the grass. ";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // measured alone: the peak resident memory of a process that only does this
    const std::vector<int16_t> pcm = synthesize(text);
    std::ifstream status("/proc/self/status");
    long peak_kb = -1;
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmHWM:", 0) == 0) peak_kb = std::stol(line.substr(6));
    ::_exit(pcm.size() > 16000 * 60 && peak_kb > 0 && peak_kb < 400 * 1024 ? 0 : 1);
  }
  int result = 0;
  ::waitpid(child, &result, 0);
  CHECK(WIFEXITED(result));
  CHECK(WEXITSTATUS(result) == 0);  // over a minute of speech, under 400 MB at the peak
#endif
}

TEST_CASE("text it cannot read is a clear error, never a crash") {
  CHECK_THROWS_WITH_AS(synthesize("dog \xff"), "speech: invalid UTF-8 at byte 4", TextError);
  CHECK_THROWS_WITH_AS(synthesize("a \xe6\x97\xa5"), "speech: cannot read character U+65E5 at byte 2", TextError);
  CHECK_THROWS_WITH_AS(synthesize("\xc0\xaf"), "speech: invalid UTF-8 at byte 0", TextError);  // overlong '/'
  CHECK_THROWS_WITH_AS(synthesize(std::string(kMaxTextBytes + 1, 'a')), doctest::Contains("longer than the limit"),
                       TextError);
  CHECK_THROWS_WITH_AS(synthesize("dog", {.rate = 0}), "speech: option rate = 0.000000 is outside 0.25 … 4", nn::Error);
  CHECK_THROWS_WITH_AS(synthesize("dog", {.sample_rate = 100}),
                       "speech: option sample_rate = 100 is outside 8000 … 48000", nn::Error);
  CHECK_FALSE(synthesize("a\x01 dog\x7f runs").empty());  // control characters are spaces
  // Random bytes: either spoken or a TextError.
  std::mt19937 gen(7);
  for (int i = 0; i < 300; ++i) {
    std::string s(static_cast<size_t>(gen() % 40), ' ');
    for (char& c : s) c = static_cast<char>(gen() % 256);
    try {
      synthesize(s, {.rate = 4.0f});
    } catch (const TextError&) {
    }
  }
}

TEST_CASE("every error speech throws for bad input is an nn::Error") {
  // One catch (const nn::Error&) in a program covers the synthesiser as it covers the rest of libnn.
  auto thrown_type_is_nn_error = [](auto&& call) {
    try {
      call();
    } catch (const nn::Error&) {
      return true;
    } catch (...) {
      return false;
    }
    return false;
  };
  CHECK(thrown_type_is_nn_error([] { synthesize("dog \xff"); }));                 // TextError
  CHECK(thrown_type_is_nn_error([] { synthesize("dog", {.pitch_hz = 1000}); }));  // option out of range
  CHECK(thrown_type_is_nn_error([] { pronounce(""); }));                          // empty word
  CHECK(thrown_type_is_nn_error([] { pronounce("a-b"); }));                       // not a letter
  const std::vector<int16_t> samples(16, 0);
  CHECK(thrown_type_is_nn_error([&] { write_wav("/nonexistent-dir/x.wav", samples, 16000); }));  // cannot write
}

TEST_CASE("the committed WAV of the bundled sample's caption is what the synthesiser says today") {
  // weights/sample_shapes.wav is `describe`'s caption of weights/sample_shapes.jpg (the README shows it; the
  // describe_bundled_sample test checks describe still says it) spoken by `say`, so that a reader can hear the voice
  // without building. Regenerate it after changing the voice:
  //   build/examples/say "three shapes yellow triangle next to white square and red circle" --wav
  //   weights/sample_shapes.wav
  // Compared with a tolerance of 1 % of the signal's RMS, for another compiler's rounding.
  const char* caption = "three shapes yellow triangle next to white square and red circle";
  std::ifstream in(std::filesystem::path(NN_SOURCE_DIR) / "weights" / "sample_shapes.wav", std::ios::binary);
  REQUIRE(in);
  std::stringstream read;
  read << in.rdbuf();
  const std::string committed = read.str();
  const std::vector<int16_t> pcm = synthesize(caption, {.sample_rate = 16000});
  const std::string today = encode_wav(pcm, 16000);
  INFO("weights/sample_shapes.wav is out of date: regenerate it with build/examples/say (see this test)");
  REQUIRE(committed.size() == today.size());
  CHECK(committed.substr(0, 44) == today.substr(0, 44));
  double signal = 0, difference = 0;
  for (size_t i = 0; i < pcm.size(); ++i) {
    const auto sample =
        static_cast<int16_t>(static_cast<uint16_t>(static_cast<unsigned char>(committed[44 + 2 * i])) |
                             static_cast<uint16_t>(static_cast<unsigned char>(committed[45 + 2 * i])) << 8);
    signal += double(pcm[i]) * pcm[i];
    difference += (double(sample) - pcm[i]) * (double(sample) - pcm[i]);
  }
  CHECK(signal > 0);
  CHECK(std::sqrt(difference) <= 0.01 * std::sqrt(signal));
}
