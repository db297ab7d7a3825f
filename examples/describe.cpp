// describe: a sentence for each image, from a captioning bundle (by default the compact model in weights/), and
// optionally the sentences spoken into a WAV file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <captioning/describer.h>
#include <captioning/speech/speech.h>
#include <nn/error.h>

namespace {

int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: describe IMAGE... [--model BUNDLE] [--beam K] [--json] [--wav FILE|-]\n"
               "Prints one caption per image; --wav also speaks them (one after another) into a 16 kHz WAV file\n"
               "(- for standard output, the captions then go to standard error).\n"
               "The default model (weights/shapes.nnck) was trained on synthetic shapes: it describes images of\n"
               "coloured circles, squares and triangles, not photos — for photos, train the Flickr8k model\n"
               "(see the README) and pass its best.nnck with --model.\n");
  return status;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path = std::string(NN_SOURCE_DIR) + "/weights/shapes.nnck";
  std::string wav;
  int beam = 1;
  bool json = false;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") return usage(0);
    if (arg == "--json") {
      json = true;
    } else if ((arg == "--model" || arg == "--wav") && i + 1 < argc) {
      (arg == "--model" ? model_path : wav) = argv[++i];
    } else if (arg == "--beam" && i + 1 < argc) {
      char* end = nullptr;
      long k = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || k < 1 || k > 32) {
        std::fprintf(stderr, "describe: --beam expects a whole number in [1, 32], got '%s'\n", argv[i]);
        return 2;
      }
      beam = static_cast<int>(k);
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "describe: unknown or incomplete argument '%s'\n", arg.c_str());
      return usage(2);
    } else {
      images.push_back(arg);
    }
  }
  if (images.empty()) return usage(2);
  std::FILE* text_out = wav == "-" ? stderr : stdout;  // keep standard output clean for the WAV bytes
  int status = 0;
  try {
    captioning::Describer describer(model_path);
    std::string spoken;
    if (json) std::fprintf(text_out, "[");
    bool first = true;
    for (const std::string& path : images) {
      auto start = std::chrono::steady_clock::now();
      captioning::Caption caption;
      try {
        caption = describer.describe_file(path, beam).front();
      } catch (const nn::Error& e) {
        std::fprintf(stderr, "describe: %s\n", e.what());
        status = 1;
        continue;
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (json) {
        std::fprintf(text_out, "%s\n{\"image\": %s, \"caption\": %s, \"score\": %.6g, \"seconds\": %.4f}",
                     first ? "" : ",", json_string(path).c_str(), json_string(caption.text).c_str(), caption.score,
                     seconds);
      } else {
        std::fprintf(text_out, "%s: %s\n", path.c_str(), caption.text.c_str());
      }
      spoken += caption.text + ". ";
      first = false;
    }
    if (json) std::fprintf(text_out, "\n]\n");
    if (!wav.empty()) {
      const speech::Options voice;
      speech::write_wav(wav, speech::synthesize(spoken, voice), voice.sample_rate);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "describe: %s\n", e.what());
    return 1;
  }
  return status;
}
