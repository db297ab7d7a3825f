// say: speaks text with libnn's formant synthesiser.
//   say "a dog runs on the grass" --wav dog.wav [--rate R] [--pitch HZ] [--sample-rate 16000|22050]
//   say --phonemes "skateboarder"      prints the pronunciation instead
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <captioning/speech/speech.h>

namespace {
int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: say TEXT --wav FILE|- [--rate R] [--pitch HZ] [--sample-rate HZ]\n"
               "       say --phonemes TEXT\n"
               "Speaks TEXT into a 16-bit mono WAV file (- for standard output).\n");
  return status;
}

bool parse_number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0';
}
}  // namespace

int main(int argc, char** argv) {
  std::string text, wav;
  bool phonemes = false, have_text = false;
  speech::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return usage(0);
    if (arg == "--phonemes") { phonemes = true; continue; }
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return std::fprintf(stderr, "say: %s needs a value\n", arg.c_str()), 2;
      const char* value = argv[++i];
      double number = 0;
      if (arg == "--wav") wav = value;
      else if (!parse_number(value, number)) return std::fprintf(stderr, "say: %s: not a number: %s\n", arg.c_str(), value), 2;
      else if (arg == "--rate") options.rate = static_cast<float>(number);
      else if (arg == "--pitch") options.pitch_hz = static_cast<float>(number);
      else if (arg == "--sample-rate" && number == static_cast<int>(number)) options.sample_rate = static_cast<int>(number);
      else return std::fprintf(stderr, "say: unknown flag %s\n", arg.c_str()), 2;
      continue;
    }
    if (have_text) return std::fprintf(stderr, "say: one TEXT argument expected (quote it)\n"), 2;
    text = arg;
    have_text = true;
  }
  if (!have_text || (!phonemes && wav.empty())) return usage(2);
  try {
    if (phonemes) {
      std::printf("%s\n", speech::phonemize(text).c_str());
      return 0;
    }
    const std::vector<int16_t> pcm = speech::synthesize(text, options);
    speech::write_wav(wav, pcm, options.sample_rate);
    if (wav != "-")
      std::fprintf(stderr, "%s: %.2f s of speech at %d Hz\n", wav.c_str(),
                   static_cast<double>(pcm.size()) / options.sample_rate, options.sample_rate);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "say: %s\n", e.what());
    return 1;
  }
  return 0;
}
