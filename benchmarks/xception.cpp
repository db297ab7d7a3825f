// xception: full-width Xception inference (random weights) at batch 1 and batch 8, one image end to end (decode,
// resize, forward), and the peak memory of xception_features — beside PyTorch 1.13 running the same network in the
// same run (benchmarks/torch_xception.py: eager, and TorchScript-frozen channels_last, its best configuration); then
// the same in bf16 (our model converted with to(nn::bf16), PyTorch's frozen model under autocast), with each one's
// ratio to our f32.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include <nn/nn.h>

#include "bench.h"

namespace {

std::map<std::string, double> torch_peer(int threads, const std::string& python) {
  return bench::run_peer(python + " " + NN_BENCHMARK_DIR + "/torch_xception.py " + std::to_string(threads));
}

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
    double ours_peak = NAN;
    if (!features_program.empty() && !model_file.empty())
      ours_peak = features_peak_mb(features_program, model_file, image);
    std::map<std::string, double> peer = torch ? torch_peer(threads, python) : std::map<std::string, double>{};
    const double peak_after = bench::fma_peak_gflops(threads);
    auto get = [&](const char* key) { return peer.count(key) ? peer[key] : NAN; };
    std::printf(
        "Xception, full width, 299x299, %d threads; times are minima; ratio = PyTorch / ours (>1: ours faster)\n",
        threads);
    std::printf("%-34s %10s %12s %12s %8s\n", "", "ours", "torch eager", "torch best", "ratio");
    std::printf("%-34s %8.1f ms %9.1f ms %9.1f ms %8.2f\n", "batch 1 forward", b1 * 1e3, get("eager_b1") * 1e3,
                get("frozen_b1") * 1e3, get("frozen_b1") / b1);
    std::printf("%-34s %6.2f img/s %12s %6.2f img/s %8.2f\n", "batch 8 throughput", 8 / b8, "", 8 / get("frozen_b8"),
                (8 / b8) / (8 / get("frozen_b8")));
    std::printf("%-34s %10s %12s %12s %8s %8s\n", "bf16", "ours", "", "torch bf16", "ratio", "vs f32");
    std::printf("%-34s %8.1f ms %12s %9.1f ms %8.2f %7.2fx\n", "batch 1 forward", bf16_b1 * 1e3, "",
                get("bf16_b1") * 1e3, get("bf16_b1") / bf16_b1, b1 / bf16_b1);
    std::printf("%-34s %6.2f img/s %12s %6.2f img/s %8.2f %7.2fx\n", "batch 8 throughput", 8 / bf16_b8, "",
                8 / get("bf16_b8"), get("bf16_b8") / bf16_b8, b8 / bf16_b8);
    std::printf("%-34s %8.1f ms\n", "one image end to end (decode+resize+forward)", e2e * 1e3);
    std::printf("%-34s %8.0f MB %12s %9.0f MB\n", "peak resident memory", ours_peak, "", get("peak_rss_mb"));
    std::printf("FP32 FMA peak: %.0f GFLOP/s before, %.0f after%s\n", peak_before, peak_after,
                peer.empty() && torch ? "; PyTorch peer not found (install python3-torch)" : "");
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "xception: %s\n", e.what());
    return 1;
  }
  return 0;
}
