#include "captioning/captioner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include <nn/core/error.h>
#include <nn/core/random.h>
#include <nn/io/checkpoint.h>
#include <nn/io/options.h>
#include <nn/ops/ops.h>

namespace captioning {

namespace fs = std::filesystem;

ImageCaptioner::ImageCaptioner(const CaptionerOptions& o) : options_(o) {
  if (o.image_size < 71)
    nn::fail_expected("ImageCaptioner", "an image size of at least 71", std::to_string(o.image_size));
  nn::Generator gen(o.seed);
  cnn_ = register_module(
      "cnn", std::make_shared<nn::Xception>(
                 nn::XceptionOptions{.pooling = o.attention ? nn::XceptionPooling::none : nn::XceptionPooling::avg,
                                     .width = o.cnn_width,
                                     .middle_blocks = o.cnn_middle_blocks},
                 gen));
  const int64_t side = feature_map_side(o.image_size);
  decoder_ = register_module(
      "decoder", std::make_shared<CaptionModel>(CaptionModelOptions{.vocab = o.vocab,
                                                                    .feature_dim = cnn_->feature_channels(),
                                                                    .units = o.units,
                                                                    .dropout = o.dropout,
                                                                    .seed = o.seed + 7,
                                                                    .positions = o.attention ? side * side : 0}));
}

int64_t feature_map_side(int64_t image_size) {
  // Xception: a 3×3/2 and a 3×3 'valid' convolution, then four 'same' 3×3/2 max-pools (blocks 2, 3, 4 and 13).
  int64_t side = (image_size - 3) / 2 + 1 - 2;
  for (int i = 0; i < 4; ++i) side = (side + 1) / 2;
  return side;
}

nn::Tensor ImageCaptioner::features(const nn::Tensor& images) {
  nn::Tensor out = cnn_->forward(images);  // (N, F) or (N, h, w, F)
  return options_.attention ? out.reshape({out.dim(0), -1}) : out;
}

std::string ImageCaptioner::to_string() const {
  return "ImageCaptioner(image=" + std::to_string(options_.image_size) + ")";
}

nn::Tensor load_captioner_input(const fs::path& path, int64_t size) {
  // Decoded no larger than twice the input a side (nn::ImageOptions), as the Describer does.
  nn::Tensor image =
      nn::resize_image(nn::load_image(path, {.min_side = 2 * size}), size, size, nn::ResizeFilter::bilinear);
  return nn::xception_preprocess(image).reshape({1, size, size, 3});
}

// The captioner's options; file-local, found by nn::options_to_json through argument-dependent lookup.
static void option_fields(nn::OptionsArchive& archive, CaptionerOptions& o) {
  archive.field("cnn_width", o.cnn_width, {.min = 0.001, .max = 4});
  archive.field("cnn_middle_blocks", o.cnn_middle_blocks, {.min = 0, .max = 64});
  archive.field("image_size", o.image_size, {.min = 71, .max = 2048});
  archive.field("vocab", o.vocab, {.min = 5, .max = 10'000'000});
  archive.field("units", o.units, {.min = 1, .max = 100'000});
  archive.field("dropout", o.dropout, {.min = 0, .max = 0.999});
  archive.field("seed", o.seed);
  archive.field("attention", o.attention);
}

namespace {

// The texts written before "captioner.options" (weights/shapes.nnck is one); "captioner.attention" is absent in
// bundles from before attention.
CaptionerOptions legacy_captioner_options(const Texts& texts, const fs::path& path) {
  auto get = [&](const std::string& key) {
    if (const std::string* v = find_text(texts, key)) return *v;
    nn::fail(path.string(), "is not an image captioner bundle (no '" + key + "')");
  };
  CaptionerOptions o;
  try {
    o.cnn_width = std::stof(get("captioner.cnn_width"));
    o.cnn_middle_blocks = std::stoi(get("captioner.cnn_middle_blocks"));
    o.image_size = std::stoll(get("captioner.image_size"));
    o.vocab = std::stoll(get("captioner.vocab"));
    o.units = std::stoll(get("captioner.units"));
    o.dropout = std::stof(get("captioner.dropout"));
    const std::string* attention = find_text(texts, "captioner.attention");
    if (attention && *attention != "0" && *attention != "1") throw std::invalid_argument("attention");
    o.attention = attention && *attention == "1";
  } catch (const std::logic_error&) {
    nn::fail(path.string(), "has an unreadable captioner configuration");
  }
  if (!(o.cnn_width > 0 && o.cnn_width <= 4) || o.cnn_middle_blocks < 0 || o.cnn_middle_blocks > 64 ||
      o.image_size < 71 || o.image_size > 2048 || o.vocab < 5 || o.vocab > 10'000'000 || o.units < 1 ||
      o.units > 100'000) {
    nn::fail(path.string(), "has an implausible captioner configuration");
  }
  return o;
}

}  // namespace

void save_captioner(const fs::path& path, const ImageCaptioner& model, const Tokenizer& tokenizer,
                    const nn::Optimizer* optimizer, Texts extra, const nn::LRScheduler* scheduler) {
  Texts texts{{"model", "image-captioner"},
              nn::options_entry("captioner.options", model.options()),
              {"tokenizer", tokenizer.serialize()}};
  for (auto& entry : extra) texts.push_back(std::move(entry));
  nn::save(path, model, optimizer, std::move(texts), scheduler);
}

CaptionerBundle load_captioner(const fs::path& path) {
  Texts texts = nn::read_checkpoint_texts(path);
  const std::string* kind = find_text(texts, "model");
  if (kind == nullptr || *kind != "image-captioner") nn::fail(path.string(), "is not an image captioner bundle");
  std::optional<CaptionerOptions> read = nn::find_options<CaptionerOptions>(texts, "captioner.options", path);
  const CaptionerOptions o = read ? *read : legacy_captioner_options(texts, path);
  const std::string* serialized = find_text(texts, "tokenizer");
  if (serialized == nullptr) nn::fail(path.string(), "is not an image captioner bundle (no 'tokenizer')");
  Tokenizer tokenizer = Tokenizer::deserialize(*serialized, path.string());
  if (tokenizer.vocab_size() != o.vocab) {
    nn::fail_expected(path.string(), "a tokenizer of " + std::to_string(o.vocab) + " ids (the model's vocabulary)",
                      std::to_string(tokenizer.vocab_size()) + " ids");
  }
  // The tensors its options describe must fit in the file before anything is allocated for them.
  const nn::XceptionOptions cnn{.width = o.cnn_width, .middle_blocks = o.cnn_middle_blocks};
  const int64_t features = std::max<int64_t>(1, std::lround(2048.0 * static_cast<double>(o.cnn_width)));
  nn::check_model_fits(
      path, nn::xception_state_numel(cnn) +
                caption_model_state_numel(
                    {.vocab = o.vocab, .feature_dim = features, .units = o.units, .positions = o.attention ? 1 : 0}));
  CaptionerBundle b{std::make_unique<ImageCaptioner>(o), std::move(tokenizer), {}};
  b.texts = nn::load(path, *b.model);
  b.model->eval();
  return b;
}

}  // namespace captioning
