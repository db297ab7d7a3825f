#include "captioning/trainer.h"

#include <algorithm>
#include <cmath>

#include <nn/core/error.h>
#include <nn/data/dataloader.h>
#include <nn/io/checkpoint.h>
#include <nn/ops/ops.h>

#include "captioning/bundle.h"
#include "captioning/captioner.h"
#include "captioning/stop_signal.h"

namespace captioning {

namespace fs = std::filesystem;

std::vector<Example> make_examples(const std::vector<std::string>& ids,
                                   const std::map<std::string, std::vector<std::string>>& captions,
                                   const Tokenizer& tokenizer, int max_words) {
  std::vector<Example> out;
  for (const std::string& id : ids) {
    auto it = captions.find(id);
    if (it == captions.end()) continue;
    for (const std::string& caption : it->second) {
      std::vector<int32_t> words = tokenizer.encode(caption, false);
      if (words.empty()) continue;
      if (static_cast<int>(words.size()) > max_words) words.resize(max_words);
      Example e{id, {Tokenizer::kStart}};
      e.ids.insert(e.ids.end(), words.begin(), words.end());
      e.ids.push_back(Tokenizer::kEnd);
      out.push_back(std::move(e));
    }
  }
  return out;
}

TokenBatch make_token_batch(const std::vector<const std::vector<int32_t>*>& captions) {
  const int64_t n = static_cast<int64_t>(captions.size());
  int64_t t = 0;
  for (const auto* ids : captions) t = std::max<int64_t>(t, static_cast<int64_t>(ids->size()) - 1);
  std::vector<int32_t> inputs(n * t, 0), targets(n * t, 0), rows, row_targets;
  TokenBatch b;
  b.mask = nn::Tensor::zeros({n, t});
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int32_t>& ids = *captions[i];
    for (size_t k = 0; k + 1 < ids.size(); ++k) {
      inputs[i * t + k] = ids[k];
      targets[i * t + k] = ids[k + 1];
      b.mask.data()[i * t + k] = 1.0f;
      rows.push_back(static_cast<int32_t>(i * t + static_cast<int64_t>(k)));
      row_targets.push_back(ids[k + 1]);
      ++b.tokens;
    }
  }
  b.inputs = nn::Indices({n, t}, std::move(inputs));
  b.targets = nn::Indices({n, t}, std::move(targets));
  b.rows = nn::Indices({b.tokens}, std::move(rows));
  b.row_targets = nn::Indices({b.tokens}, std::move(row_targets));
  return b;
}

void drop_words(TokenBatch& tokens, float p, nn::Generator& gen) {
  if (tokens.inputs.shape.size() != 2 || tokens.inputs.shape[1] < 1) return;
  const size_t t = static_cast<size_t>(tokens.inputs.shape[1]);
  for (size_t k = 0; k < tokens.inputs.values.size(); ++k) {
    if (k % t == 0 || tokens.mask.data()[k] == 0.0f) continue;  // <start>, padding
    if (gen.uniform() < p) tokens.inputs.values[k] = Tokenizer::kUnknown;
  }
}

CaptionBatch make_caption_batch(const std::vector<Example>& examples, const FeatureLookup& inputs) {
  std::vector<const std::vector<int32_t>*> captions;
  std::vector<nn::Tensor> rows;
  for (const Example& e : examples) {
    captions.push_back(&e.ids);
    rows.push_back(inputs(e.image));
  }
  return {nn::concat(rows, 0), make_token_batch(captions)};
}

nn::CosineWithWarmupOptions epoch_cosine_schedule(const TrainConfig& config) {
  if (!(config.final_lr_fraction >= 0.0f))
    nn::fail_expected("train", "final_lr_fraction ≥ 0", std::to_string(config.final_lr_fraction));
  return {.warmup = 0,
          .total = std::max(1, config.epochs - 1),
          .min_lr = static_cast<double>(config.learning_rate) * config.final_lr_fraction,
          .unit = nn::ScheduleUnit::epoch};
}

namespace {

// What the shared loop needs of a model: its module, its forward, how it reseeds its dropout, and how its
// checkpoints are written (as a loadable bundle) and read back.
struct Target {
  nn::Module& module;
  // inputs, ids (N, T), the real positions' rows (R) → their logits (R, V)
  std::function<nn::Tensor(const nn::Tensor& inputs, const nn::Indices& ids, const nn::Indices& rows)> forward;
  std::function<void(uint64_t)> reseed;
  std::function<void(const std::filesystem::path&, const nn::Optimizer*, const nn::LRScheduler*, nn::CheckpointTexts)>
      save;
  std::function<nn::CheckpointTexts(const std::filesystem::path&, nn::Optimizer*, nn::LRScheduler*)> load;
};

std::vector<EpochResult> train_target(const Target& target, const FeatureLookup& inputs,
                                      const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                                      const TrainConfig& config,
                                      const std::function<void(const EpochResult&)>& on_epoch) {
  if (config.epochs < 1 || config.batch_size < 1 || !(config.learning_rate > 0)) {
    nn::fail_expected("train", "epochs ≥ 1, batch_size ≥ 1 and learning_rate > 0",
                      "epochs=" + std::to_string(config.epochs) + ", batch_size=" + std::to_string(config.batch_size));
  }
  if (!(config.word_dropout >= 0.0f && config.word_dropout < 1.0f))
    nn::fail_expected("train", "0 ≤ word_dropout < 1", std::to_string(config.word_dropout));
  if (train_set.empty()) nn::fail("train", "no training examples");
  nn::Adam adam(target.module.named_parameters(), {.lr = config.learning_rate});
  nn::CosineWithWarmup schedule(adam, epoch_cosine_schedule(config));
  nn::Trainer trainer(target.module, adam,
                      {.epochs = config.epochs,
                       .out_dir = config.out_dir,
                       .resume = config.resume,
                       .overwrite = config.overwrite,
                       .seed = config.seed,
                       .progress = config.progress,
                       .loss_label = "loss per word",
                       .stop = stop_requested,
                       .reseed = target.reseed,
                       .texts = config.bundle_texts,
                       .save = target.save,
                       .load = target.load,
                       .parallel = config.parallel,
                       .sync_batch_norm = config.sync_batch_norm},
                      &schedule);
  trainer.callbacks().after_epoch = on_epoch;
  trainer.callbacks().resumed = config.on_resume;
  auto collate = [&inputs](std::vector<Example>&& examples) { return make_caption_batch(examples, inputs); };
  nn::VectorDataset<Example> train_data(train_set), val_data(val_set);
  std::vector<int64_t> lengths;  // the captions' lengths, when batches are bucketed by them
  if (config.length_buckets) {
    for (const Example& e : train_set) lengths.push_back(static_cast<int64_t>(e.ids.size()));
  }
  nn::DataLoader<Example, CaptionBatch> train_loader(
      train_data, collate, {.batch_size = config.batch_size, .seed = config.seed, .lengths = std::move(lengths)});
  nn::DataLoader<Example, CaptionBatch> val_loader(val_data, collate,
                                                   {.batch_size = config.batch_size, .shuffle = false});
  auto loss = [&](CaptionBatch& b, const nn::Step& step) {
    if (step.training && config.word_dropout > 0.0f) {
      nn::Generator gen(step.seed ^ 0x770dd809ull);  // the dropped words of (seed, epoch, step)
      drop_words(b.tokens, config.word_dropout, gen);
    }
    // The head on the real words only: the mean over them is the masked mean over the padded (N, T).
    nn::Tensor logits = target.forward(b.inputs, b.tokens.inputs, b.tokens.rows);
    return nn::BatchLoss{nn::softmax_cross_entropy(logits, b.tokens.row_targets), static_cast<double>(b.tokens.tokens)};
  };
  return trainer.fit<Example, CaptionBatch>(train_loader, val_set.empty() ? nullptr : &val_loader, loss);
}

}  // namespace

std::vector<EpochResult> train(CaptionModel& model, const Tokenizer& tokenizer, const FeatureLookup& features,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config, const std::function<void(const EpochResult&)>& on_epoch) {
  Target target{
      .module = model,
      .forward = [&](const nn::Tensor& f, const nn::Indices& ids,
                     const nn::Indices& rows) { return model.forward(f, ids, rows); },
      .reseed = [&](uint64_t seed) { model.reseed_dropout(seed); },
      .save =
          [&](const std::filesystem::path& path, const nn::Optimizer* optimizer, const nn::LRScheduler* scheduler,
              nn::CheckpointTexts texts) {
            save_bundle(path, model, tokenizer, optimizer, std::move(texts), scheduler);
          },
      .load = [&](const std::filesystem::path& path, nn::Optimizer* optimizer,
                  nn::LRScheduler* scheduler) { return load_bundle_into(path, model, optimizer, scheduler); }};
  return train_target(target, features, train_set, val_set, config, on_epoch);
}

std::vector<EpochResult> train(ImageCaptioner& model, const Tokenizer& tokenizer, const FeatureLookup& images,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config, const std::function<void(const EpochResult&)>& on_epoch) {
  Target target{.module = model,
                .forward = [&](const nn::Tensor& x, const nn::Indices& ids,
                               const nn::Indices& rows) { return model.forward(x, ids, rows); },
                .reseed = [&](uint64_t seed) { model.decoder().reseed_dropout(seed); },
                .save =
                    [&](const std::filesystem::path& path, const nn::Optimizer* optimizer,
                        const nn::LRScheduler* scheduler, nn::CheckpointTexts texts) {
                      save_captioner(path, model, tokenizer, optimizer, std::move(texts), scheduler);
                    },
                .load = [&](const std::filesystem::path& path, nn::Optimizer* optimizer,
                            nn::LRScheduler* scheduler) { return nn::load(path, model, optimizer, scheduler); }};
  return train_target(target, images, train_set, val_set, config, on_epoch);
}

}  // namespace captioning
