/// @file
/// Training the caption models by teacher forcing, on nn::Trainer (nn/train/trainer.h): shuffled mini-batches of
/// (image, caption) from an nn::DataLoader, masked softmax cross-entropy, Adam under a per-epoch cosine schedule,
/// validation loss every epoch, last.nnck / best.nnck bundles (loadable by load_bundle / load_captioner, with the
/// optimiser, the schedule and the trainer's position), metrics.csv, metrics.jsonl, loss.svg and train.log in
/// out_dir; resumable to the bit. Two models: CaptionModel on precomputed image features (train_flickr8k), and
/// ImageCaptioner end to end on images (train_shapes).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nn/core/error.h>
#include <nn/core/random.h>
#include <nn/optim/adam.h>
#include <nn/optim/scheduler.h>
#include <nn/train/trainer.h>

#include "captioning/model.h"
#include "captioning/tokenizer.h"

namespace captioning {

class ImageCaptioner;

/// One training pair: an image and one of its captions.
struct Example {
  std::string image;         ///< the image's id, as the FeatureLookup knows it
  std::vector<int32_t> ids;  ///< `<start>` w1 … wn `<end>`
};

/// One example per caption of each id, at most max_words words (longer captions are cut), in order.
std::vector<Example> make_examples(const std::vector<std::string>& ids,
                                   const std::map<std::string, std::vector<std::string>>& captions,
                                   const Tokenizer& tokenizer, int max_words = 34);

/// Image id → the model's input for it: features (1, F) for CaptionModel, an image (1, S, S, 3) for
/// ImageCaptioner. Called from the DataLoader's background thread, one call at a time.
using FeatureLookup = std::function<nn::Tensor(const std::string& image)>;

/// Thrown by train() when a stop was requested (stop_signal.h): the state was saved in last.nnck mid-epoch.
using TrainingStopped = nn::TrainingStopped;
/// The figures of one epoch (items: the predicted words).
using EpochResult = nn::EpochResult;

/// How train() runs: the epochs, batches, optimiser schedule, regularisation and where the run is written.
struct TrainConfig {
  int epochs = 20;              ///< epochs in all (a resumed run trains the remaining ones)
  int batch_size = 64;          ///< examples per mini-batch
  float learning_rate = 1e-3f;  ///< Adam's learning rate at epoch 1
  /// Cosine schedule over the epochs: epoch 1 uses learning_rate, the last learning_rate × final_lr_fraction.
  /// 1 keeps the rate constant.
  float final_lr_fraction = 1.0f;
  uint64_t seed = 1;  ///< seeds the shuffling, the word dropout and the model's dropout
  /// Word dropout (drop_words): each training input word after `<start>` is replaced by `<unk>` with this
  /// probability, so that the next word has to be read from the image rather than guessed from the previous one.
  float word_dropout = 0.0f;
  std::filesystem::path out_dir;  ///< last.nnck, best.nnck, metrics.csv, metrics.jsonl, loss.svg, train.log
  bool resume = false;            ///< continue from out_dir/last.nnck
  bool overwrite = false;         ///< start afresh over a run already in out_dir
  bool progress = false;          ///< the per-step progress line and epoch lines on stderr
  std::vector<std::pair<std::string, std::string>> bundle_texts;  ///< added to every bundle saved
  /// Called once when a resumed run starts, with the line the trainer notes ("train: resuming at epoch 2, step 17";
  /// nn::TrainerCallbacks::resumed).
  std::function<void(const std::string& line)> on_resume;
  /// One process of a data-parallel job (nn::TrainerOptions::parallel; e.g. nn::distributed::DataParallel under
  /// mpirun): batch_size is then the global batch, split over the processes. Null: this process alone.
  nn::Parallel* parallel = nullptr;
  /// With `parallel`: BatchNorm statistics over the global batch (nn::TrainerOptions::sync_batch_norm); off: per
  /// process.
  bool sync_batch_norm = false;
  /// Length buckets (nn::DataLoaderOptions::lengths): training batches of captions of similar length, so that
  /// padding each batch to its longest caption costs little. Changes which captions share a batch (not the loss of
  /// a batch); off: batches of the shuffled order as it comes.
  bool length_buckets = false;
};

/// Trains the caption model on image features for the remaining epochs (all, unless resuming); calls on_epoch
/// after each. Throws nn::Error for a bad configuration, a run already in out_dir (without resume or overwrite),
/// or a non-finite loss or gradient (naming the step and the last good checkpoint); TrainingStopped on a stop
/// request (stop_signal.h).
std::vector<EpochResult> train(CaptionModel& model, const Tokenizer& tokenizer, const FeatureLookup& features,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config,
                               const std::function<void(const EpochResult&)>& on_epoch = nullptr);

/// The same for the whole image captioner (CNN and decoder, end to end); `images` gives each example's image.
/// Bundles are written by save_captioner.
std::vector<EpochResult> train(ImageCaptioner& model, const Tokenizer& tokenizer, const FeatureLookup& images,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config,
                               const std::function<void(const EpochResult&)>& on_epoch = nullptr);

/// Teacher-forcing tensors for a batch of encoded captions (`<start>` w1 … wn `<end>`): inputs `<start>` w1 … wn and
/// targets w1 … wn `<end>`, padded with 0 to the longest caption, and the mask of real positions.
struct TokenBatch {
  /// (N, T): the input ids, `<start>` w1 … wn padded with 0.
  nn::Indices inputs, targets;
  /// \var targets
  /// (N, T): the target ids, w1 … wn `<end>` padded with 0.
  nn::Tensor mask;     ///< (N, T), 1 at real positions
  int64_t tokens = 0;  ///< predicted words
  /// (R = tokens): the real positions' flat indices n·T + t, in order (CaptionModel::forward with rows), and
  /// their targets — the masked loss over (N, T) is the plain mean over these R rows.
  nn::Indices rows, row_targets;
};
/// Builds the TokenBatch of `captions` (each `<start>` w1 … wn `<end>`; N = captions.size()).
TokenBatch make_token_batch(const std::vector<const std::vector<int32_t>*>& captions);

/// A batch of examples: the images' inputs stacked (N, …) and their captions' tensors.
struct CaptionBatch {
  nn::Tensor inputs;  ///< (N, …): each example's FeatureLookup result, stacked
  TokenBatch tokens;  ///< the captions' teacher-forcing tensors
};
/// The captioning collate: looks up each example's input and pads the captions (make_token_batch).
CaptionBatch make_caption_batch(const std::vector<Example>& examples, const FeatureLookup& inputs);

/// Word dropout: replaces each input word after `<start>` by `<unk>` with probability p, drawn from `gen`; padding and
/// targets stay as they are.
void drop_words(TokenBatch& tokens, float p, nn::Generator& gen);

/// config's cosine schedule over the epochs as nn::CosineWithWarmup's options: no warm-up, per epoch, total =
/// epochs − 1 (at least 1), min_lr = learning_rate × final_lr_fraction; epoch 1 trains at learning_rate and the
/// last epoch at min_lr. Throws nn::Error for a final_lr_fraction < 0.
nn::CosineWithWarmupOptions epoch_cosine_schedule(const TrainConfig& config);

}  // namespace captioning
