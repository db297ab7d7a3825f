// train_flickr8k: the Flickr8k captioner end to end — clean, tokenize, Xception features (cached), train, BLEU on
// the test split — writing the bundle that describe loads.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <captioning/flickr8k_pipeline.h>
#include <captioning/stop_signal.h>
#include <captioning/trainer.h>
#include <nn/error.h>

namespace {

int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: train_flickr8k --data DIR --out DIR (--xception WEIGHTS.nnck | --random-xception-width W)\n"
               "                      [--epochs N] [--batch-size N] [--beam K] [--limit N] [--min-count N]\n"
               "                      [--seed S] [--resume] [--no-progress]\n"
               "DIR is the Flickr8k data (Flickr8k_text/ and Flickr8k_Dataset/ as the official zips unpack, or\n"
               "text/ and images/). WEIGHTS comes from weights/download.sh and convert_keras_weights. Writes to the\n"
               "output folder descriptions.txt, features.bin, last.nnck, best.nnck (the model bundle) and loss.svg.\n");
  return status;
}

// A whole number in [low, high] from argv, or an error naming the flag.
long number(const char* flag, const char* text, long low, long high) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < low || v > high) {
    throw nn::Error(std::string("train_flickr8k: ") + flag + " expects a whole number in [" + std::to_string(low) +
                    ", " + std::to_string(high) + "], got '" + text + "'");
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  captioning::Flickr8kRunOptions o;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string flag = argv[i];
      if (flag == "--help") return usage(0);
      if (flag == "--resume") { o.resume = true; continue; }
      if (flag == "--no-progress") { o.progress = false; continue; }
      if (i + 1 >= argc) throw nn::Error("train_flickr8k: " + flag + " needs a value (or is unknown; see --help)");
      const char* value = argv[++i];
      if (flag == "--data") o.data_dir = value;
      else if (flag == "--out") o.out_dir = value;
      else if (flag == "--xception") o.xception = value;
      else if (flag == "--random-xception-width") {
        o.random_width = std::strtof(value, nullptr);
        if (!(o.random_width > 0 && o.random_width <= 4)) throw nn::Error(std::string("train_flickr8k: --random-xception-width expects a number in (0, 4], got '") + value + "'");
      } else if (flag == "--epochs") o.epochs = static_cast<int>(number("--epochs", value, 1, 10000));
      else if (flag == "--batch-size") o.batch_size = static_cast<int>(number("--batch-size", value, 1, 65536));
      else if (flag == "--beam") o.beam = static_cast<int>(number("--beam", value, 1, 64));
      else if (flag == "--limit") o.limit = static_cast<int>(number("--limit", value, 0, 1000000));
      else if (flag == "--min-count") o.min_count = static_cast<int>(number("--min-count", value, 1, 1000000));
      else if (flag == "--seed") o.seed = static_cast<uint64_t>(number("--seed", value, 0, 2147483647));
      else throw nn::Error("train_flickr8k: unknown argument '" + flag + "' (see --help)");
    }
    if (o.data_dir.empty() || o.out_dir.empty()) return usage(2);
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  captioning::install_stop_signals();  // Ctrl-C: save mid-epoch and stop; --resume continues exactly there
  try {
    captioning::Flickr8kRunResult r =
        captioning::run_flickr8k(o, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    std::printf("BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f  (test split, %zu images, beam %d)\n", r.bleu[0],
                r.bleu[1], r.bleu[2], r.bleu[3], r.test_images, o.beam);
    for (const auto& [id, caption] : r.samples) std::printf("%s: %s\n", id.c_str(), caption.c_str());
    std::printf("model bundle: %s\n", r.bundle.c_str());
  } catch (const captioning::TrainingStopped& e) {
    std::fprintf(stderr, "train_flickr8k: %s\n", e.what());
    return 130;
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "train_flickr8k: %s\n", e.what());
    return 1;
  }
  return 0;
}
