// describe: a sentence for each image, from a captioning bundle (by default the compact model in weights/).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <captioning/captioner.h>
#include <captioning/generate.h>
#include <nn/autograd.h>
#include <nn/error.h>

namespace {

int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: describe IMAGE... [--model BUNDLE] [--beam K] [--json]\n"
               "Prints one caption per image. The default model (weights/shapes.nnck) was trained on synthetic\n"
               "shapes: it describes images of coloured circles, squares and triangles, not photos — for photos,\n"
               "train the Flickr8k model (see the README).\n");
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
  int beam = 1;
  bool json = false;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") return usage(0);
    if (arg == "--json") {
      json = true;
    } else if (arg == "--model" && i + 1 < argc) {
      model_path = argv[++i];
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
  int status = 0;
  try {
    captioning::CaptionerBundle bundle = captioning::load_captioner(model_path);
    nn::NoGradGuard no_grad;
    if (json) std::printf("[");
    bool first = true;
    for (const std::string& path : images) {
      auto start = std::chrono::steady_clock::now();
      captioning::Caption caption;
      try {
        nn::Tensor features =
            bundle.model->features(captioning::load_captioner_input(path, bundle.model->options().image_size));
        caption = captioning::beam_search(bundle.model->decoder(), bundle.tokenizer, features, {.beam = beam}).front();
      } catch (const nn::Error& e) {
        std::fprintf(stderr, "describe: %s\n", e.what());
        status = 1;
        continue;
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (json) {
        std::printf("%s\n{\"image\": %s, \"caption\": %s, \"score\": %.6g, \"seconds\": %.4f}", first ? "" : ",",
                    json_string(path).c_str(), json_string(caption.text).c_str(), caption.score, seconds);
      } else {
        std::printf("%s: %s\n", path.c_str(), caption.text.c_str());
      }
      first = false;
    }
    if (json) std::printf("\n]\n");
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "describe: %s\n", e.what());
    return 1;
  }
  return status;
}
