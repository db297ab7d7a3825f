// xception: full-width Xception inference (random weights) at batch 1 and batch 8, one image end to end (decode,
// resize, forward), and the peak memory of xception_features — beside PyTorch 1.13 running the same network in the
// same run (benchmarks/torch_xception.py: eager, and TorchScript-frozen channels_last, its best configuration, as
// installed and with its allocator tuned — bench.h — our ratio taken against the faster); then
// the same in bf16 (our model converted with to(nn::bf16), PyTorch's frozen model under autocast), with each one's
// ratio to our f32; then our inference form (Xception::folded: each BatchNorm folded into its convolution, as the
// frozen TorchScript folds them) in f32 and bf16 against the same peers. Our GFLOP/s are printed against the FMA peak
// measured before and after.
#include <cstdio>
#include <cstdlib>
#include <map>
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

// The peak resident memory (MB) xception_features reports for itself (--peak-memory): measured by the child, since
// a forked child's usage also counts the pages it shared with this process before exec.
double features_peak_mb(const std::string& program, const std::string& model, const std::string& image) {
  std::string command = program + " --peak-memory --weights " + model + " " + image + " 2>&1 >/dev/null";
  double mb = NAN;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "peak resident memory: %lf MB", &mb);
    ::pclose(pipe);
  }
  return mb;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::string image = std::string(NN_BENCHMARK_DIR) + "/../../shared/data/photos/skimage/chelsea.png";
  std::string python = "/usr/bin/python3", features_program, model_file;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--image" && i + 1 < argc)
      image = argv[++i];
    else if (arg == "--no-torch")
      torch = false;
    else if (arg == "--features-program" && i + 1 < argc)
      features_program = argv[++i];
    else if (arg == "--model" && i + 1 < argc)
      model_file = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: xception [--threads N] [--image PHOTO] [--no-torch] [--features-program PATH --model "
                   "FULL_WIDTH.nnck]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  try {
    if (threads > 0) nn::set_num_threads(threads);
    threads = nn::num_threads();
    const double peak_before = bench::fma_peak_gflops(threads);
    nn::manual_seed(1);
    nn::Xception model;
    model.eval();
    nn::NoGradGuard no_grad;
    nn::Generator gen(2);
    nn::Tensor x1 = nn::Tensor::uniform({1, 299, 299, 3}, -1, 1, gen);
    nn::Tensor x8 = nn::Tensor::uniform({8, 299, 299, 3}, -1, 1, gen);
    const double b1 = bench::min_time([&] { model(x1); }, 5, 3.0);
    const double b8 = bench::min_time([&] { model(x8); }, 3, 3.0);
    const double e2e = bench::min_time([&] { model(nn::load_xception_input(image)); }, 5, 3.0);
    std::shared_ptr<nn::Xception> low = nn::clone(model);  // the same weights rounded to bf16; f32 input
    low->to(nn::bf16);
    const double bf16_b1 = bench::min_time([&] { (*low)(x1); }, 5, 3.0);
    const double bf16_b8 = bench::min_time([&] { (*low)(x8); }, 3, 3.0);
    low.reset();
    // The inference form (Xception::folded: each BatchNorm folded into its convolution), as PyTorch's frozen
    // TorchScript folds them; f32, then the same folded weights rounded to bf16.
    std::shared_ptr<nn::Xception> folded = model.folded();
    const double folded_b1 = bench::min_time([&] { (*folded)(x1); }, 5, 3.0);
    const double folded_b8 = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
    folded->to(nn::bf16);
    const double folded_bf16_b1 = bench::min_time([&] { (*folded)(x1); }, 5, 3.0);
    const double folded_bf16_b8 = bench::min_time([&] { (*folded)(x8); }, 3, 3.0);
    folded.reset();
    double ours_peak = NAN;
    if (!features_program.empty() && !model_file.empty())
      ours_peak = features_peak_mb(features_program, model_file, image);
    bench::PeerRuns peer = torch ? torch_peer(threads, python) : bench::PeerRuns{};
    const double peak_after = bench::fma_peak_gflops(threads), peak = std::max(peak_before, peak_after);
    auto machine = [&](double seconds_per_image) {
      const double gflops = kXceptionFlops / seconds_per_image / 1e9;
      char text[64];
      std::snprintf(text, sizeof text, "%5.0f GFLOP/s %4s", gflops, bench::percent_of(gflops, peak).c_str());
      return std::string(text);
    };
    std::printf(
        "Xception, full width, 299x299, %d threads; times are minima; ratio = the faster PyTorch / ours (>1: ours "
        "faster)\n",
        threads);
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
    std::printf("%-34s %8.1f ms\n", "one image end to end (decode+resize+forward)", e2e * 1e3);
    std::printf("%-22s %9.0f MB %12s %9.0f MB %9.0f MB\n", "peak resident memory", ours_peak, "",
                peer.as_installed("peak_rss_mb"), peer.at_best("peak_rss_mb"));
    std::printf("PyTorch tuned: the best of %s; here %s\n", bench::environment_names(false).c_str(),
                peer.tuned_names({"frozen_b1", "frozen_b8", "bf16_b1", "bf16_b8"}).c_str());
    std::printf("FP32 FMA peak: %.0f GFLOP/s before, %.0f after%s\n", peak_before, peak_after,
                peer.empty() && torch ? "; PyTorch peer not found (install python3-torch)" : "");
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "xception: %s\n", e.what());
    return 1;
  }
  return 0;
}
