#include "captioning/bundle.h"

#include <nn/core/error.h>
#include <nn/io/checkpoint.h>

namespace captioning {

const std::string* find_text(const Texts& texts, const std::string& key) {
  for (const auto& [k, v] : texts) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

std::string required(const Texts& texts, const std::string& key, const std::filesystem::path& path) {
  const std::string* v = find_text(texts, key);
  if (v == nullptr) nn::fail(path.string(), "is not a caption model bundle (no '" + key + "')");
  return *v;
}

// The texts written before "caption.options" (no positions: those bundles had no attention).
CaptionModelOptions legacy_options(const Texts& texts, const std::filesystem::path& path) {
  CaptionModelOptions o;
  try {
    o.vocab = std::stoll(required(texts, "caption.vocab", path));
    o.feature_dim = std::stoll(required(texts, "caption.feature_dim", path));
    o.units = std::stoll(required(texts, "caption.units", path));
    o.dropout = std::stof(required(texts, "caption.dropout", path));
  } catch (const std::logic_error&) {
    nn::fail(path.string(), "has an unreadable caption model configuration");
  }
  if (o.vocab < 5 || o.vocab > 10'000'000 || o.feature_dim < 1 || o.feature_dim > 1'000'000 || o.units < 1 ||
      o.units > 100'000) {
    nn::fail(path.string(), "has an implausible caption model configuration");
  }
  return o;
}

CaptionModelOptions options_from(const Texts& texts, const std::filesystem::path& path) {
  if (required(texts, "model", path) != "caption-merge") nn::fail(path.string(), "is not a caption model bundle");
  if (auto o = nn::find_options<CaptionModelOptions>(texts, "caption.options", path)) return *o;
  return legacy_options(texts, path);
}

}  // namespace

const std::string* Bundle::find(const std::string& key) const {
  return find_text(texts, key);
}

void option_fields(nn::OptionsArchive& archive, CaptionModelOptions& o) {
  archive.field("vocab", o.vocab, {.min = 5, .max = 10'000'000});
  archive.field("feature_dim", o.feature_dim, {.min = 1, .max = 1'000'000});
  archive.field("units", o.units, {.min = 1, .max = 100'000});
  archive.field("dropout", o.dropout, {.min = 0, .max = 0.999});
  archive.field("seed", o.seed);
  archive.field("positions", o.positions, {.min = 0, .max = 4096});
}

int64_t caption_model_state_numel(const CaptionModelOptions& o) {
  const int64_t v = o.vocab, f = o.feature_dim, u = o.units;
  int64_t n = (f * u + u)                               // image_dense
              + v * u                                   // embedding
              + (u * 4 * u) * 2 + 4 * u                 // lstm: kernel, recurrent kernel, bias
              + (u * u + u)                             // merge_dense
              + (u * v + v);                            // output
  if (o.positions > 0) n += (f * u + u) + (u * u + u);  // value_dense, query_dense
  return n;
}

void save_bundle(const std::filesystem::path& path, const CaptionModel& model, const Tokenizer& tokenizer,
                 const nn::Optimizer* optimizer, Texts extra, const nn::LRScheduler* scheduler) {
  if (tokenizer.vocab_size() != model.options().vocab) {
    nn::fail_expected(path.string(), "a tokenizer of " + std::to_string(model.options().vocab) + " ids (the model's)",
                      std::to_string(tokenizer.vocab_size()));
  }
  Texts texts{{"model", "caption-merge"},
              nn::options_entry("caption.options", model.options()),
              {"tokenizer", tokenizer.serialize()}};
  for (auto& entry : extra) texts.push_back(std::move(entry));
  nn::save(path, model, optimizer, std::move(texts), scheduler);
}

Texts load_bundle_into(const std::filesystem::path& path, CaptionModel& model, nn::Optimizer* optimizer,
                       nn::LRScheduler* scheduler) {
  const CaptionModelOptions o = options_from(nn::read_checkpoint_texts(path), path);
  const CaptionModelOptions& m = model.options();
  if (o.vocab != m.vocab || o.feature_dim != m.feature_dim || o.units != m.units || o.positions != m.positions)
    nn::fail_expected(path.string(),
                      "a caption model of vocabulary " + std::to_string(m.vocab) + ", " +
                          std::to_string(m.feature_dim) + " features, " + std::to_string(m.units) + " units and " +
                          std::to_string(m.positions) + " positions (the one being trained)",
                      "vocabulary " + std::to_string(o.vocab) + ", " + std::to_string(o.feature_dim) + " features, " +
                          std::to_string(o.units) + " units, " + std::to_string(o.positions) + " positions");
  return nn::load(path, model, optimizer, scheduler);
}

Bundle load_bundle(const std::filesystem::path& path, nn::Optimizer* optimizer) {
  Texts texts = nn::read_checkpoint_texts(path);
  CaptionModelOptions o = options_from(texts, path);
  Tokenizer tokenizer = Tokenizer::deserialize(required(texts, "tokenizer", path), path.string());
  if (tokenizer.vocab_size() != o.vocab) {
    nn::fail_expected(path.string(), "a tokenizer of " + std::to_string(o.vocab) + " ids (the model's vocabulary)",
                      std::to_string(tokenizer.vocab_size()) + " ids");
  }
  nn::check_model_fits(path, caption_model_state_numel(o));
  Bundle b{std::make_unique<CaptionModel>(o), std::move(tokenizer), {}};
  b.texts = nn::load(path, *b.model, optimizer);
  b.model->eval();
  return b;
}

}  // namespace captioning
