// train_end_to_end: the captioner's own training loop (to be replaced by nn::Trainer, issue 15).
#include <chrono>
#include <cmath>

#include <nn/autograd.h>
#include <nn/checkpoint.h>
#include <nn/error.h>
#include <nn/ops.h>
#include <nn/optim/adam.h>
#include <nn/random.h>

#include "captioning/captioner.h"

namespace captioning {

namespace {

struct Batch {
  nn::Tensor images;
  TokenBatch tokens;
};

Batch make_batch(const nn::Tensor& images, const std::vector<const EndToEndExample*>& examples) {
  std::vector<const std::vector<int32_t>*> captions;
  std::vector<nn::Tensor> rows;
  for (const auto* e : examples) {
    captions.push_back(&e->ids);
    rows.push_back(nn::slice(images, 0, e->image, e->image + 1));
  }
  return {nn::concat(rows, 0), make_token_batch(captions)};
}

// (images' loss of the batch of examples `indices`, and its words); with word_dropout > 0, inputs are dropped
// (drop_words) by `gen`.
std::pair<nn::Tensor, int64_t> batch_loss(ImageCaptioner& model, const nn::Tensor& images,
                                          const std::vector<EndToEndExample>& set, const std::vector<size_t>& indices,
                                          float word_dropout = 0.0f, nn::Generator* gen = nullptr) {
  std::vector<const EndToEndExample*> batch;
  for (size_t i : indices) batch.push_back(&set[i]);
  Batch b = make_batch(images, batch);
  if (word_dropout > 0.0f) drop_words(b.tokens, word_dropout, *gen);
  return {nn::softmax_cross_entropy(model.forward(b.images, b.tokens.inputs), b.tokens.targets, b.tokens.mask),
          b.tokens.tokens};
}

double validation_loss(ImageCaptioner& model, const nn::Tensor& images, const std::vector<EndToEndExample>& set,
                       int batch_size) {
  if (set.empty()) return NAN;
  model.eval();
  nn::NoGradGuard no_grad;
  PassResult pass = run_pass(set.size(), {}, batch_size, [&](const std::vector<size_t>& indices) {
    return batch_loss(model, images, set, indices);
  });
  model.train();
  return pass.loss;
}

}  // namespace

std::vector<EpochResult> train_end_to_end(ImageCaptioner& model, const Tokenizer& tokenizer, const nn::Tensor& images,
                                          const std::vector<EndToEndExample>& train_set, const nn::Tensor& val_images,
                                          const std::vector<EndToEndExample>& val_set, const TrainConfig& config,
                                          const std::function<void(const EpochResult&)>& on_epoch) {
  if (train_set.empty()) nn::fail("train_end_to_end", "no training examples");
  nn::make_directories(config.out_dir);
  nn::Adam adam(model.named_parameters(), {.lr = config.learning_rate});
  std::vector<EpochResult> history;
  double best = INFINITY;
  model.train();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    const uint64_t epoch_seed = config.seed * 1000003ull + static_cast<uint64_t>(epoch);
    model.decoder().reseed_dropout(epoch_seed);
    adam.options().lr = scheduled_learning_rate(config, epoch);
    std::vector<size_t> order = shuffled_order(train_set.size(), epoch_seed);
    nn::Generator word_gen(epoch_seed ^ 0x770dd809ull);
    EpochResult r;
    r.epoch = epoch;
    PassResult pass = run_pass(
        order.size(), order, config.batch_size,
        [&](const std::vector<size_t>& indices) {
          return batch_loss(model, images, train_set, indices, config.word_dropout, &word_gen);
        },
        &adam, "train_end_to_end", epoch);
    r.train_loss = pass.loss;
    r.tokens = pass.tokens;
    r.val_loss = validation_loss(model, val_images, val_set, config.batch_size);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history.push_back(r);
    Texts extra{{"train.epoch", std::to_string(epoch)}};
    extra.insert(extra.end(), config.bundle_texts.begin(), config.bundle_texts.end());
    save_captioner(config.out_dir / "last.nnck", model, tokenizer, nullptr, extra);
    if (!(r.val_loss >= best)) {
      best = std::isnan(r.val_loss) ? best : r.val_loss;
      save_captioner(config.out_dir / "best.nnck", model, tokenizer, nullptr, extra);
    }
    write_loss_curve(config.out_dir / "loss.svg", history);
    if (on_epoch) on_epoch(r);
  }
  return history;
}

}  // namespace captioning
