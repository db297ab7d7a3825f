// Training the caption models: reproducible and resumable to the bit, bundles that load and caption, a non-finite
// loss stops with the step named, and a bundle whose vocabulary does not match its tokenizer is refused.
// nn::Trainer itself, on a tiny model of its own, is tested in test_training_loop.cpp.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <captioning/bundle.h>
#include <captioning/describer.h>
#include <captioning/flickr8k_pipeline.h>
#include <captioning/generate.h>
#include <captioning/trainer.h>
#include <nn/data/dataloader.h>
#include <nn/io/checkpoint.h>
#include <nn/train/trainer.h>

#include "support/check.h"
#include "support/files.h"
#include "support/shared_data.h"

namespace fs = std::filesystem;
using namespace captioning;
using nn::Tensor;

namespace {

// Four "images" (one-hot features) with two captions each.
struct World {
  std::map<std::string, std::vector<std::string>> captions{{"a", {"dog runs on grass", "a dog runs"}},
                                                           {"b", {"two girls play in snow", "girls play in the snow"}},
                                                           {"c", {"man rides bike", "a man rides a bike"}},
                                                           {"d", {"cat sleeps on sofa", "a cat sleeps"}}};
  std::vector<std::string> train_ids{"a", "b", "c"}, val_ids{"d"};
  Tokenizer tokenizer;
  std::vector<Example> train_set, val_set;
  FeatureLookup features = [](const std::string& id) {
    Tensor f = Tensor::zeros({1, 4});
    f.data()[id[0] - 'a'] = 1.0f;
    return f;
  };
  World() {
    std::vector<std::string> all;
    for (auto& [id, list] : captions) all.insert(all.end(), list.begin(), list.end());
    tokenizer = Tokenizer::fit(all);
    train_set = make_examples(train_ids, captions, tokenizer);
    val_set = make_examples(val_ids, captions, tokenizer);
  }
  CaptionModelOptions model_options() const {
    return {.vocab = tokenizer.vocab_size(), .feature_dim = 4, .units = 16, .dropout = 0.2f, .seed = 3};
  }
};

}  // namespace

TEST_CASE("a resumed run ends bit-identical to an uninterrupted one, and the bundles load and caption") {
  World w;
  test::TempDir dir;
  TrainConfig config{.epochs = 6, .batch_size = 2, .learning_rate = 0.02f, .seed = 5, .out_dir = dir.path / "full"};
  CaptionModel full(w.model_options());
  std::vector<EpochResult> history = train(full, w.tokenizer, w.features, w.train_set, w.val_set, config);
  REQUIRE(history.size() == 6);
  CHECK(history.back().train_loss < history.front().train_loss);
  CHECK(fs::exists(dir.path / "full" / "last.nnck"));
  CHECK(fs::exists(dir.path / "full" / "best.nnck"));
  CHECK(fs::exists(dir.path / "full" / "loss.svg"));
  // last.nnck, best.nnck, loss.svg, metrics.csv, metrics.jsonl, train.log, and no temporaries
  CHECK(std::distance(fs::directory_iterator(dir.path / "full"), fs::directory_iterator()) == 6);

  TrainConfig half = config;
  half.out_dir = dir.path / "resumed";
  half.epochs = 3;
  CaptionModel first(w.model_options());
  train(first, w.tokenizer, w.features, w.train_set, w.val_set, half);
  half.epochs = 6;
  half.resume = true;
  std::vector<std::string> resume_lines;
  half.on_resume = [&](const std::string& line) { resume_lines.push_back(line); };
  CaptionModel second(w.model_options());  // a fresh process would start from fresh weights too
  std::vector<EpochResult> resumed = train(second, w.tokenizer, w.features, w.train_set, w.val_set, half);
  REQUIRE(resumed.size() == 6);
  CHECK(resume_lines == std::vector<std::string>{"train: resuming at epoch 4, step 1"});  // 3 epochs were done
  CHECK(test::all_weights(second) == test::all_weights(full));
  CHECK(resumed.back().train_loss == history.back().train_loss);
  CHECK(resumed.back().val_loss == history.back().val_loss);

  Bundle bundle = load_bundle(dir.path / "full" / "last.nnck");
  CHECK(bundle.tokenizer.vocab_size() == w.tokenizer.vocab_size());
  CHECK(test::all_weights(*bundle.model) == test::all_weights(full));
  CHECK(greedy_caption(*bundle.model, bundle.tokenizer, w.features("a")).text ==
        greedy_caption(full, w.tokenizer, w.features("a")).text);
  REQUIRE(bundle.find("train.epoch") != nullptr);
  CHECK(*bundle.find("train.epoch") == "6");
}

TEST_CASE("train() applies word dropout, drawn per step, so that a resumed run is still bit-identical") {
  World w;
  test::TempDir dir;
  TrainConfig config{.epochs = 4,
                     .batch_size = 2,
                     .learning_rate = 0.02f,
                     .seed = 5,
                     .word_dropout = 0.5f,
                     .out_dir = dir.path / "full"};
  CaptionModel full(w.model_options());
  const std::vector<EpochResult> history = train(full, w.tokenizer, w.features, w.train_set, w.val_set, config);
  TrainConfig plain = config;
  plain.word_dropout = 0.0f;
  plain.out_dir = dir.path / "plain";
  CaptionModel without(w.model_options());
  const std::vector<EpochResult> plain_history = train(without, w.tokenizer, w.features, w.train_set, w.val_set, plain);
  CHECK(history.front().train_loss != plain_history.front().train_loss);  // the words were dropped

  TrainConfig half = config;
  half.out_dir = dir.path / "resumed";
  half.epochs = 2;
  CaptionModel first(w.model_options());
  train(first, w.tokenizer, w.features, w.train_set, w.val_set, half);
  half.epochs = 4;
  half.resume = true;
  CaptionModel second(w.model_options());
  train(second, w.tokenizer, w.features, w.train_set, w.val_set, half);
  CHECK(test::all_weights(second) == test::all_weights(full));

  config.word_dropout = 1.0f;
  CHECK(test::error_of([&] { train(full, w.tokenizer, w.features, w.train_set, w.val_set, config); }) ==
        "train: expected 0 ≤ word_dropout < 1, got 1.000000");
}

TEST_CASE("the head on the real words alone gives the masked loss over the padded batch, and its gradients") {
  World w;
  for (int64_t positions : {0, 2}) {  // the merge decoder, and with attention over 2 positions
    INFO("positions " << positions);
    CaptionModelOptions options = w.model_options();
    options.dropout = 0.0f;
    options.positions = positions;
    CaptionModel model(options);
    // Captions of 3-6 words in one batch: padding to the longest leaves masked positions in most rows.
    std::vector<Example> examples = w.train_set;
    FeatureLookup features = [&](const std::string& id) {
      Tensor f = Tensor::zeros({1, options.feature_width()});
      for (int64_t k = 0; k < options.feature_width(); ++k) f.data()[k] = 0.1f * static_cast<float>(k + id[0] - 'a');
      return f;
    };
    CaptionBatch batch = make_caption_batch(examples, features);
    REQUIRE(batch.tokens.rows.values.size() < batch.tokens.inputs.values.size());
    auto loss_and_gradients = [&](bool packed) {
      for (auto& [name, p] : model.named_parameters()) p.zero_grad();
      Tensor loss = packed
                        ? nn::softmax_cross_entropy(model.forward(batch.inputs, batch.tokens.inputs, batch.tokens.rows),
                                                    batch.tokens.row_targets)
                        : nn::softmax_cross_entropy(model.forward(batch.inputs, batch.tokens.inputs),
                                                    batch.tokens.targets, batch.tokens.mask);
      loss.backward();
      std::vector<std::vector<float>> grads{{loss.item()}};
      for (auto& [name, p] : model.named_parameters()) {
        const Tensor g = p.grad();
        grads.emplace_back(g.data(), g.data() + g.numel());
      }
      return grads;
    };
    const auto padded = loss_and_gradients(false), packed = loss_and_gradients(true);
    REQUIRE(padded.size() == packed.size());
    for (size_t k = 0; k < padded.size(); ++k) {
      REQUIRE(padded[k].size() == packed[k].size());
      for (size_t i = 0; i < padded[k].size(); ++i) CHECK(packed[k][i] == doctest::Approx(padded[k][i]).epsilon(1e-5));
    }
    const nn::Indices outside({1}, {static_cast<int32_t>(batch.tokens.inputs.values.size())});
    CHECK(test::error_of([&] {
            model.forward(batch.inputs, batch.tokens.inputs, outside);
          }).find("CaptionModel: expected positions in [0,") == 0);
  }
}

TEST_CASE("length buckets group other captions into batches, not another loss: same epoch loss per word") {
  World w;
  test::TempDir dir;
  CaptionModelOptions options = w.model_options();
  options.dropout = 0.0f;  // dropout masks would depend on which captions share a batch
  // A learning rate of 1e-12 keeps the weights fixed to float precision, so an epoch's loss per word is the same
  // sum over the same captions however they are batched.
  TrainConfig config{.epochs = 2, .batch_size = 2, .learning_rate = 1e-12f, .seed = 5, .out_dir = dir.path / "plain"};
  CaptionModel plain_model(options);
  const std::vector<EpochResult> plain = train(plain_model, w.tokenizer, w.features, w.train_set, w.val_set, config);
  config.length_buckets = true;
  config.out_dir = dir.path / "bucketed";
  CaptionModel bucketed_model(options);
  const std::vector<EpochResult> bucketed =
      train(bucketed_model, w.tokenizer, w.features, w.train_set, w.val_set, config);
  // The batches did differ: the bucketed order is not the plain one.
  std::vector<int64_t> lengths;
  for (const Example& e : w.train_set) lengths.push_back(static_cast<int64_t>(e.ids.size()));
  for (int epoch : {1, 2}) {
    CHECK(nn::epoch_order(w.train_set.size(), {.batch_size = 2, .seed = 5, .lengths = lengths}, epoch) !=
          nn::epoch_order(w.train_set.size(), {.batch_size = 2, .seed = 5}, epoch));
  }
  REQUIRE(plain.size() == 2);
  REQUIRE(bucketed.size() == 2);
  for (size_t e = 0; e < 2; ++e) {
    CHECK(bucketed[e].items == plain[e].items);
    CHECK(bucketed[e].train_loss == doctest::Approx(plain[e].train_loss).epsilon(1e-5));
    CHECK(bucketed[e].val_loss == doctest::Approx(plain[e].val_loss).epsilon(1e-5));
  }
  // And train() does use them: with a real learning rate the other batches take other steps, so the second epoch's
  // loss differs from the plain run's.
  config.learning_rate = 0.02f;
  config.out_dir = dir.path / "bucketed_learning";
  CaptionModel learning_bucketed(options);
  const std::vector<EpochResult> with =
      train(learning_bucketed, w.tokenizer, w.features, w.train_set, w.val_set, config);
  config.length_buckets = false;
  config.out_dir = dir.path / "plain_learning";
  CaptionModel learning_plain(options);
  const std::vector<EpochResult> without =
      train(learning_plain, w.tokenizer, w.features, w.train_set, w.val_set, config);
  CHECK(with[0].train_loss != without[0].train_loss);
}

TEST_CASE("the per-epoch cosine schedule is nn::CosineWithWarmup with the rates of the schedule it replaced") {
  // The replaced captioning::EpochCosineSchedule's rate for 1-based `epoch`, kept here as the reference.
  auto replaced = [](const TrainConfig& c, int epoch) {
    if (c.epochs <= 1) return c.learning_rate;
    const double progress = static_cast<double>(epoch - 1) / (c.epochs - 1);
    const double fraction = c.final_lr_fraction + (1.0 - c.final_lr_fraction) * 0.5 * (1.0 + std::cos(M_PI * progress));
    return static_cast<float>(c.learning_rate * fraction);
  };
  for (const auto& [lr, fraction, epochs] : std::vector<std::tuple<float, float, int>>{{1e-3f, 0.1f, 20},
                                                                                       {3e-4f, 0.01f, 7},
                                                                                       {1e-3f, 1.0f, 5},
                                                                                       {5e-4f, 0.0f, 2},
                                                                                       {1e-3f, 0.5f, 1},
                                                                                       {2e-3f, 0.05f, 30}}) {
    const TrainConfig config{.epochs = epochs, .learning_rate = lr, .final_lr_fraction = fraction};
    Tensor w = Tensor::zeros({1});
    w.set_requires_grad(true);
    nn::Adam adam({{"w", w}}, {.lr = lr});
    nn::CosineWithWarmup schedule(adam, epoch_cosine_schedule(config));
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      INFO("lr ", lr, ", fraction ", fraction, ", epoch ", epoch, "/", epochs);
      CHECK(adam.learning_rate(0) == replaced(config, epoch));  // bit for bit
      schedule.after_epoch(NAN);
    }
  }
  CHECK(test::error_of([] { epoch_cosine_schedule({.final_lr_fraction = -0.5f}); }) ==
        "train: expected final_lr_fraction ≥ 0, got -0.500000");
}

TEST_CASE("word dropout replaces about p of the input words after <start> by <unk>, never padding or targets") {
  std::vector<std::vector<int32_t>> captions;
  for (int i = 0; i < 200; ++i) captions.push_back(std::vector<int32_t>(2 + i % 7, 4 + i % 5));  // <start>=1 below
  for (auto& c : captions) c.front() = Tokenizer::kStart, c.back() = Tokenizer::kEnd;
  std::vector<const std::vector<int32_t>*> pointers;
  for (const auto& c : captions) pointers.push_back(&c);
  const TokenBatch original = make_token_batch(pointers);
  TokenBatch dropped = make_token_batch(pointers);
  nn::Generator gen(3);
  drop_words(dropped, 0.25f, gen);
  CHECK(dropped.targets.values == original.targets.values);
  const size_t t = static_cast<size_t>(original.inputs.shape[1]);
  int words = 0, replaced = 0;
  for (size_t k = 0; k < original.inputs.values.size(); ++k) {
    if (k % t == 0 || original.mask.data()[k] == 0.0f) {
      CHECK(dropped.inputs.values[k] == original.inputs.values[k]);  // <start> and padding untouched
      continue;
    }
    ++words;
    if (dropped.inputs.values[k] != original.inputs.values[k]) {
      CHECK(dropped.inputs.values[k] == Tokenizer::kUnknown);
      ++replaced;
    }
  }
  CHECK(words > 400);
  CHECK(replaced == doctest::Approx(0.25 * words).epsilon(0.15));
  TokenBatch kept = make_token_batch(pointers);
  drop_words(kept, 0.0f, gen);
  CHECK(kept.inputs.values == original.inputs.values);
}

TEST_CASE("a non-finite loss stops training with the epoch and step named") {
  World w;
  test::TempDir dir;
  CaptionModel model(w.model_options());
  for (auto& [name, t] : model.named_parameters()) {
    if (name == "output.bias") t.fill(NAN);  // as a diverged run would leave it
  }
  std::string message = test::error_of([&] {
    train(model, w.tokenizer, w.features, w.train_set, {}, {.epochs = 1, .batch_size = 2, .out_dir = dir.path});
  });
  CHECK(message.rfind("train: the loss is nan at epoch 1, step 1", 0) == 0);
}

TEST_CASE("a loss that turns non-finite mid-run keeps the last good checkpoint and names it") {
  World w;
  test::TempDir dir;
  CaptionModel model(w.model_options());
  int calls = 0;
  const int per_epoch = static_cast<int>(w.train_set.size());
  // Features go bad in epoch 2 (as an overflowing activation would make them).
  FeatureLookup poisoned = [&](const std::string& id) {
    nn::Tensor f = w.features(id);
    return ++calls > per_epoch + 1 ? nn::Tensor::full(f.shape(), INFINITY) : f;
  };
  std::string message = test::error_of([&] {
    train(model, w.tokenizer, poisoned, w.train_set, {}, {.epochs = 3, .batch_size = 2, .out_dir = dir.path});
  });
  CHECK(message.rfind("train: the gradient is not finite at epoch 2, step 1", 0) == 0);
  CHECK(message.find("(the last good checkpoint is " + (dir.path / "last.nnck").string() + ")") != std::string::npos);
  Bundle last = load_bundle(dir.path / "last.nnck");
  REQUIRE(last.find("train.epoch") != nullptr);
  CHECK(*last.find("train.epoch") == "1");
  for (const auto& [name, t] : last.model->named_parameters())
    for (float v : t.to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("a bundle whose vocabulary does not match its tokenizer is refused, naming the file") {
  World w;
  test::TempDir dir;
  CaptionModel model(w.model_options());
  save_bundle(dir.path / "m.nnck", model, w.tokenizer);
  nn::Checkpoint c = nn::read_checkpoint(dir.path / "m.nnck");
  for (auto& [key, value] : c.texts) {
    if (key == "tokenizer") value = Tokenizer::fit({"only three words"}).serialize();
  }
  nn::write_checkpoint(dir.path / "bad.nnck", c);
  CHECK(test::error_of([&] { load_bundle(dir.path / "bad.nnck"); }) ==
        (dir.path / "bad.nnck").string() + ": expected a tokenizer of " + std::to_string(w.tokenizer.vocab_size()) +
            " ids (the model's vocabulary), got 7 ids");
  CHECK(test::error_of([&] { save_bundle(dir.path / "x.nnck", model, Tokenizer::fit({"a b"})); }) ==
        (dir.path / "x.nnck").string() + ": expected a tokenizer of " + std::to_string(w.tokenizer.vocab_size()) +
            " ids (the model's), got 6");
  nn::Xception other({.width = 1.0f / 32, .middle_blocks = 0});
  nn::save_xception(dir.path / "x.nnck", other);
  CHECK(test::error_of([&] { load_bundle(dir.path / "x.nnck"); }) ==
        (dir.path / "x.nnck").string() + ": is not a caption model bundle");
}

TEST_CASE("the Flickr8k pipeline runs end to end on the shared images, then resumes with every feature cached") {
  const fs::path data = test::shared_data("flickr8k");
  if (!fs::exists(data)) {
    MESSAGE(data.string() << " is not here; skipping the run on the real Flickr8k images");
    return;
  }
  test::TempDir dir;
  std::vector<std::string> lines;
  auto log = [&](const std::string& line) { lines.push_back(line); };
  Flickr8kRunOptions o{.data_dir = data,
                       .out_dir = dir.path,
                       .random_width = 1.0f / 32,
                       .epochs = 2,
                       .batch_size = 32,
                       .limit = 20,
                       .progress = false};
  Flickr8kRunResult r = run_flickr8k(o, log);
  CHECK(r.train_images == 20);
  CHECK(r.dev_images == 21);
  CHECK(r.test_images == 13);
  CHECK(r.history.size() == 2);
  for (double b : r.bleu) CHECK((b >= 0 && b <= 1));
  CHECK(r.samples.size() == 5);
  for (const char* file : {"descriptions.txt", "features.bin", "last.nnck", "best.nnck", "loss.svg"}) {
    CHECK_MESSAGE(fs::exists(dir.path / file), file);
  }
  Bundle bundle = load_bundle(r.bundle);
  REQUIRE(bundle.find("features.extractor") != nullptr);
  CHECK(bundle.find("features.extractor")->rfind("xception random width=0.03125", 0) == 0);
  // describe's loader rebuilds the bundle's Xception from that text and captions an image file as the pipeline did
  // from its cached features.
  Describer describer(r.bundle);
  CHECK(describer.description().find("xception random width=0.03125") != std::string::npos);
  const auto& [id, text] = r.samples.front();
  CHECK(describer.describe_file(data / "images" / (id + ".jpg"), o.beam).front().text == text);

  o.epochs = 3;
  o.resume = true;
  lines.clear();
  Flickr8kRunResult resumed = run_flickr8k(o, log);
  CHECK(resumed.history.size() == 3);
  CHECK(resumed.history[1].train_loss == r.history[1].train_loss);
  CHECK(std::find(lines.begin(), lines.end(), "features: 0 computed, 54 from the cache") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "features: 54 of 54 cached") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "train: resuming at epoch 3, step 1") != lines.end());
#ifdef __linux__
  CHECK(resumed.features_peak_bytes > 0);  // VmHWM is read
  CHECK(resumed.training_peak_bytes > 0);
#endif
}
