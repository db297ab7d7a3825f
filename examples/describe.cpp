// describe: a sentence for each image, from a captioning bundle (by default the compact shapes model, installed or
// in weights/), and optionally the sentences spoken into a WAV file.
#include <captioning/describer.h>
#include <captioning/generate.h>
#include <captioning/json.h>
#include <captioning/speech/speech.h>
#include <nn/error.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  const cli::DataFile shapes = cli::find_data_file("shapes.nnck");
  std::string model_path = shapes.found.string();
  std::string wav;
  int beam = 1;
  bool json = false;
  bool keep_orientation = false;
  std::vector<std::string> images;
  cli::Parser cli("describe",
                  "Prints one caption per image; --wav also speaks them (one after another) into a 16 kHz WAV file.\n"
                  "The default model (shapes.nnck) was trained on synthetic shapes: it describes images of coloured\n"
                  "circles, squares and triangles, not photos — for photos, train the Flickr8k model (see the README)\n"
                  "and pass its best.nnck with --model.");
  cli.synopsis("IMAGE... [--model BUNDLE] [--beam K] [--json] [--wav FILE|-]");
  cli.positionals("IMAGE", images, "JPEG or PNG images");
  cli.text("--model", "BUNDLE", model_path,
           shapes.found.empty() ? "the captioning bundle (required: none found at " + shapes.looked_text() + ")"
                                : "the captioning bundle");
  cli.whole("--beam", "K", beam, 1, captioning::kMaxBeam, "beam width, 1 is greedy search");
  cli.flag("--json", json, "print a JSON array of {image, caption, score, seconds}");
  cli.flag("--keep-orientation", keep_orientation,
           "ignore the EXIF orientation (the stored pixels, as Keras's loader reads them)");
  cli.text("--wav", "FILE|-", wav,
           "also speak the captions into FILE (- for standard output; the captions then go "
           "to standard error)");
  if (auto status = cli.parse(argc, argv)) return *status;
  if (model_path.empty())
    return cli.usage_error("no default model at " + shapes.looked_text() + "; pass --model BUNDLE");

  std::FILE* text_out = wav == "-" ? stderr : stdout;  // keep standard output clean for the WAV bytes
  int status = 0;
  try {
    captioning::Describer describer(model_path);
    describer.image_options().keep_orientation = keep_orientation;
    std::string spoken;
    if (json) std::fprintf(text_out, "[");
    bool first = true;
    for (const std::string& path : images) {
      auto start = std::chrono::steady_clock::now();
      captioning::Caption caption;
      try {
        caption = describer.describe_file(path, beam).front();
      } catch (const nn::Error& e) {
        status = cli.error(e);
        continue;
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (json) {
        std::fprintf(text_out, "%s\n{\"image\": %s, \"caption\": %s, \"score\": %s, \"seconds\": %.4f}",
                     first ? "" : ",", captioning::json_string(path).c_str(),
                     captioning::json_string(caption.text).c_str(), captioning::json_number(caption.score).c_str(),
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
    return cli.error(e);
  }
  return status;
}
