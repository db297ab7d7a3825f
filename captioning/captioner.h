// An image captioner trained end to end: an Xception-style CNN (any width, any number of middle blocks) whose
// pooled features feed the merge decoder, with gradients flowing through both (BatchNorm in training mode). The
// compact model shipped in weights/ is one of these, trained on the synthetic shapes world.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nn/image.h>
#include <nn/models/xception.h>

#include "captioning/bundle.h"
#include "captioning/model.h"
#include "captioning/tokenizer.h"
#include "captioning/trainer.h"

namespace captioning {

struct CaptionerOptions {
  float cnn_width = 0.125f;
  int cnn_middle_blocks = 2;
  int64_t image_size = 96;  // square input, ≥ 71
  int64_t vocab = 0;
  int64_t units = 256;
  float dropout = 0.2f;
  uint64_t seed = 1;
  // The decoder attends over the CNN's final feature map (CaptionModelOptions::positions) instead of seeing only
  // its global average.
  bool attention = false;
};

class ImageCaptioner : public nn::Module {
 public:
  explicit ImageCaptioner(const CaptionerOptions& options);
  // images (N, S, S, 3) in [−1, 1] → pooled features (N, F), or with attention the flattened map (N, P·F)
  nn::Tensor features(const nn::Tensor& images);
  // images, ids (N, T) → logits (N, T, V)
  nn::Tensor forward(const nn::Tensor& images, const nn::Indices& ids) {
    return decoder_->forward(features(images), ids);
  }
  CaptionModel& decoder() { return *decoder_; }
  const CaptionerOptions& options() const { return options_; }
  std::string to_string() const override;

 private:
  CaptionerOptions options_;
  std::shared_ptr<nn::Xception> cnn_;
  std::shared_ptr<CaptionModel> decoder_;
};

// The side of the Xception feature map for a square input of `image_size` (96 → 3, 299 → 10).
int64_t feature_map_side(int64_t image_size);

// An image file → (1, S, S, 3) in [−1, 1] (bilinear resize: the shapes are drawn at the training size anyway).
nn::Tensor load_captioner_input(const std::filesystem::path& path, int64_t size);

void save_captioner(const std::filesystem::path& path, const ImageCaptioner& model, const Tokenizer& tokenizer,
                    const nn::Optimizer* optimizer = nullptr, Texts extra = {});

struct CaptionerBundle {
  std::unique_ptr<ImageCaptioner> model;  // in eval mode
  Tokenizer tokenizer;
  Texts texts;
};
// Throws nn::Error naming the file on a non-captioner bundle, a tokenizer that does not match, or checkpoint errors.
CaptionerBundle load_captioner(const std::filesystem::path& path);

}  // namespace captioning
