// One rank of the data-parallel tests (test_distributed.cpp runs it under mpirun): trains the caption model of
// support/distributed_world.h with captioning::train on nn::distributed::DataParallel, then rank 0 writes the
// epochs' losses and the final weights.
//
//   distributed_worker --train-images N --val-images N --batch B --epochs E [--out DIR] [--resume]
//                      [--history FILE] [--weights FILE] [--delay-ms MS] [--pid-dir DIR] [--fail-on-rank R]
//                      [--bucket-bytes B] [--buckets FILE]
//
// --delay-ms sleeps that long per example looked up (a slower run, for the test that kills a rank);
// --pid-dir writes pid-RANK there at the start (for that test to find the rank to kill); --fail-on-rank R throws
// on rank R alone before training (as a bad file would), while the others wait for it in the first broadcast;
// --bucket-bytes sets the gradient buckets' size, and --buckets has rank 0 write "BUCKETS STARTED" of the last step:
// the buckets, and how many of them were started during backward.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <captioning/trainer.h>
#include <nn/distributed/distributed.h>
#include <nn/io/checkpoint.h>

#include "support/distributed_world.h"

int main(int argc, char** argv) {
  try {
    nn::distributed::Context mpi(argc, argv);
    int train_images = 64, val_images = 0, delay_ms = 0, fail_on_rank = -1;
    int64_t bucket_bytes = nn::distributed::ReducerOptions{}.bucket_bytes;
    std::string history_file, weights_file, pid_dir, buckets_file;
    captioning::TrainConfig config{.epochs = 1, .batch_size = 64, .learning_rate = 0.01f, .seed = 5};
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      auto value = [&] {
        if (i + 1 >= argc) nn::fail("distributed_worker", flag + " needs a value");
        return std::string(argv[++i]);
      };
      if (flag == "--train-images")
        train_images = std::stoi(value());
      else if (flag == "--val-images")
        val_images = std::stoi(value());
      else if (flag == "--batch")
        config.batch_size = std::stoi(value());
      else if (flag == "--epochs")
        config.epochs = std::stoi(value());
      else if (flag == "--out")
        config.out_dir = value();
      else if (flag == "--resume")
        config.resume = true;
      else if (flag == "--history")
        history_file = value();
      else if (flag == "--weights")
        weights_file = value();
      else if (flag == "--delay-ms")
        delay_ms = std::stoi(value());
      else if (flag == "--pid-dir")
        pid_dir = value();
      else if (flag == "--fail-on-rank")
        fail_on_rank = std::stoi(value());
      else if (flag == "--bucket-bytes")
        bucket_bytes = std::stoll(value());
      else if (flag == "--buckets")
        buckets_file = value();
      else
        nn::fail("distributed_worker", "unknown flag " + flag);
    }
    if (!pid_dir.empty()) std::ofstream(pid_dir + "/pid-" + std::to_string(mpi.rank())) << ::getpid() << "\n";
    test::DistributedWorld world(train_images, val_images);
    if (delay_ms > 0) {
      world.features = [inner = world.features, delay_ms](const std::string& id) {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        return inner(id);
      };
    }
    nn::distributed::DataParallel parallel({.bucket_bytes = bucket_bytes});
    config.parallel = &parallel;
    captioning::CaptionModel model(world.model_options());
    if (mpi.rank() == fail_on_rank)
      nn::fail("distributed_worker", "a bad file on rank " + std::to_string(fail_on_rank));
    auto history = captioning::train(model, world.tokenizer, world.features, world.train_set, world.val_set, config);
    if (mpi.rank() == 0) {
      if (!history_file.empty()) {
        std::FILE* out = std::fopen(history_file.c_str(), "w");
        for (const auto& r : history) std::fprintf(out, "%.9g %.9g\n", r.train_loss, r.val_loss);
        std::fclose(out);
      }
      if (!weights_file.empty()) nn::save(weights_file, model);
      if (!buckets_file.empty()) {
        std::ofstream(buckets_file) << parallel.reducer().buckets() << " "
                                    << parallel.reducer().started_during_backward() << "\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distributed_worker: %s\n", e.what());
    return 1;
  }
}
