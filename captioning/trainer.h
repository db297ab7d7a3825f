// Training the caption model by teacher forcing: shuffled mini-batches of (image, caption), masked softmax
// cross-entropy, Adam; validation loss every epoch; the bundle saved every epoch (last.nnck) and the best by
// validation loss kept (best.nnck), atomically; a loss curve (loss.svg) beside them; resumable. The shuffle and the
// dropout masks of epoch e come from (seed, e), so a resumed run is bit-identical to an uninterrupted one on the
// same machine and thread count.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nn/error.h>
#include <nn/optim/optimizer.h>
#include <nn/random.h>

#include "captioning/model.h"
#include "captioning/tokenizer.h"

namespace captioning {

struct Example {
  std::string image;
  std::vector<int32_t> ids;  // <start> w1 … wn <end>
};

// One example per caption of each id, at most max_words words (longer captions are cut), in order.
std::vector<Example> make_examples(const std::vector<std::string>& ids,
                                   const std::map<std::string, std::vector<std::string>>& captions,
                                   const Tokenizer& tokenizer, int max_words = 34);

// Image id → features (1, F).
using FeatureLookup = std::function<nn::Tensor(const std::string& image)>;

// Thrown by train() when a stop was requested (stop_signal.h): the state was saved in last.nnck mid-epoch, and
// resuming from it gives exactly the result of an uninterrupted run.
struct TrainingStopped : nn::Error {
  using nn::Error::Error;
};

struct TrainConfig {
  int epochs = 20;
  int batch_size = 64;
  float learning_rate = 1e-3f;
  // Cosine schedule over the epochs: epoch 1 uses learning_rate, the last learning_rate × final_lr_fraction.
  // 1 keeps the rate constant.
  float final_lr_fraction = 1.0f;
  uint64_t seed = 1;
  // Word dropout (drop_words): each training input word after <start> is replaced by <unk> with this probability,
  // so that the next word has to be read from the image rather than guessed from the previous one.
  float word_dropout = 0.0f;
  std::filesystem::path out_dir;                                  // last.nnck, best.nnck, loss.svg
  bool resume = false;                                            // continue from out_dir/last.nnck
  std::vector<std::pair<std::string, std::string>> bundle_texts;  // added to every bundle saved (e.g. the extractor)
};

struct EpochResult {
  int epoch = 0;  // 1-based
  double train_loss = 0, val_loss = 0, seconds = 0;
  int64_t tokens = 0;  // training tokens (predicted words) this epoch
};

// Runs the remaining epochs; calls on_epoch after each. Throws nn::Error naming the step if the loss is not finite.
std::vector<EpochResult> train(CaptionModel& model, const Tokenizer& tokenizer, const FeatureLookup& features,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config,
                               const std::function<void(const EpochResult&)>& on_epoch = nullptr);

// The mean loss per predicted word over `examples`, dropout off, in batches.
double evaluate_loss(CaptionModel& model, const FeatureLookup& features, const std::vector<Example>& examples,
                     int batch_size = 64);

// Teacher-forcing tensors for a batch of encoded captions (<start> w1 … wn <end>): inputs <start> w1 … wn and
// targets w1 … wn <end>, padded with 0 to the longest caption, and the mask of real positions. Shared by both
// trainers.
struct TokenBatch {
  nn::Indices inputs, targets;
  nn::Tensor mask;
  int64_t tokens = 0;  // predicted words
};
TokenBatch make_token_batch(const std::vector<const std::vector<int32_t>*>& captions);

// Word dropout: replaces each input word after <start> by <unk> with probability p, drawn from `gen`; padding and
// targets stay as they are.
void drop_words(TokenBatch& tokens, float p, nn::Generator& gen);

// 0 … n−1 shuffled (Fisher–Yates) by a generator seeded with `seed`.
std::vector<size_t> shuffled_order(size_t n, uint64_t seed);

// The learning rate of `epoch` (1-based) under config's cosine schedule.
float scheduled_learning_rate(const TrainConfig& config, int epoch);

// One pass over `count` examples in batches, taken in `order` (all in turn when empty). `loss_of(indices)` returns a
// batch's mean loss per word and its number of words. With an optimiser, every batch is a training step (and a
// non-finite loss throws nn::Error naming `who`, the epoch and the step); without, the caller has turned grad off.
// Returns the mean loss per word over the pass and the words seen. Shared by both trainers and their evaluation.
struct PassResult {
  double loss = 0;  // mean over tokens
  int64_t tokens = 0;
  double weighted = 0;       // Σ batch loss × batch tokens (to continue an interrupted pass)
  size_t steps = 0;          // the last step done (1-based)
  bool interrupted = false;  // stopped early because `stop` said so
};
using BatchLoss = std::function<std::pair<nn::Tensor, int64_t>(const std::vector<size_t>& indices)>;
// Where a pass starts and when it stops: steps before first_step are skipped (their sums carried in `so_far`),
// before_step(step) runs ahead of each step (to reseed dropout), stop() is asked after each.
struct PassControl {
  size_t first_step = 1;
  PassResult so_far;
  std::function<void(size_t)> before_step;
  std::function<bool()> stop;
};
PassResult run_pass(size_t count, const std::vector<size_t>& order, int batch_size, const BatchLoss& loss_of,
                    nn::Optimizer* optimizer = nullptr, const std::string& who = "train", int epoch = 0,
                    const PassControl& control = {});

// Writes loss_curve_svg(history) to `path` atomically.
void write_loss_curve(const std::filesystem::path& path, const std::vector<EpochResult>& history);

// An SVG line chart of training and validation loss per epoch.
std::string loss_curve_svg(const std::vector<EpochResult>& history);

}  // namespace captioning
