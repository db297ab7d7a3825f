// The whole Flickr8k run of examples/train_flickr8k: clean → tokenize → features (cached) → train → BLEU on the test
// split → the bundle `describe` loads. Only images present in the image folder are used, so it runs on a partial
// copy of the data set (../shared/data/flickr8k has 269 of the 8,091 images).
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "captioning/flickr8k.h"
#include "captioning/trainer.h"

namespace captioning {

struct Flickr8kRunOptions {
  std::filesystem::path data_dir;  // the official layout or ../shared/data/flickr8k
  std::filesystem::path out_dir;
  std::filesystem::path xception;  // converted Keras weights (convert_keras_weights); empty with random_width
  float random_width = 0;          // > 0: a randomly initialised Xception of this width instead (small-data runs)
  int epochs = 20;
  int batch_size = 64;
  int beam = 1;       // for the test-split BLEU
  int limit = 0;      // at most this many training images (0: all)
  int min_count = 1;  // tokenizer
  uint64_t seed = 1;
  bool resume = false;
  bool overwrite = false;  // start afresh over a run already in out_dir
  bool progress = true;
};

struct Flickr8kRunResult {
  size_t train_images = 0, dev_images = 0, test_images = 0, missing_images = 0;
  int32_t vocab = 0;
  size_t unreadable_images = 0;
  ReadReport text_report;
  std::vector<EpochResult> history;
  std::array<double, 4> bleu{};                              // on the test split
  std::vector<std::pair<std::string, std::string>> samples;  // (image id, generated caption), the first few
  std::filesystem::path bundle;                              // out_dir/best.nnck
};

// `log` receives one line per stage.
Flickr8kRunResult run_flickr8k(const Flickr8kRunOptions& options, const std::function<void(const std::string&)>& log);

}  // namespace captioning
