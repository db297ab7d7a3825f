// train_shapes: generates the synthetic shapes world (if needed) and trains a compact Xception-style captioner on
// it end to end, then reports BLEU and the share of test images whose caption names every object correctly.
#include <captioning/bleu.h>
#include <captioning/captioner.h>
#include <captioning/describer.h>
#include <captioning/evaluation.h>
#include <captioning/flickr8k.h>
#include <captioning/generate.h>
#include <captioning/stop_signal.h>
#include <captioning/synthetic.h>
#include <captioning/trainer.h>
#include <nn/autograd/autograd.h>
#include <nn/core/error.h>
#include <nn/ops/ops.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"
#include "parallel_job.h"

namespace fs = std::filesystem;
using namespace captioning;

namespace {
void report_quality(const SplitEvaluation& e) {
  std::printf("test: BLEU-1 %.3f BLEU-2 %.3f BLEU-3 %.3f BLEU-4 %.3f; every object named correctly in %zu/%zu images\n",
              e.bleu[0], e.bleu[1], e.bleu[2], e.bleu[3], e.all_objects_named, e.images);
  std::printf("test: fully right by objects in the image: one %zu/%zu, two %zu/%zu, three %zu/%zu\n",
              e.all_named_with[1], e.images_with[1], e.all_named_with[2], e.images_with[2], e.all_named_with[3],
              e.images_with[3]);
}

// The images of `ids`, preprocessed, stacked (N, S, S, 3).
nn::Tensor load_images(const fs::path& dir, const std::vector<std::string>& ids, int64_t size) {
  std::vector<nn::Tensor> rows;
  for (const std::string& id : ids) rows.push_back(load_captioner_input(dir / (id + ".jpg"), size));
  return nn::concat(rows, 0);
}
}  // namespace

int main(int argc, char** argv) {
  ParallelJob job(argc, argv);  // under mpirun -np N: N processes, each on its share of every batch
  fs::path data, out;
  int epochs = 12, batch = 32, images = 1500, beam = 1;
  fs::path evaluate;
  uint64_t seed = 1;
  float word_dropout = 0.0f;
  float final_lr_fraction = 1.0f;  // a constant rate: the cosine schedule generalised worse here (0.743 vs 0.796)
  bool resume = false, overwrite = false, no_progress = false, sync_batch_norm = false;
  CaptionerOptions options;
  std::string command_line = "train_shapes";  // recorded in every bundle
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  cli::Parser cli(
      "train_shapes",
      "Writes the synthetic shapes world to DIR (unless it is there), trains a compact Xception-style\n"
      "captioner end to end, and writes OUT/best.nnck; then (or with --evaluate, instead) reports BLEU and\n"
      "the share of fully right captions on DIR's test split.");
  cli.synopsis("--data DIR --out DIR [options]");
  cli.synopsis("--data DIR --evaluate BUNDLE [--beam K]");
  cli.text("--data", "DIR", data, "the synthetic world (written there first if it is missing)");
  cli.text("--out", "DIR", out, "the output folder");
  cli.text("--evaluate", "BUNDLE", evaluate, "only evaluate this bundle on the test split");
  cli.whole("--epochs", "N", epochs, 1, 10000, "passes over the training images");
  cli.whole("--batch-size", "N", batch, 1, 65536, "images per step");
  cli.whole("--images", "N", images, 10, 1000000, "training images of a new world, dev and test a tenth as many each");
  cli.whole("--seed", "S", seed, 0, 2147483647, "the random seed of the world and of the weights");
  cli.number("--width", "W", options.cnn_width, {.low = 0, .high = 4, .low_open = true}, "the CNN's width multiplier");
  cli.whole("--middle-blocks", "M", options.cnn_middle_blocks, 0, 64, "the CNN's middle blocks");
  cli.number("--final-lr-fraction", "F", final_lr_fraction, {.low = 0, .high = 1, .low_open = true},
             "the last epoch's learning rate as a fraction of the first, 1 for constant");
  cli.whole("--beam", "K", beam, 1, kMaxBeam, "beam width for the test-split evaluation, 1 is greedy");
  cli.number("--word-dropout", "P", word_dropout, {.low = 0, .high = 1, .high_open = true},
             "the probability that a training input word is replaced by <unk>");
  cli.number("--dropout", "P", options.dropout, {.low = 0, .high = 1, .high_open = true}, "the decoder's dropout rate");
  cli.flag("--sync-batch-norm", sync_batch_norm,
           "under mpirun: BatchNorm statistics of the global batch (the same steps as one process), not per process");
  cli.choice<bool>("--attention", {{"on", true}, {"off", false}}, options.attention,
                   "the decoder attends over the CNN's feature map");
  cli.flag("--resume", resume, "continue from the output folder's last.nnck");
  cli.flag("--overwrite", overwrite, "start afresh over a run already in the output folder");
  cli.flag("--no-progress", no_progress, "no progress line");
  if (auto status = cli.parse(argc, argv)) return *status;
  if (data.empty()) return cli.usage_error("missing --data DIR");
  if (out.empty() && evaluate.empty()) return cli.usage_error("missing --out DIR (or --evaluate BUNDLE)");
  if (!evaluate.empty()) {
    try {
      Describer model(evaluate);
      report_quality(evaluate_split(model, data, Split::test, beam));
      return 0;
    } catch (const std::exception& e) {
      return cli.error(e);
    }
  }
  try {
    nn::check_new_run(out, resume, overwrite, "train");  // before generating and loading the images
    if (job.rank() == 0 && !fs::exists(data / "text" / "Flickr8k.token.txt")) {
      write_synthetic_flickr8k(data, {.train = images, .dev = images / 10, .test = images / 10, .seed = seed});
    }
    job.barrier();  // the other processes read the world rank 0 wrote
    Flickr8kPaths paths = find_flickr8k(data);
    ReadReport report;
    Descriptions d = clean_descriptions(read_token_file(paths.token_file, report), report);
    std::vector<std::string> train_ids = read_split(paths.train_split, d, report);
    std::vector<std::string> dev_ids = read_split(paths.dev_split, d, report);
    std::vector<std::string> test_ids = read_split(paths.test_split, d, report);
    std::vector<std::string> captions;
    for (const auto& id : train_ids) captions.insert(captions.end(), d[id].begin(), d[id].end());
    Tokenizer tokenizer = Tokenizer::fit(captions);
    options.vocab = tokenizer.vocab_size();
    options.seed = seed;
    // Example image ids are rows of the split's image tensor (N, S, S, 3).
    auto examples = [&](const std::vector<std::string>& ids) {
      std::vector<Example> out_examples;
      for (size_t i = 0; i < ids.size(); ++i)
        for (const std::string& c : d[ids[i]]) out_examples.push_back({std::to_string(i), tokenizer.encode(c)});
      return out_examples;
    };
    nn::Tensor train_images = load_images(paths.images, train_ids, options.image_size);
    nn::Tensor dev_images = load_images(paths.images, dev_ids, options.image_size);
    std::fprintf(stderr, "%zu training images, %zu words\n", train_ids.size(), captions.size());
    ImageCaptioner model(options);
    TrainConfig config{.epochs = epochs,
                       .batch_size = batch,
                       .learning_rate = 2e-3f,
                       .final_lr_fraction = final_lr_fraction,
                       .seed = seed,
                       .word_dropout = word_dropout,
                       .out_dir = out,
                       .resume = resume,
                       .overwrite = overwrite,
                       .progress = !no_progress,
                       .bundle_texts = {{"trained.command", command_line}},
                       .parallel = job.parallel(),
                       .sync_batch_norm = sync_batch_norm};
    // The validation set's ids are told apart from the training set's by a leading 'd'.
    auto image = [&](const std::string& id) {
      const bool dev = id[0] == 'd';
      const int64_t row = std::stoll(dev ? id.substr(1) : id);
      return nn::slice(dev ? dev_images : train_images, 0, row, row + 1);
    };
    std::vector<Example> dev_examples = examples(dev_ids);
    for (Example& e : dev_examples) e.image = "d" + e.image;
    install_stop_signals();  // Ctrl-C: save mid-epoch and stop; --resume continues exactly there
    train(model, tokenizer, image, examples(train_ids), dev_examples, config);
    if (job.rank() == 0) {
      Describer best(out / "best.nnck");
      report_quality(evaluate_split(best, data, Split::test, beam));
    }
  } catch (const TrainingStopped& e) {
    cli.error(e);
    return job.end(130);
  } catch (const std::exception& e) {
    return job.end(cli.error(e));
  }
  return 0;
}
