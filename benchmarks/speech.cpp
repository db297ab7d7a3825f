// speech benchmark: synthesises every line of a captions file ("ID<TAB>TEXT") into OUT_DIR/ID.wav (with the female
// voice when a third argument says "female") and prints the real-time factor (seconds of speech per second of
// synthesis). benchmarks/speech_wer.py uses it for the
// intelligibility table.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <captioning/speech/speech.h>

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "female")) {
    std::fprintf(stderr, "usage: speech CAPTIONS.tsv OUT_DIR [female]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) return std::fprintf(stderr, "speech: cannot read %s\n", argv[1]), 1;
  const std::filesystem::path out_dir = argv[2];
  std::filesystem::create_directories(out_dir);
  double synth_seconds = 0, audio_seconds = 0;
  int lines = 0;
  const speech::Options options{.voice = argc == 4 ? speech::Voice::Female : speech::Voice::Male};
  try {
    for (std::string line; std::getline(in, line);) {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      const auto start = std::chrono::steady_clock::now();
      const std::vector<int16_t> pcm = speech::synthesize(line.substr(tab + 1), options);
      synth_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      audio_seconds += static_cast<double>(pcm.size()) / options.sample_rate;
      speech::write_wav(out_dir / (line.substr(0, tab) + ".wav"), pcm, options.sample_rate);
      ++lines;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "speech: %s\n", e.what());
    return 1;
  }
  std::printf("%d captions, %.1f s of speech synthesised in %.3f s: %.0f× faster than real time\n", lines,
              audio_seconds, synth_seconds, audio_seconds / synth_seconds);
  return 0;
}
