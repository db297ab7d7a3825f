// caption: the merge caption model's training throughput (teacher forcing, Adam; tokens per second) at V ≈ 7,600
// and batch 64, and the time to decode a 20-word caption greedily and with beam 3 — beside PyTorch 1.13 running the
// same model in the same run (benchmarks/torch_caption.py).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include <captioning/generate.h>
#include <captioning/model.h>
#include <nn/nn.h>

#include "bench.h"

namespace {

std::map<std::string, double> torch_peer(int threads, int vocab, int batch) {
  return bench::run_peer(std::string("/usr/bin/python3 ") + NN_BENCHMARK_DIR + "/torch_caption.py " +
                         std::to_string(threads) + " " + std::to_string(vocab) + " " + std::to_string(batch));
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, vocab = 7579, batch = 64;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--vocab" && i + 1 < argc)
      vocab = std::atoi(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (arg == "--no-torch")
      torch = false;
    else {
      std::fprintf(stderr, "usage: caption [--threads N] [--vocab V] [--batch N] [--no-torch]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (vocab < 10 || batch < 1) {
    std::fprintf(stderr, "caption: --vocab must be ≥ 10 and --batch ≥ 1\n");
    return 2;
  }
  try {
    if (threads > 0) nn::set_num_threads(threads);
    threads = nn::num_threads();
    captioning::CaptionModel model({.vocab = vocab});
    nn::Adam adam(model.named_parameters());
    // Captions of 8–20 words, padded to the longest, as torch_caption.py builds them.
    nn::Generator gen(2);
    std::vector<int64_t> lengths(batch);
    int64_t t = 0, tokens = 0;
    for (auto& l : lengths) t = std::max<int64_t>(t, l = 8 + static_cast<int64_t>(gen.below(13)));
    std::vector<int32_t> inputs(batch * t, 0), targets(batch * t, 0);
    nn::Tensor mask = nn::Tensor::zeros({batch, t});
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t k = 0; k < lengths[i]; ++k) {
        inputs[i * t + k] = 4 + static_cast<int32_t>(gen.below(vocab - 4));
        targets[i * t + k] = 4 + static_cast<int32_t>(gen.below(vocab - 4));
        mask.data()[i * t + k] = 1.0f;
        ++tokens;
      }
    nn::Tensor features = nn::Tensor::uniform({batch, 2048}, 0, 1, gen);
    const nn::Indices in({batch, t}, inputs), out({batch, t}, targets);
    const double step = bench::min_time(
        [&] {
          nn::Tensor loss = nn::softmax_cross_entropy(model.forward(features, in), out, mask);
          adam.zero_grad();
          loss.backward();
          adam.step();
        },
        5, 2.0);

    // Decoding exactly 20 words: the end token made impossible.
    for (auto& [name, p] : model.named_parameters()) {
      if (name == "output.bias") p.data()[captioning::Tokenizer::kEnd] = -1e4f;
    }
    captioning::Tokenizer big = captioning::Tokenizer::deserialize(
        [&] {
          std::string s = "libnn-tokenizer 1 min_count=1\n";
          for (int w = 4; w < vocab; ++w) s.append("w").append(std::to_string(w)).append("\n");
          return s;
        }(),
        "benchmark");
    nn::Tensor one = nn::slice(features, 0, 0, 1);
    const double greedy = bench::min_time([&] { captioning::greedy_caption(model, big, one, 20); }, 5, 1.0);
    const double beam3 =
        bench::min_time([&] { captioning::beam_search(model, big, one, {.beam = 3, .max_length = 20}); }, 5, 1.0);

    std::map<std::string, double> peer = torch ? torch_peer(threads, vocab, batch) : std::map<std::string, double>{};
    auto get = [&](const char* key) { return peer.count(key) ? peer[key] : NAN; };
    const double ours_rate = tokens / step, torch_rate = get("tokens") / get("train_step_s");
    std::printf("merge caption model, V=%d, batch %d, %d threads; minima; ratio = ours/PyTorch speed (>1: faster)\n",
                vocab, batch, threads);
    std::printf("%-30s %12.0f %12.0f %8.2f\n", "training tokens/s", ours_rate, torch_rate, ours_rate / torch_rate);
    std::printf("%-30s %9.2f ms %9.2f ms %8.2f\n", "greedy, 20 words", greedy * 1e3, get("greedy20_s") * 1e3,
                get("greedy20_s") / greedy);
    std::printf("%-30s %9.2f ms\n", "beam 3, 20 words", beam3 * 1e3);
    std::printf("one epoch of 30,000 training captions (≈ %.0f tokens each) would take ≈ %.0f s\n",
                static_cast<double>(tokens) / batch, 30000.0 / batch * step);
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "caption: %s\n", e.what());
    return 1;
  }
  return 0;
}
