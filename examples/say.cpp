// say: speaks text with libnn's formant synthesiser.
//   say "a dog runs on the grass" [--wav dog.wav] [--rate R] [--pitch HZ] [--sample-rate 16000|22050]
//       [--voice male|female]
//   say --phonemes "skateboarder"      prints the pronunciation instead
#include <captioning/speech/speech.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  std::string text;
  std::string wav = "say.wav";
  bool phonemes = false;
  speech::Options options;
  cli::Parser cli("say", "Speaks TEXT into a 16-bit mono WAV file, or with --phonemes prints its pronunciation.");
  cli.synopsis("TEXT [--wav FILE|-] [--rate R] [--pitch HZ] [--sample-rate HZ] [--voice male|female]");
  cli.synopsis("--phonemes TEXT");
  cli.positional("TEXT", text, "what to say, in one argument (quote it)");
  cli.text("--wav", "FILE|-", wav, "the WAV file to write, - for standard output");
  // The ranges speech::synthesize accepts (speech.h), checked here too so that a bad flag is a usage error.
  cli.number("--rate", "R", options.rate, {.low = 0.25, .high = 4}, "speaking rate");
  cli.number("--pitch", "HZ", options.pitch_hz, {.low = 50, .high = 400}, "baseline pitch in Hz");
  cli.whole("--sample-rate", "HZ", options.sample_rate, 8000, 48000, "samples per second");
  cli.choice("--voice", {{"male", speech::Voice::Male}, {"female", speech::Voice::Female}}, options.voice,
             "the speaker");
  cli.flag("--phonemes", phonemes, "print TEXT's phonemes instead of speaking it");
  if (auto status = cli.parse(argc, argv)) return *status;
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
    return cli.error(e);
  }
  return 0;
}
