// xception: full-width Xception inference (random weights) at batch 1 and batch 8, one image end to end (decode,
// resize, forward), and the peak memory of xception_features — beside PyTorch 1.13 running the same network in the
// same run (benchmarks/torch_xception.py: eager, and TorchScript-frozen channels_last, its best configuration, as
// installed and with its allocator tuned — bench.h — our ratio taken against the faster); then
// the same in bf16 (our model converted with to(nn::bf16), PyTorch's frozen model under autocast), with each one's
// ratio to our f32; then our inference form (Xception::folded: each BatchNorm folded into its convolution, as the
// frozen TorchScript folds them) in f32 and bf16 against the same peers. Our GFLOP/s are printed against the FMA peak
// measured before and after. Ours and PyTorch's measurements alternate in rounds (--rounds, bench.h), each figure the
// best over them. With --folder DIR, also a folder of photos end to end (xception_features, decoding a batch ahead on
// a thread) against PyTorch + PIL (benchmarks/torch_folder.py).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <nn/nn.h>

#include "bench.h"

namespace {

// torch_xception.py as installed and tuned (bench.h; the allocators only: passive waiting is for the LSTM).
bench::PeerRuns torch_peer(int threads, const std::string& python) {
  return bench::run_peer_tuned(python + " " + NN_BENCHMARK_DIR + "/torch_xception.py " + std::to_string(threads),
                               false);
}

// Floating-point operations of one 299×299 forward pass: 8.36 G multiply-adds (DESIGN.md), two operations each.
constexpr double kXceptionFlops = 2 * 8.36e9;

// The peak resident memory (MB) xception_features reports for itself (--peak-memory) describing one image with
// `model` (without one: a randomly initialised full-width Xception, the same size): measured by the child, since a
// forked child's usage also counts the pages it shared with this process before exec.
double features_peak_mb(const std::string& program, const std::string& model, const std::string& image) {
  const std::string weights = model.empty() ? " --random-width 1" : " --weights '" + model + "'";
  std::string command = "'" + program + "' --peak-memory" + weights + " '" + image + "' 2>&1 >/dev/null";
  double mb = NAN;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "peak resident memory: %lf MB", &mb);
    ::pclose(pipe);
  }
  return mb;
}

// The first `count` JPEG files of `dir`, in name order.
std::vector<std::string> first_jpegs(const std::string& dir, size_t count) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".jpg") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  if (files.size() > count) files.resize(count);
  return files;
}

// A folder of photos described end to end by xception_features (full width, random weights, decoding on its loader
// thread a batch ahead): the seconds for all files, from its own --rate line (the model's loading left out, as the
// peer leaves its tracing out); NaN when it did not run.
double folder_seconds(const std::string& program, const std::vector<std::string>& files, int batch,
                      const std::string& precision, int threads) {
  std::string command = "NN_NUM_THREADS=" + std::to_string(threads) + " '" + program + "'" +
                        " --random-width 1 --rate --batch " + std::to_string(batch) + " --precision " + precision;
  for (const std::string& f : files) command += " '" + f + "'";
  command += " 2>&1 >/dev/null";
  double seconds = NAN;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char line[256];
    size_t images = 0;
    while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "described %zu images in %lf s", &images, &seconds);
    ::pclose(pipe);
    if (images != files.size()) seconds = NAN;
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::string image = std::string(NN_BENCHMARK_DIR) + "/../../shared/data/photos/skimage/chelsea.png";
  std::string python = "/usr/bin/python3", features_program, model_file, folder;
  int folder_images = 64, rounds = bench::kDefaultRounds;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--image" && i + 1 < argc)
      image = argv[++i];
    else if (arg == "--no-torch")
      torch = false;
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--features-program" && i + 1 < argc)
      features_program = argv[++i];
    else if (arg == "--model" && i + 1 < argc)
      model_file = argv[++i];
    else if (arg == "--folder" && i + 1 < argc)
      folder = argv[++i];
    else if (arg == "--folder-images" && i + 1 < argc)
      folder_images = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr,
                   "usage: xception [--threads N] [--image PHOTO] [--rounds N] [--no-torch] [--features-program PATH] "
                   "[--model FULL_WIDTH.nnck] [--folder DIR [--folder-images N]]\n"
                   "  --rounds N              rounds of our measurements and PyTorch's, alternated; each figure the "
                   "best of them (default %d)\n"
                   "  --features-program PATH xception_features, for the peak memory and --folder (default: the one "
                   "built beside this program, ../examples/xception_features)\n"
                   "  --model FULL_WIDTH.nnck the model it loads for the peak memory (default: random weights)\n"
                   "  --folder DIR            also describe the first N (--folder-images, default 64) JPEGs of DIR "
                   "end to end, beside PyTorch + PIL\n",
                   bench::kDefaultRounds);
      return arg == "--help" ? 0 : 2;
    }
  }
  // xception_features for the peak memory (and --folder): by default the one built beside this benchmark.
  if (features_program.empty()) {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    features_program =
        ((error ? std::filesystem::path(argv[0]) : self).parent_path() / ".." / "examples" / "xception_features")
            .string();
  }
  try {
    if (threads > 0) nn::set_num_threads(threads);
    threads = nn::num_threads();
    const double peak_before = bench::fma_peak_gflops(threads);
    nn::manual_seed(1);
    nn::Xception model;
    model.eval();
    std::optional<nn::NoGradGuard> no_grad(std::in_place);  // off for the training step only
    nn::Generator gen(2);
    nn::Tensor x1 = nn::Tensor::uniform({1, 299, 299, 3}, -1, 1, gen);
    nn::Tensor x8 = nn::Tensor::uniform({8, 299, 299, 3}, -1, 1, gen);
    // One round of ours: each figure in seconds.
    auto measure_ours = [&] {
      bench::Figures f;
      f["b1"] = bench::min_time([&] { model(x1); }, 5, 3.0);
      f["b8"] = bench::min_time([&] { model(x8); }, 3, 3.0);
      f["e2e"] = bench::min_time([&] { model(nn::load_xception_input(image)); }, 5, 3.0);
      std::shared_ptr<nn::Xception> low = nn::clone(model);  // the same weights rounded to bf16; f32 input
      low->to(nn::bf16);
      f["bf16_b1"] = bench::min_time([&] { (*low)(x1); }, 5, 3.0);
      f["bf16_b8"] = bench::min_time([&] { (*low)(x8); }, 3, 3.0);
      low.reset();
      // The inference form (Xception::folded: each BatchNorm folded into its convolution), as PyTorch's frozen
      // TorchScript folds them; f32, then the same folded weights rounded to bf16.
      std::shared_ptr<nn::Xception> folded = model.folded();
      f["folded_b1"] = bench::min_time([&] { (*folded)(x1); }, 5, 3.0);
      f["folded_b8"] = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
      // Batch 8 the other way too: each layer parallel within instead of a worker per thread taking chunks (the
      // default for f32), and in bf16 the other way round (Xception::set_batch_parallel).
      folded->set_batch_parallel(false);
      f["within_b8"] = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
      folded->to(nn::bf16);
      f["folded_bf16_b1"] = bench::min_time([&] { (*folded)(x1); }, 5, 3.0);
      f["folded_bf16_b8"] = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
      folded->set_batch_parallel(true);
      f["workers_bf16_b8"] = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
      folded.reset();
      // A training step as end-to-end training takes it: training mode (batch statistics), forward and backward of
      // the pooled features' sum at batch 8 — on a copy, whose moving statistics the steps update (the next round
      // measures the same model).
      std::shared_ptr<nn::Xception> trainee = nn::clone(model);
      trainee->train();
      no_grad.reset();
      f["train_b8"] = bench::min_time(
          [&] {
            for (auto& [name, p] : trainee->named_parameters()) p.zero_grad();
            nn::sum((*trainee)(x8)).backward();
          },
          3, 3.0);
      no_grad.emplace();
      return f;
    };
    // Rounds: ours, then PyTorch's; each figure the best over the rounds, and the headline ratios of each round.
    bench::Figures ours;
    bench::PeerRuns peer;
    std::vector<double> b1_ratios, b8_ratios, training_ratios;
    for (int round = 0; round < rounds; ++round) {
      const bench::Figures mine = measure_ours();
      bench::keep_lower(ours, mine);
      if (!torch) continue;
      const bench::PeerRuns this_round = torch_peer(threads, python);
      b1_ratios.push_back(this_round.faster("frozen_b1") / mine.at("folded_b1"));
      b8_ratios.push_back(this_round.faster("frozen_b8") / mine.at("folded_b8"));
      training_ratios.push_back(this_round.faster("train_b8") / mine.at("train_b8"));
      peer.add_round(this_round);
    }
    const double b1 = ours["b1"], b8 = ours["b8"], e2e = ours["e2e"], bf16_b1 = ours["bf16_b1"],
                 bf16_b8 = ours["bf16_b8"], folded_b1 = ours["folded_b1"], folded_b8 = ours["folded_b8"],
                 within_b8 = ours["within_b8"], folded_bf16_b1 = ours["folded_bf16_b1"],
                 folded_bf16_b8 = ours["folded_bf16_b8"], workers_bf16_b8 = ours["workers_bf16_b8"],
                 train_b8 = ours["train_b8"];
    const double ours_peak = features_peak_mb(features_program, model_file, image);
    const double peak_after = bench::fma_peak_gflops(threads), peak = std::max(peak_before, peak_after);
    auto machine = [&](double seconds_per_image) {
      const double gflops = kXceptionFlops / seconds_per_image / 1e9;
      char text[64];
      std::snprintf(text, sizeof text, "%5.0f GFLOP/s %4s", gflops, bench::percent_of(gflops, peak).c_str());
      return std::string(text);
    };
    std::printf(
        "Xception, full width, 299x299, %d threads; times are minima over %d round%s%s; ratio = the faster PyTorch / "
        "ours (>1: ours faster)\n",
        threads, rounds, rounds == 1 ? "" : "s", torch ? " (ours, then PyTorch's, alternated)" : "");
    std::printf("%-22s %12s %12s %12s %12s %7s   %s\n", "", "ours", "torch eager", "best, inst.", "best, tuned",
                "ratio", "ours: rate, of FMA peak");
    std::printf("%-22s %9.1f ms %9.1f ms %9.1f ms %9.1f ms %7.2f   %s\n", "batch 1 forward", b1 * 1e3,
                peer.as_installed("eager_b1") * 1e3, peer.as_installed("frozen_b1") * 1e3,
                peer.at_best("frozen_b1") * 1e3, peer.faster("frozen_b1") / b1, machine(b1).c_str());
    std::printf("%-22s %6.2f img/s %12s %6.2f img/s %6.2f img/s %7.2f   %s\n", "batch 8 throughput", 8 / b8, "",
                8 / peer.as_installed("frozen_b8"), 8 / peer.at_best("frozen_b8"), peer.faster("frozen_b8") / b8,
                machine(b8 / 8).c_str());
    std::printf("%-22s %12s %12s %12s %12s %7s %7s\n", "bf16", "ours", "", "torch, inst.", "torch, tuned", "ratio",
                "vs f32");
    std::printf("%-22s %9.1f ms %12s %9.1f ms %9.1f ms %7.2f %6.2fx\n", "batch 1 forward", bf16_b1 * 1e3, "",
                peer.as_installed("bf16_b1") * 1e3, peer.at_best("bf16_b1") * 1e3, peer.faster("bf16_b1") / bf16_b1,
                b1 / bf16_b1);
    std::printf("%-22s %6.2f img/s %12s %6.2f img/s %6.2f img/s %7.2f %6.2fx\n", "batch 8 throughput", 8 / bf16_b8, "",
                8 / peer.as_installed("bf16_b8"), 8 / peer.at_best("bf16_b8"), peer.faster("bf16_b8") / bf16_b8,
                b8 / bf16_b8);
    std::printf("%-22s %12s %12s %12s %12s %7s %7s\n", "folded BN, f32", "ours", "", "best, inst.", "best, tuned",
                "ratio", "");
    std::printf("%-22s %9.1f ms %12s %9.1f ms %9.1f ms %7.2f   %s\n", "batch 1 forward", folded_b1 * 1e3, "",
                peer.as_installed("frozen_b1") * 1e3, peer.at_best("frozen_b1") * 1e3,
                peer.faster("frozen_b1") / folded_b1, machine(folded_b1).c_str());
    std::printf("%-22s %6.2f img/s %12s %6.2f img/s %6.2f img/s %7.2f   %s\n", "batch 8 throughput", 8 / folded_b8, "",
                8 / peer.as_installed("frozen_b8"), 8 / peer.at_best("frozen_b8"), peer.faster("frozen_b8") / folded_b8,
                machine(folded_b8 / 8).c_str());
    std::printf("%-22s %12s %12s %12s %12s %7s %7s\n", "folded BN, bf16", "ours", "", "torch, inst.", "torch, tuned",
                "ratio", "vs f32");
    std::printf("%-22s %9.1f ms %12s %9.1f ms %9.1f ms %7.2f %6.2fx\n", "batch 1 forward", folded_bf16_b1 * 1e3, "",
                peer.as_installed("bf16_b1") * 1e3, peer.at_best("bf16_b1") * 1e3,
                peer.faster("bf16_b1") / folded_bf16_b1, folded_b1 / folded_bf16_b1);
    std::printf("%-22s %6.2f img/s %12s %6.2f img/s %6.2f img/s %7.2f %6.2fx\n", "batch 8 throughput",
                8 / folded_bf16_b8, "", 8 / peer.as_installed("bf16_b8"), 8 / peer.at_best("bf16_b8"),
                peer.faster("bf16_b8") / folded_bf16_b8, folded_b8 / folded_bf16_b8);
    std::printf("%-22s %12s %12s %12s %12s %7s\n", "training, f32", "ours", "", "eager, inst.", "eager, tuned",
                "ratio");
    std::printf("%-22s %9.1f ms %12s %9.1f ms %9.1f ms %7.2f   %s\n", "b8 forward+backward", train_b8 * 1e3, "",
                peer.as_installed("train_b8") * 1e3, peer.at_best("train_b8") * 1e3, peer.faster("train_b8") / train_b8,
                machine(train_b8 / 8 / 3).c_str());
    std::printf(
        "batch 8, folded, on a worker per thread / each layer parallel within: f32 %.2f (the default) / %.2f img/s, "
        "bf16 %.2f / %.2f (the default) img/s\n",
        8 / folded_b8, 8 / within_b8, 8 / workers_bf16_b8, 8 / folded_bf16_b8);
    std::printf("%-34s %8.1f ms\n", "one image end to end (decode+resize+forward)", e2e * 1e3);
    std::printf("%-22s %9.0f MB %12s %9.0f MB %9.0f MB%s\n", "peak resident memory", ours_peak, "",
                peer.as_installed("peak_rss_mb"), peer.at_best("peak_rss_mb"),
                std::isnan(ours_peak) ? ("   (ours: no figure from " + features_program + ")").c_str() : "");
    if (!folder.empty()) {
      // A folder of photos end to end, batches of 8: ours (xception_features, f32 and bf16) against PyTorch + PIL
      // (torch_folder.py, f32 frozen channels_last, decoding in a DataLoader worker or inline, the faster).
      const std::vector<std::string> files = first_jpegs(folder, static_cast<size_t>(folder_images));
      // Each the faster of two runs, as the peer reports the faster of its two passes (fmin: NaN only if both fail).
      auto ours = [&](const char* precision) {
        return std::fmin(folder_seconds(features_program, files, 8, precision, threads),
                         folder_seconds(features_program, files, 8, precision, threads));
      };
      const double ours_f32 = ours("f32"), ours_bf16 = ours("bf16");
      std::string command = python + " " + NN_BENCHMARK_DIR + "/torch_folder.py " + std::to_string(threads) + " 8";
      for (const std::string& f : files) command += " '" + f + "'";
      bench::PeerRuns folder_peer = torch ? bench::run_peer_tuned(command, false) : bench::PeerRuns{};
      const double n = static_cast<double>(files.size());
      std::printf("%zu photos of %s end to end (decode, resize, forward; batches of 8), images/s:\n", files.size(),
                  folder.c_str());
      std::printf("%-22s %6.2f img/s %12s %6.2f img/s %6.2f img/s %7.2f\n", "f32 (folded)", n / ours_f32, "",
                  n / folder_peer.as_installed("folder_s"), n / folder_peer.at_best("folder_s"),
                  folder_peer.faster("folder_s") / ours_f32);
      std::printf("%-22s %6.2f img/s %12s %12s %12s %7.2f   (against PyTorch's f32)\n", "bf16 (folded)", n / ours_bf16,
                  "", "", "", folder_peer.faster("folder_s") / ours_bf16);
      if (torch && folder_peer.empty())
        std::printf("PyTorch + PIL peer did not run (it needs Debian's python3-torch and python3-pil)\n");
    }
    if (torch && !peer.empty()) {
      std::printf("each round's ratio: folded f32 batch 1 %s, batch 8 %s, training %s\n",
                  bench::per_round(b1_ratios).c_str(), bench::per_round(b8_ratios).c_str(),
                  bench::per_round(training_ratios).c_str());
    }
    std::printf("PyTorch tuned: the best of %s; here %s\n", bench::environment_names(false).c_str(),
                peer.tuned_names({"frozen_b1", "frozen_b8", "bf16_b1", "bf16_b8", "train_b8"}).c_str());
    std::printf("FP32 FMA peak: %.0f GFLOP/s before, %.0f after%s\n", peak_before, peak_after,
                peer.empty() && torch ? "; PyTorch peer not found (install python3-torch)" : "");
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "xception: %s\n", e.what());
    return 1;
  }
  return 0;
}
