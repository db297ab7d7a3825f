// train_flickr8k: the Flickr8k captioner end to end — clean, tokenize, Xception features (cached), train, BLEU on
// the test split — writing the bundle that describe loads.
#include <captioning/flickr8k_pipeline.h>
#include <captioning/generate.h>
#include <captioning/stop_signal.h>
#include <captioning/trainer.h>
#include <nn/core/dtype.h>
#include <nn/core/error.h>

#include <cstdio>
#include <string>

#include "cli.h"
#include "parallel_job.h"

int main(int argc, char** argv) {
  ParallelJob job(argc, argv);  // under mpirun -np N: features sharded, each process on its share of every batch
  captioning::Flickr8kRunOptions o;
  bool no_progress = false;
  std::string precision = "f32";
  cli::Parser cli(
      "train_flickr8k",
      "Trains the Flickr8k captioner end to end and reports BLEU on the test split. DIR is the Flickr8k\n"
      "data (Flickr8k_text/ and Flickr8k_Dataset/ as the official zips unpack, or text/ and images/).\n"
      "WEIGHTS comes from weights/download.sh and convert_keras_weights. Writes to the output folder\n"
      "descriptions.txt, features.bin, last.nnck, best.nnck, model.nnck (the bundle describe loads: best.nnck\n"
      "without the optimiser state), metrics.csv, metrics.jsonl,\n"
      "loss.svg and train.log.");
  cli.synopsis("--data DIR --out DIR (--xception WEIGHTS.nnck | --random-xception-width W) [options]");
  cli.text("--data", "DIR", o.data_dir, "the Flickr8k data");
  cli.text("--out", "DIR", o.out_dir, "the output folder");
  cli.text("--xception", "WEIGHTS.nnck", o.xception, "the converted Keras Xception weights");
  cli.number("--random-xception-width", "W", o.random_width, {.low = 0, .high = 4, .low_open = true},
             "a randomly initialised Xception of this width instead, for small-data runs");
  cli.whole("--epochs", "N", o.epochs, 1, 10000, "passes over the training images");
  cli.whole("--batch-size", "N", o.batch_size, 1, 65536, "captions per step");
  cli.whole("--beam", "K", o.beam, 1, captioning::kMaxBeam, "beam width for the test-split BLEU, 1 is greedy");
  cli.whole("--limit", "N", o.limit, 0, 1000000, "at most this many training images, 0 for all");
  cli.whole("--min-count", "N", o.min_count, 1, 1000000, "words seen fewer times are left out of the vocabulary");
  cli.whole("--seed", "S", o.seed, 0, 2147483647, "the random seed");
  cli.flag("--resume", o.resume, "continue from the output folder's last.nnck");
  cli.flag("--overwrite", o.overwrite, "start afresh over a run already in the output folder");
  cli.flag("--no-progress", no_progress, "no progress bar");
  bool no_buckets = false;
  cli.flag("--no-length-buckets", no_buckets,
           "batches of the shuffled captions as they come, not grouped by length (more padding, slower)");
  cli.text("--precision", "f32|bf16", precision,
           "the dtype of the Xception feature pass (training stays f32; the feature cache is labelled with it)");
  if (auto status = cli.parse(argc, argv)) return *status;
  try {
    o.precision = nn::parse_dtype(precision, "--precision");
  } catch (const nn::Error& e) {
    return cli.usage_error(e.what());
  }
  if (o.data_dir.empty()) return cli.usage_error("missing --data DIR");
  if (o.out_dir.empty()) return cli.usage_error("missing --out DIR");
  o.progress = !no_progress;
  o.parallel = job.parallel();
  o.length_buckets = !no_buckets;
  // Ctrl-C: extraction stops after the batch being saved, training saves mid-epoch; --resume continues exactly there.
  captioning::install_stop_signals();
  try {
    captioning::Flickr8kRunResult r =
        captioning::run_flickr8k(o, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    if (job.rank() != 0) return 0;  // rank 0 scored the test split and reports
    std::printf("BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f  (test split, %zu images, beam %d)\n", r.bleu[0],
                r.bleu[1], r.bleu[2], r.bleu[3], r.test_images, o.beam);
    std::printf("%s\n", captioning::published_bleu_line().c_str());
    for (const auto& [id, caption] : r.samples) std::printf("%s: %s\n", id.c_str(), caption.c_str());
    std::printf("model bundle: %s\n", r.bundle.c_str());
    if (r.features_peak_bytes > 0 || r.training_peak_bytes > 0)
      std::printf("peak memory: features %zu MB, training %zu MB\n", r.features_peak_bytes >> 20,
                  r.training_peak_bytes >> 20);
  } catch (const captioning::TrainingStopped& e) {
    cli.error(e);
    return job.end(130);
  } catch (const std::exception& e) {
    return job.end(cli.error(e));
  }
  return 0;
}
