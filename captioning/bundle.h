/// @file
/// A model bundle: everything `describe` needs to caption with a trained model — the caption model's weights, its
/// tokenizer and configuration — in one libnn checkpoint file; training adds the optimiser state and its history.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nn/io/options.h>
#include <nn/optim/optimizer.h>
#include <nn/optim/scheduler.h>

#include "captioning/model.h"
#include "captioning/tokenizer.h"

namespace captioning {

/// Named texts of a bundle (name, value), in file order.
using Texts = std::vector<std::pair<std::string, std::string>>;

/// Describes CaptionModelOptions to an options archive (nn/io/options.h): vocab, feature_dim, units, dropout, seed,
/// positions (0 without attention), each within plausible limits.
void option_fields(nn::OptionsArchive& archive, CaptionModelOptions& options);

/// The number of floats in a CaptionModel's named_state() for `options`, without building it.
int64_t caption_model_state_numel(const CaptionModelOptions& options);

/// Writes atomically: the model, the tokenizer, the model's options (text "caption.options", JSON), `extra` texts,
/// and the optimiser's and the learning-rate scheduler's states when given.
void save_bundle(const std::filesystem::path& path, const CaptionModel& model, const Tokenizer& tokenizer,
                 const nn::Optimizer* optimizer = nullptr, Texts extra = {},
                 const nn::LRScheduler* scheduler = nullptr);

/// The value of `key` among `texts`, or nullptr.
const std::string* find_text(const Texts& texts, const std::string& key);

/// A loaded caption bundle: the model, its tokenizer and the file's texts.
struct Bundle {
  std::unique_ptr<CaptionModel> model;  ///< in eval mode
  Tokenizer tokenizer;                  ///< the vocabulary the model was trained with
  Texts texts;                          ///< all texts of the file (extra ones included)
  /// The value of text `key`, or nullptr (find_text on texts).
  const std::string* find(const std::string& key) const;
};

/// Rebuilds the model from the bundle's options and loads it (and `optimizer` when given). Bundles from before
/// "caption.options" (texts "caption.vocab", "caption.feature_dim", "caption.units", "caption.dropout"; no attention)
/// still load. Throws nn::Error naming the file on a non-bundle, an implausible option (naming it), a vocabulary that
/// does not match the tokenizer, or any checkpoint error.
Bundle load_bundle(const std::filesystem::path& path, nn::Optimizer* optimizer = nullptr);
/// The same, loading into an existing model (and optimiser and learning-rate scheduler, as nn::load does), e.g. to
/// resume training.
Texts load_bundle_into(const std::filesystem::path& path, CaptionModel& model, nn::Optimizer* optimizer = nullptr,
                       nn::LRScheduler* scheduler = nullptr);

}  // namespace captioning
