// describe: a sentence for each image, from a captioning bundle (by default the photo model flickr8k.nnck when
// scripts/flickr8k.sh has installed it, else the compact shapes model; installed or in weights/), and optionally the
// sentences spoken into a WAV file.
#include <captioning/describer.h>
#include <captioning/generate.h>
#include <captioning/json.h>
#include <captioning/speech/speech.h>
#include <nn/core/dtype.h>
#include <nn/core/error.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  std::string model = cli::default_model();
  std::string wav;
  int beam = 1;
  bool json = false;
  bool keep_orientation = false;
  std::string precision;  // empty: the bundle's
  std::vector<std::string> images;
  cli::Parser cli("describe",
                  "Prints one caption per image; --wav also speaks them (one after another) into a 16 kHz WAV file.\n"
                  "The default model is the photo model flickr8k.nnck once scripts/flickr8k.sh has installed it;\n"
                  "until then shapes.nnck, trained on synthetic shapes: it describes images of coloured circles,\n"
                  "squares and triangles, not photos. Models are looked up in $LIBNN_DATA_PATH (folders separated\n"
                  "by ':'), then PREFIX/share/libnn, then the source tree's weights/; a photo model's Xception\n"
                  "weights beside it, in those folders, or in $LIBNN_WEIGHTS_PATH.");
  cli.synopsis("IMAGE... [--model BUNDLE] [--beam K] [--json] [--wav FILE|-]");
  cli.positionals("IMAGE", images, "JPEG or PNG images");
  cli.text("--model", "BUNDLE", model, cli::model_help());
  cli.whole("--beam", "K", beam, 1, captioning::kMaxBeam, "beam width, 1 is greedy search");
  cli.flag("--json", json, "print a JSON array of {image, caption, score, seconds}");
  cli.flag("--keep-orientation", keep_orientation,
           "ignore the EXIF orientation (the stored pixels, as Keras's loader reads them)");
  cli.text("--wav", "FILE|-", wav,
           "also speak the captions into FILE (- for standard output; the captions then go "
           "to standard error)");
  cli.text("--precision", "f32|bf16", precision,
           "the dtype of the image feature pass (the decoder stays f32); default: the one the bundle was trained on");
  if (auto status = cli.parse(argc, argv)) return *status;
  std::optional<nn::DType> feature_dtype;
  try {
    if (!precision.empty()) feature_dtype = nn::parse_dtype(precision, "--precision");
  } catch (const nn::Error& e) {
    return cli.usage_error(e.what());
  }
  const cli::Model chosen = cli::resolve_model(model);
  if (!chosen.error.empty()) return cli.usage_error(chosen.error);

  std::FILE* text_out = wav == "-" ? stderr : stdout;  // keep standard output clean for the WAV bytes
  int status = 0;
  try {
    std::unique_ptr<captioning::Describer> loaded;
    try {
      loaded = std::make_unique<captioning::Describer>(
          chosen.path, captioning::DescriberOptions{.weights_search = cli::data_folders(),
                                                    .precision = feature_dtype,
                                                    .decode_cache = images.size() > 1});  // pays from the second
    } catch (const nn::Error& e) {
      throw nn::Error(e.what() + chosen.fix);
    }
    captioning::Describer& describer = *loaded;
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
