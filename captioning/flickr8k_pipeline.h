/// @file
/// The whole Flickr8k run of examples/train_flickr8k: clean → tokenize → features (cached) → train → BLEU on the test
/// split → the bundle `describe` loads. Only images present in the image folder are used, so it runs on a partial
/// copy of the data set (../shared/data/flickr8k has 269 of the 8,091 images).
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "captioning/flickr8k.h"
#include "captioning/trainer.h"

namespace captioning {

/// run_flickr8k()'s configuration (train_flickr8k's command-line options).
struct Flickr8kRunOptions {
  std::filesystem::path data_dir;  ///< the official layout or ../shared/data/flickr8k
  std::filesystem::path out_dir;   ///< checkpoints, logs, the feature cache and the final bundle
  std::filesystem::path xception;  ///< converted Keras weights (convert_keras_weights); empty with random_width
  float random_width = 0;          ///< > 0: a randomly initialised Xception of this width instead (small-data runs)
  int epochs = 20;                 ///< training epochs
  int batch_size = 64;             ///< captions per mini-batch
  int beam = 1;                    ///< for the test-split BLEU
  int limit = 0;                   ///< at most this many training images (0: all)
  int min_count = 1;               ///< tokenizer
  uint64_t seed = 1;               ///< weights, shuffling and dropout
  bool resume = false;             ///< continue the run in out_dir from its last checkpoint
  bool overwrite = false;          ///< start afresh over a run already in out_dir
  bool progress = true;            ///< progress lines on the terminal
};

/// What run_flickr8k() did and measured.
struct Flickr8kRunResult {
  /// Images per split found in the image folder, and those listed but absent.
  size_t train_images = 0, dev_images = 0, test_images = 0, missing_images = 0;
  /// \var dev_images
  /// Images of the dev split found.
  /// \var test_images
  /// Images of the test split found.
  /// \var missing_images
  /// Images listed in a split but absent from the folder.
  int32_t vocab = 0;                 ///< V, the tokenizer's vocab_size()
  size_t unreadable_images = 0;      ///< present but not decodable (skipped)
  ReadReport text_report;            ///< what reading the caption and split files counted and skipped
  std::vector<EpochResult> history;  ///< one entry per epoch trained
  std::array<double, 4> bleu{};      ///< BLEU-1…4 on the test split
  std::vector<std::pair<std::string, std::string>> samples;  ///< (image id, generated caption), the first few
  std::filesystem::path bundle;                              ///< out_dir/best.nnck
  /// Peak resident memory (bytes) of feature extraction (from the start), and of training and BLEU after it; 0 where
  /// the system does not say (peak_memory_bytes).
  size_t features_peak_bytes = 0, training_peak_bytes = 0;
  /// \var training_peak_bytes
  /// Peak resident memory (bytes) of training and the test-split BLEU.
};

/// The process's peak resident memory in bytes since the start or the last reset_peak_memory() (Linux: VmHWM in
/// /proc/self/status); 0 where unknown.
size_t peak_memory_bytes();
/// Starts a new peak-memory measurement (Linux: writes 5 to /proc/self/clear_refs); does nothing elsewhere.
void reset_peak_memory();

/// Runs every stage; `log` receives one line per stage. Throws nn::Error on options that contradict each other
/// (Xception weights and random_width, or neither), Xception weights with the ImageNet top (before any slow work), a
/// data folder holding none of the training images, and the errors of the stages (unreadable files, a run already
/// in out_dir without resume or overwrite, …). A stop request (stop_signal.h) during feature extraction keeps every
/// feature saved and throws TrainingStopped saying how many are cached and how to continue; during training, as
/// train() does; during the test-split scoring, saying that best.nnck is complete and --resume scores it.
Flickr8kRunResult run_flickr8k(const Flickr8kRunOptions& options, const std::function<void(const std::string&)>& log);

}  // namespace captioning
