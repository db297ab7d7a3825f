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

#include <nn/core/dtype.h>

#include "captioning/flickr8k.h"
#include "captioning/trainer.h"

namespace captioning {

/// run_flickr8k()'s configuration (train_flickr8k's command-line options).
struct Flickr8kRunOptions {
  std::filesystem::path data_dir;  ///< the official layout or ../shared/data/flickr8k
  std::filesystem::path out_dir;   ///< checkpoints, logs, the feature cache and the final bundle
  std::filesystem::path xception;  ///< converted Keras weights (convert_keras_weights); empty with random_width
  float random_width = 0;          ///< > 0: a randomly initialised Xception of this width instead (small-data runs)
  nn::DType precision = nn::DType::f32;  ///< the feature pass's (Xception::to); the decoder trains in f32
  int epochs = 20;                       ///< training epochs
  int batch_size = 64;                   ///< captions per mini-batch
  int beam = 1;                          ///< for the test-split BLEU
  int limit = 0;                         ///< at most this many training images (0: all)
  int min_count = 1;                     ///< tokenizer
  uint64_t seed = 1;                     ///< weights, shuffling and dropout
  bool resume = false;                   ///< continue the run in out_dir from its last checkpoint
  bool overwrite = false;                ///< start afresh over a run already in out_dir
  bool progress = true;                  ///< progress lines on the terminal
  /// One process of a data-parallel job (train_flickr8k under mpirun; nn::TrainerOptions::parallel): feature
  /// extraction is sharded over the processes into the one cache (extract_features_sharded), training splits every
  /// global batch of batch_size over them, and only rank 0 writes descriptions.txt and model.nnck and scores the
  /// test split (the other processes' results have no BLEU). Null: this process alone.
  nn::Parallel* parallel = nullptr;
  bool length_buckets = true;  ///< batches of captions of similar length (TrainConfig::length_buckets)
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
  std::filesystem::path bundle;  ///< out_dir/model.nnck: best.nnck without the optimiser state, for describe
  /// Peak resident memory (bytes) of feature extraction (from the start), and of training and BLEU after it; 0 where
  /// the system does not say (peak_memory_bytes).
  size_t features_peak_bytes = 0, training_peak_bytes = 0;
  /// \var training_peak_bytes
  /// Peak resident memory (bytes) of training and the test-split BLEU.
};

/// The process's peak resident memory in bytes since the start or the last reset_peak_memory() (Linux: VmHWM in
/// /proc/self/status); 0 where unknown.
size_t peak_memory_bytes();
/// Starts a new peak-memory measurement (Linux: writes 5 to /proc/self/clear_refs); false where it cannot.
bool reset_peak_memory();

/// BLEU-1…4 that published models of this kind reach on the Flickr8k test split, for telling a good run from a broken
/// one: "ball-park scores for skilful models" from Tanti, Gatt & Camilleri, "Where to put the image in an image
/// caption generator" (2017; Natural Language Engineering 2018), as Brownlee's 2017 tutorial quotes them — the low
/// and high end of each — and the tutorial's own VGG16 merge model (greedy). Scored with NLTK's corpus_bleu, as
/// captioning::corpus_bleu scores.
struct PublishedBleu {
  std::array<double, 4> low{0.401, 0.176, 0.099, 0.059};       ///< the range's low end, BLEU-1…4
  std::array<double, 4> high{0.578, 0.390, 0.260, 0.170};      ///< its high end
  std::array<double, 4> tutorial{0.579, 0.345, 0.252, 0.131};  ///< Brownlee 2017, VGG16 features, merge decoder
};

/// The published figures as one line for a run's summary: "published for this kind of model: BLEU-1 0.401–0.578, …".
std::string published_bleu_line();

/// Runs every stage; `log` receives one line per stage. Throws nn::Error on options that contradict each other
/// (Xception weights and random_width, or neither), Xception weights with the ImageNet top (before any slow work), a
/// data folder holding none of the training images, and the errors of the stages (unreadable files, a run already
/// in out_dir without resume or overwrite, …). A stop request (stop_signal.h) during feature extraction keeps every
/// feature saved and throws TrainingStopped saying how many are cached and how to continue; during training, as
/// train() does; during the test-split scoring, saying that best.nnck is complete and --resume scores it.
Flickr8kRunResult run_flickr8k(const Flickr8kRunOptions& options, const std::function<void(const std::string&)>& log);

}  // namespace captioning
