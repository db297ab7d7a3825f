/// @file
/// An image captioner trained end to end: an Xception-style CNN (any width, any number of middle blocks) whose
/// pooled features feed the merge decoder, with gradients flowing through both (BatchNorm in training mode). The
/// compact model shipped in weights/ is one of these, trained on the synthetic shapes world.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nn/io/image.h>
#include <nn/models/xception.h>

#include "captioning/bundle.h"
#include "captioning/model.h"
#include "captioning/tokenizer.h"
#include "captioning/trainer.h"

namespace captioning {

/// ImageCaptioner's configuration: the CNN's size, the input side S and the decoder's (CaptionModelOptions).
struct CaptionerOptions {
  float cnn_width = 0.125f;   ///< the Xception's channel multiplier (1 = Keras's Xception)
  int cnn_middle_blocks = 2;  ///< the Xception's middle blocks (Keras's has 8)
  int64_t image_size = 96;    ///< S: square input, ≥ 71
  int64_t vocab = 0;          ///< V, the tokenizer's vocab_size()
  int64_t units = 256;        ///< U, the decoder's width
  float dropout = 0.2f;       ///< the decoder's dropout rate
  uint64_t seed = 1;          ///< initial weights and dropout masks
  /// The decoder attends over the CNN's final feature map (CaptionModelOptions::positions) instead of seeing only
  /// its global average.
  bool attention = false;
};

/// An Xception-style CNN ("cnn") feeding a CaptionModel ("decoder"), trained together.
class ImageCaptioner : public nn::Module {
 public:
  /// Throws nn::Error on an image_size under 71 (or a decoder configuration CaptionModel refuses).
  explicit ImageCaptioner(const CaptionerOptions& options);
  /// images (N, S, S, 3) in [−1, 1] → pooled features (N, F), or with attention the flattened map (N, P·F)
  nn::Tensor features(const nn::Tensor& images);
  /// images (N, S, S, 3), ids (N, T) → logits (N, T, V)
  nn::Tensor forward(const nn::Tensor& images, const nn::Indices& ids) {
    return decoder_->forward(features(images), ids);
  }
  /// The same on the flat positions `rows` of ids only (CaptionModel::forward with rows) → logits (R, V)
  nn::Tensor forward(const nn::Tensor& images, const nn::Indices& ids, const nn::Indices& rows) {
    return decoder_->forward(features(images), ids, rows);
  }
  CaptionModel& decoder() { return *decoder_; }                 ///< the merge decoder, for generation
  const CaptionerOptions& options() const { return options_; }  ///< as constructed
  /// "ImageCaptioner(image=96)".
  std::string to_string() const override;

 private:
  CaptionerOptions options_;
  std::shared_ptr<nn::Xception> cnn_;
  std::shared_ptr<CaptionModel> decoder_;
};

/// The side of the Xception feature map for a square input of `image_size` (96 → 3, 299 → 10).
int64_t feature_map_side(int64_t image_size);

/// An image file → (1, S, S, 3) in [−1, 1] with S = `size` (bilinear resize: the shapes are drawn at the training
/// size anyway). Throws nn::Error naming the file when it cannot be read or decoded.
nn::Tensor load_captioner_input(const std::filesystem::path& path, int64_t size);

/// Writes `model`, its configuration and `tokenizer` (and the optimiser's and the learning-rate scheduler's states,
/// if given, and `extra` texts) as a bundle load_captioner() reads. Throws nn::Error naming the file when it cannot
/// be written.
void save_captioner(const std::filesystem::path& path, const ImageCaptioner& model, const Tokenizer& tokenizer,
                    const nn::Optimizer* optimizer = nullptr, Texts extra = {},
                    const nn::LRScheduler* scheduler = nullptr);

/// What load_captioner() returns.
struct CaptionerBundle {
  std::unique_ptr<ImageCaptioner> model;  ///< in eval mode
  Tokenizer tokenizer;                    ///< the model's vocabulary
  Texts texts;                            ///< the bundle's texts (configuration, and what training added)
};
/// Reads a bundle save_captioner() wrote (weights/shapes.nnck is one).
/// Throws nn::Error naming the file on a non-captioner bundle, a tokenizer that does not match, or checkpoint errors.
CaptionerBundle load_captioner(const std::filesystem::path& path);

}  // namespace captioning
