// digits: a small CNN learns the UCI handwritten digits (1,797 8×8 images, values 0–16, 10 classes) with the
// public API only, as a project of one's own would: Dataset → DataLoader → Sequential → Trainer (metrics.csv,
// checkpoints) → the model saved → reloaded into a fresh model → its test accuracy. The recipe: BatchNorm after
// each convolution, ±1-pixel shifts, label smoothing, AdamW with warm-up and cosine decay, 60 epochs; every seed
// 1–10 reaches ≥ 98 % (examples/data/digits/README.md). scripts/digits_pytorch.py is the same recipe in PyTorch. The
// data: examples/data/digits/ (CC BY 4.0, E. Alpaydin; see README.md there).
#include <nn/nn.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"

namespace {

// One splitmix64 step: the hash that puts row i in the test set when splitmix64(seed + i) % 5 == 0 (about a
// fifth; scripts/digits_pytorch.py splits the same way).
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Split {
  std::vector<float> images[2], labels[2];  // [0] train, [1] test: images N×64 in [0, 1], labels N
};

// Reads digits.csv.gz (rows of 64 pixels 0–16, then the label 0–9) and splits it with `seed`.
Split read_digits(const std::filesystem::path& path, uint64_t seed) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw nn::Error(path.string() + ": cannot open the digits data");
  Split split;
  char line[1024];
  for (uint64_t row = 0; gzgets(file, line, sizeof line) != nullptr; ++row) {
    std::istringstream fields(line);
    std::vector<int> values;
    for (std::string field; std::getline(fields, field, ',');) values.push_back(std::stoi(field));
    if (values.size() != 65 || values[64] < 0 || values[64] > 9) {
      gzclose(file);
      throw nn::Error(path.string() + ": row " + std::to_string(row + 1) + ": expected 64 pixels and a label 0–9");
    }
    const int part = splitmix64(seed + row) % 5 == 0 ? 1 : 0;
    for (int i = 0; i < 64; ++i) split.images[part].push_back(static_cast<float>(values[i]) / 16.0f);
    split.labels[part].push_back(static_cast<float>(values[64]));
  }
  gzclose(file);
  return split;
}

// {images [N,8,8,1], labels [N]} of one part of the split.
nn::TensorDataset dataset(const Split& split, int part) {
  const int64_t n = static_cast<int64_t>(split.labels[part].size());
  return nn::TensorDataset(
      {nn::Tensor::from_data({n, 8, 8, 1}, split.images[part]), nn::Tensor::from_data({n}, split.labels[part])});
}

nn::Indices classes(const nn::Tensor& labels) {
  std::vector<int32_t> ids;
  for (float v : labels.to_vector()) ids.push_back(static_cast<int32_t>(v));
  return nn::Indices(labels.shape(), ids);
}

// What a run trains with: the recipe's knobs, each a command-line option (scripts/digits_pytorch.py has the same
// defaults).
struct Recipe {
  int epochs = 60;
  float lr = 3e-3f;              // AdamW's peak rate: one epoch of linear warm-up, then a half cosine down to 0
  float weight_decay = 1e-4f;    // AdamW's decoupled weight decay
  float label_smoothing = 0.1f;  // of the cross-entropy's target
  float dropout = 0.3f;          // before each dense layer
  int shift = 1;                 // each training image moved by up to this many pixels in each direction
};

// Conv 3×3 'same' without bias → BatchNorm → ReLU: [N,H,W,in] → [N,H,W,out] (the BatchNorm's β is the bias).
void add_conv_block(nn::Sequential& model, int64_t in, int64_t out) {
  model.add(nn::Conv2D({.in_channels = in, .filters = out, .padding = nn::Padding::same, .use_bias = false}));
  model.add(nn::BatchNorm({.channels = out}));
  model.add(nn::ReLU());
}

// conv block 32 → max-pool → conv block 64 → max-pool → flatten → dropout → dense 64 → dropout → dense 10:
// [N,8,8,1] → [N,8,8,32] → [N,4,4,32] → [N,4,4,64] → [N,2,2,64] → [N,256] → [N,64] → [N,10] logits.
std::shared_ptr<nn::Sequential> make_model(const Recipe& recipe, std::vector<std::shared_ptr<nn::Dropout>>& dropouts) {
  dropouts = {std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = recipe.dropout}),
              std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = recipe.dropout})};
  auto model = std::make_shared<nn::Sequential>();
  add_conv_block(*model, 1, 32);
  model->add(nn::MaxPool2D());
  add_conv_block(*model, 32, 64);
  model->add(nn::MaxPool2D());
  model->add(nn::Flatten());
  model->add(dropouts[0]);
  model->add(nn::Dense({.in = 256, .out = 64, .activation = nn::Activation::relu}));
  model->add(dropouts[1]);
  model->add(nn::Dense({.in = 64, .out = 10}));
  return model;
}

// The light augmentation: images [B,8,8,1], each moved by its own (dy, dx) in [−shift, shift]², zeros coming in.
// The draws come from the step's seed (Trainer: from the run's seed, the epoch and the step) and the image's place
// in the batch, so they are the same in every run of the same seed, whatever thread prepared the batch.
nn::Tensor shifted(const nn::Tensor& images, int shift, uint64_t seed) {
  const int64_t n = images.dim(0), side = 8, span = 2 * shift + 1;
  const std::vector<float> in = images.to_vector();
  std::vector<float> out(in.size(), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t draw = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(i)));
    const int64_t dy = static_cast<int64_t>(draw % span) - shift, dx = static_cast<int64_t>(draw / span % span) - shift;
    for (int64_t y = 0; y < side; ++y) {
      for (int64_t x = 0; x < side; ++x) {
        const int64_t from_y = y - dy, from_x = x - dx;
        if (from_y >= 0 && from_y < side && from_x >= 0 && from_x < side)
          out[(i * side + y) * side + x] = in[(i * side + from_y) * side + from_x];
      }
    }
  }
  return nn::Tensor::from_data(images.shape(), out);
}

// The share of the images of `loader` whose largest logit is their label, in eval mode.
double accuracy(nn::Layer& model, const nn::DataLoader<nn::TensorExample>& loader) {
  nn::NoGradGuard no_grad;
  model.eval();
  double right = 0, total = 0;
  auto epoch = loader.epoch(1);
  while (auto batch = epoch.next()) {
    right += nn::sum(nn::eq(nn::argmax(model((*batch)[0]), 1), (*batch)[1])).item();
    total += static_cast<double>((*batch)[1].numel());
  }
  return right / total;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path data_path = "examples/data/digits/digits.csv.gz", out_dir = "digits_run";
  Recipe recipe;
  unsigned long seed = 1, split_seed = 2026;
  int threads = 1;
  bool overwrite = false;
  cli::Parser cli("digits",
                  "Trains a small CNN on the UCI handwritten digits and prints its test accuracy;\n"
                  "writes metrics.csv, loss.svg, last.nnck and the model digits.nnck into --out.");
  cli.text("--data", "FILE", data_path, "digits.csv.gz (64 pixels 0–16 and the label per row)");
  cli.text("--out", "DIR", out_dir, "where the run's files go");
  cli.whole("--epochs", "N", recipe.epochs, 1, 1000, "training epochs");
  cli.whole("--seed", "S", seed, 0, 2147483647, "the seed of the initial weights, the order, dropout and shifts");
  cli.whole("--split-seed", "S", split_seed, 0, 2147483647, "the seed of the train/test split");
  cli.number("--lr", "RATE", recipe.lr, {.low = 0, .high = 1, .low_open = true}, "AdamW's peak learning rate");
  cli.number("--weight-decay", "W", recipe.weight_decay, {.low = 0, .high = 1}, "AdamW's decoupled weight decay");
  cli.number("--label-smoothing", "E", recipe.label_smoothing, {.low = 0, .high = 1},
             "the cross-entropy's label smoothing");
  cli.number("--dropout", "P", recipe.dropout, {.low = 0, .high = 1, .high_open = true}, "before each dense layer");
  cli.whole("--shift", "PIXELS", recipe.shift, 0, 3, "training images moved by up to this many pixels");
  cli.whole("--threads", "N", threads, 1, 256,
            "threads of the kernels (a model this small runs fastest on one: a parallel region costs more than it "
            "saves)");
  cli.flag("--overwrite", overwrite, "start afresh over an earlier run in --out");
  if (auto status = cli.parse(argc, argv)) return *status;
  try {
    nn::set_num_threads(threads);
    const Split split = read_digits(data_path, split_seed);
    const nn::TensorDataset train_data = dataset(split, 0), test_data = dataset(split, 1);
    nn::DataLoader<nn::TensorExample> train(train_data, {.batch_size = 32, .seed = seed});
    nn::DataLoader<nn::TensorExample> test(test_data, {.batch_size = 256, .shuffle = false});
    std::printf("digits: %zu training and %zu test images\n", train_data.size(), test_data.size());

    nn::manual_seed(seed);
    std::vector<std::shared_ptr<nn::Dropout>> dropouts;
    std::shared_ptr<nn::Sequential> model = make_model(recipe, dropouts);
    nn::AdamW adamw(model->named_parameters(), {.lr = recipe.lr, .weight_decay = recipe.weight_decay});
    const int64_t steps = static_cast<int64_t>(train.steps());
    nn::CosineWithWarmup schedule(adamw, {.warmup = steps, .total = recipe.epochs * steps});
    // No validation set: nothing is chosen during training, the last epoch's weights are the ones measured, once,
    // on the test set.
    nn::Trainer trainer(*model, adamw,
                        {.epochs = recipe.epochs,
                         .out_dir = out_dir,
                         .overwrite = overwrite,
                         .seed = seed,
                         .progress = false,
                         .name = "digits",
                         .reseed =
                             [&](uint64_t s) {
                               for (auto& d : dropouts) d->reseed(s++);
                             }},
                        &schedule);
    trainer.callbacks().after_epoch = [](const nn::EpochResult& r) {
      std::printf("epoch %3d  training loss %.4f  %.1f s\n", r.epoch, r.train_loss, r.seconds);
    };
    const nn::ClassificationLossOptions smoothing{.label_smoothing = recipe.label_smoothing};
    auto loss = [&](std::vector<nn::Tensor>& batch, const nn::Step& step) {
      const nn::Tensor images =
          step.training && recipe.shift > 0 ? shifted(batch[0], recipe.shift, step.seed) : batch[0];
      return nn::BatchLoss{nn::cross_entropy((*model)(images), classes(batch[1]), smoothing),
                           static_cast<double>(batch[0].dim(0))};
    };
    const auto start = std::chrono::steady_clock::now();
    std::vector<nn::EpochResult> history = trainer.fit(train, loss);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("digits: %d epochs in %.1f s on %d thread%s, last training loss %.4f (%s)\n", recipe.epochs, seconds,
                threads, threads == 1 ? "" : "s", history.back().train_loss, (out_dir / "metrics.csv").c_str());

    // The model saved, then loaded into a freshly built one, which must score exactly as the trained one.
    const double trained = accuracy(*model, test);
    nn::save(out_dir / "digits.nnck", *model);
    std::vector<std::shared_ptr<nn::Dropout>> unused;
    std::shared_ptr<nn::Sequential> reloaded = make_model(recipe, unused);
    nn::load(out_dir / "digits.nnck", *reloaded);
    const double measured = accuracy(*reloaded, test);
    if (measured != trained) throw nn::Error("the reloaded model scores differently from the trained one");
    std::printf("digits: test accuracy %.2f %% (model reloaded from %s)\n", 100 * measured,
                (out_dir / "digits.nnck").c_str());
  } catch (const std::exception& e) {
    return cli.error(e);
  }
  return 0;
}
