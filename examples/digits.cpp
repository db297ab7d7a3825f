// digits: a small CNN learns the UCI handwritten digits (1,797 8×8 images, values 0–16, 10 classes) with the
// public API only, as a project of one's own would: Dataset → DataLoader → Sequential → Trainer (metrics.csv,
// checkpoints) → the model saved → reloaded into a fresh model → its test accuracy. scripts/digits_pytorch.py is
// the same model in PyTorch. The data: examples/data/digits/ (CC BY 4.0, E. Alpaydin; see README.md there).
#include <nn/data/dataloader.h>
#include <nn/layers/flatten.h>
#include <nn/losses.h>
#include <nn/nn.h>
#include <nn/train/trainer.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
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

// conv 3×3 32 → max-pool → conv 3×3 64 → max-pool → flatten → dropout → dense 64 → dropout → dense 10:
// [N,8,8,1] → [N,8,8,32] → [N,4,4,32] → [N,4,4,64] → [N,2,2,64] → [N,256] → [N,64] → [N,10] logits.
std::shared_ptr<nn::Sequential> make_model(std::vector<std::shared_ptr<nn::Dropout>>& dropouts) {
  dropouts = {std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.4f}),
              std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.4f})};
  const auto relu = nn::Activation::relu;
  return std::make_shared<nn::Sequential>(
      nn::Conv2D({.in_channels = 1, .filters = 32, .padding = nn::Padding::same, .activation = relu}), nn::MaxPool2D(),
      nn::Conv2D({.in_channels = 32, .filters = 64, .padding = nn::Padding::same, .activation = relu}), nn::MaxPool2D(),
      nn::Flatten(), dropouts[0], nn::Dense({.in = 256, .out = 64, .activation = relu}), dropouts[1],
      nn::Dense({.in = 64, .out = 10}));
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
  int epochs = 20;
  unsigned long seed = 3, split_seed = 2026;
  int threads = 1;
  bool overwrite = false;
  cli::Parser cli("digits",
                  "Trains a small CNN on the UCI handwritten digits and prints its test accuracy;\n"
                  "writes metrics.csv, loss.svg, checkpoints and the model digits.nnck into --out.");
  cli.text("--data", "FILE", data_path, "digits.csv.gz (64 pixels 0–16 and the label per row)");
  cli.text("--out", "DIR", out_dir, "where the run's files go");
  cli.whole("--epochs", "N", epochs, 1, 1000, "training epochs");
  cli.whole("--seed", "S", seed, 0, 2147483647, "the seed of the initial weights, the order and dropout");
  cli.whole("--split-seed", "S", split_seed, 0, 2147483647, "the seed of the train/test split");
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
    std::shared_ptr<nn::Sequential> model = make_model(dropouts);
    nn::Adam adam(model->named_parameters(),
                  {.lr = 2e-3f, .epsilon = 1e-8f, .epsilon_placement = nn::AdamEpsilon::pytorch});
    // The test set is only watched (test loss per epoch in metrics.csv): nothing is chosen by it, the final weights
    // are the ones measured.
    nn::Trainer trainer(*model, adam,
                        {.epochs = epochs,
                         .out_dir = out_dir,
                         .overwrite = overwrite,
                         .seed = seed,
                         .progress = false,
                         .name = "digits",
                         .reseed = [&](uint64_t s) {
                           for (auto& d : dropouts) d->reseed(s++);
                         }});
    trainer.callbacks().after_epoch = [](const nn::EpochResult& r) {
      std::printf("epoch %3d  training loss %.4f  test loss %.4f  %.1f s\n", r.epoch, r.train_loss, r.val_loss,
                  r.seconds);
    };
    std::function<nn::BatchLoss(std::vector<nn::Tensor>&, const nn::Step&)> loss = [&](std::vector<nn::Tensor>& batch,
                                                                                       const nn::Step&) {
      return nn::BatchLoss{nn::cross_entropy((*model)(batch[0]), classes(batch[1])),
                           static_cast<double>(batch[0].dim(0))};
    };
    const auto start = std::chrono::steady_clock::now();
    std::vector<nn::EpochResult> history = trainer.fit(train, &test, loss);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("digits: %d epochs in %.1f s, last training loss %.4f, test loss %.4f (%s)\n", epochs, seconds,
                history.back().train_loss, history.back().val_loss, (out_dir / "metrics.csv").c_str());

    // The model saved, then loaded into a freshly built one, which must score exactly as the trained one.
    const double trained = accuracy(*model, test);
    nn::save(out_dir / "digits.nnck", *model);
    std::vector<std::shared_ptr<nn::Dropout>> unused;
    std::shared_ptr<nn::Sequential> reloaded = make_model(unused);
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
