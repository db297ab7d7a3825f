// caption: the merge caption model's training throughput (teacher forcing, Adam; tokens per second) at V ≈ 7,600
// and batch 64, and the time to decode a 20-word caption greedily and with beams of 3 (and 8, ours alone) — beside
// PyTorch 1.13 running the same model in the same run (benchmarks/torch_caption.py), as installed and tuned (bench.h);
// and how far ours is from the machine: training's GFLOP/s against the measured FMA peak, decoding's bytes of weights
// read per second. Ours and PyTorch's measurements alternate in rounds (--rounds, bench.h), each figure the best over
// them. With --captions DIR (Flickr8k's text), also one epoch over its 30,000 training captions with and without length
// buckets.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <captioning/captioner.h>
#include <captioning/decode_cache.h>
#include <captioning/flickr8k.h>
#include <captioning/generate.h>
#include <captioning/model.h>
#include <captioning/output_screen_kernels.h>
#include <captioning/trainer.h>
#include <nn/nn.h>

#include "bench.h"

namespace {

// torch_caption.py as installed and tuned (passive OpenMP waiting tried too: it can help the LSTM's small steps).
bench::PeerRuns torch_peer(int threads, int vocab, int batch) {
  return bench::run_peer_tuned(std::string("/usr/bin/python3 ") + NN_BENCHMARK_DIR + "/torch_caption.py " +
                                   std::to_string(threads) + " " + std::to_string(vocab) + " " + std::to_string(batch),
                               true);
}

// Floating-point operations of one training step (forward, and a backward of twice its cost): per caption position,
// padded ones included, the LSTM's x·W and h·R (8·U·(E+U)); per real word (the head skips padding) the merge Dense
// (2·U²) and the output Dense (2·U·V); per image the image Dense (2·F·U). E = U = 256, F = 2048 (CaptionModel's
// defaults).
double training_flops(int64_t batch, int64_t steps, int64_t words, int64_t vocab) {
  const double u = 256, f = 2048;
  return 3.0 * (static_cast<double>(batch * steps) * 8 * u * (u + u) +
                static_cast<double>(words) * (2 * u * u + 2 * u * vocab) + batch * 2 * f * u);
}

// Bytes of weights one decoding step reads: the LSTM's kernels and bias, the merge and output Dense layers (f32).
// A step is bound by these reads (the activations are a few KB); with beams batched as rows, read once per step.
double step_weight_bytes(int64_t vocab) {
  const double u = 256;
  return 4.0 * (2 * u * 4 * u + 4 * u + u * u + u + u * vocab + vocab);
}

// The bytes a step from a DecodeCache reads for one row (decode_cache.h): a row of the gate table, R, the merge layer,
// the output screen's int8 matrix (V padded to 64 columns) and its six numbers per word, and the f32 columns it
// computed again (`exact` a row on average).
double cached_step_bytes(int64_t vocab, double exact) {
  const double u = 256, padded = 64.0 * std::ceil(vocab / 64.0);
  return 4.0 * (4 * u + u * 4 * u + u * u + u) + u * padded + 4.0 * 6 * vocab + 4.0 * u * exact;
}

// One teacher-forcing step as captioning::train takes it: the head on the real positions `rows` only.
void train_step(captioning::CaptionModel& model, nn::Adam& adam, const nn::Tensor& features, const nn::Indices& ids,
                const nn::Indices& rows, const nn::Indices& targets) {
  nn::Tensor loss = nn::softmax_cross_entropy(model.forward(features, ids, rows), targets);
  adam.zero_grad();
  loss.backward();
  adam.step();
}

// train_shapes's default model end to end (captioning::ImageCaptioner: a compact Xception, width 0.125 and two
// middle blocks on 96×96 images, into the merge decoder), one training step at batch 32 with captions of 6–12 words
// over a vocabulary of `vocab` — beside torch_shapes.py, the same model and step in PyTorch (eager channels_last),
// as installed and tuned. Returns (ours, the faster peer's) seconds per step, and the step's words.
struct ShapesStep {
  double ours = NAN;
  bench::PeerRuns peer;  // "shapes_step_s"; empty without the peer
  int64_t words = 0;
  double installed() const { return peer.as_installed("shapes_step_s"); }
  double tuned() const { return peer.at_best("shapes_step_s"); }
  double faster_peer() const { return peer.faster("shapes_step_s"); }
  // Another round's: each time's lower value kept.
  void add_round(const ShapesStep& round) {
    ours = std::fmin(ours, round.ours);
    peer.add_round(round.peer);
    words = round.words;
  }
};
ShapesStep shapes_step(int threads, int vocab, bool torch) {
  const int64_t batch = 32, size = 96;
  captioning::ImageCaptioner model({.vocab = vocab});
  nn::Adam adam(model.named_parameters());
  nn::Generator gen(2);
  std::vector<int32_t> ids, rows, targets;
  std::vector<int64_t> lengths(batch);
  int64_t t = 0;
  for (auto& l : lengths) t = std::max<int64_t>(t, l = 6 + static_cast<int64_t>(gen.below(7)));
  ids.assign(batch * t, 0);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t k = 0; k < lengths[i]; ++k) {
      ids[i * t + k] = 4 + static_cast<int32_t>(gen.below(vocab - 4));
      rows.push_back(static_cast<int32_t>(i * t + k));
      targets.push_back(4 + static_cast<int32_t>(gen.below(vocab - 4)));
    }
  ShapesStep r;
  r.words = static_cast<int64_t>(rows.size());
  const nn::Tensor images = nn::Tensor::uniform({batch, size, size, 3}, -1, 1, gen);
  const nn::Indices in({batch, t}, ids), real({r.words}, rows), out({r.words}, targets);
  r.ours = bench::min_time(
      [&] {
        nn::Tensor loss = nn::softmax_cross_entropy(model.forward(images, in, real), out);
        adam.zero_grad();
        loss.backward();
        adam.step();
      },
      3, 3.0);
  if (torch) {
    r.peer = bench::run_peer_tuned(std::string("/usr/bin/python3 ") + NN_BENCHMARK_DIR + "/torch_shapes.py " +
                                       std::to_string(threads) + " " + std::to_string(vocab) + " 32 96 0.125 2",
                                   true);
  }
  return r;
}

// One epoch over Flickr8k's real training captions (30,000: 6,000 images × 5), batches of `batch` from the shuffled
// order as it comes or grouped by length (captioning::TrainConfig::length_buckets): the padded positions, and the
// epoch's time estimated from every k-th batch (`samples` of them, spread over the epoch) timed once each.
void epoch_with_and_without_buckets(const std::string& data_dir, int64_t batch, int samples) {
  captioning::ReadReport report;
  const captioning::Flickr8kPaths paths = captioning::find_flickr8k(data_dir);
  const captioning::Descriptions clean =
      captioning::clean_descriptions(captioning::read_token_file(paths.token_file, report), report);
  const std::vector<std::string> train_ids = captioning::read_split(paths.train_split, clean, report);
  std::vector<std::string> texts;
  for (const std::string& id : train_ids)
    for (const std::string& c : clean.at(id)) texts.push_back(c);
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit(texts);
  const std::vector<captioning::Example> examples = captioning::make_examples(train_ids, clean, tokenizer);
  std::vector<int64_t> lengths;
  for (const auto& e : examples) lengths.push_back(static_cast<int64_t>(e.ids.size()));
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size()});
  nn::Adam adam(model.named_parameters());
  nn::Generator gen(3);
  const nn::Tensor features = nn::Tensor::uniform({batch, 2048}, 0, 1, gen);  // the words set the cost, not these
  std::printf("one epoch of Flickr8k's %zu training captions (V=%d, batch %lld), %d of its batches timed:\n",
              examples.size(), tokenizer.vocab_size(), static_cast<long long>(batch), samples);
  std::printf("%-28s %14s %10s %12s\n", "", "padded/real", "epoch", "tokens/s");
  for (bool bucketed : {false, true}) {
    nn::DataLoaderOptions options{.batch_size = batch, .seed = 1};
    if (bucketed) options.lengths = lengths;
    const std::vector<size_t> order = nn::epoch_order(examples.size(), options, 1);
    const size_t steps = nn::steps_per_epoch(examples.size(), options);
    int64_t padded = 0, real = 0;
    std::vector<captioning::TokenBatch> all(steps);
    for (size_t s = 0; s < steps; ++s) {
      std::vector<const std::vector<int32_t>*> captions;
      for (size_t k = s * batch; k < std::min(order.size(), (s + 1) * batch); ++k)
        captions.push_back(&examples[order[k]].ids);
      all[s] = captioning::make_token_batch(captions);
      padded += static_cast<int64_t>(all[s].inputs.values.size());
      real += all[s].tokens;
    }
    double seconds = 0;
    int64_t timed_tokens = 0;
    const size_t stride = std::max<size_t>(1, steps / static_cast<size_t>(samples));
    for (size_t s = 0; s < steps; s += stride) {
      const captioning::TokenBatch& b = all[s];
      const nn::Tensor f = nn::slice(features, 0, 0, b.inputs.shape[0]);
      const double t = bench::min_time([&] { train_step(model, adam, f, b.inputs, b.rows, b.row_targets); }, 1, 0.0);
      seconds += t;
      timed_tokens += b.tokens;
    }
    const double rate = timed_tokens / seconds;
    std::printf("%-28s %14.2f %9.0f s %12.0f\n", bucketed ? "length buckets" : "shuffled order as it comes",
                static_cast<double>(padded) / real, real / rate, rate);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, vocab = 7579, batch = 64, samples = 24, rounds = bench::kDefaultRounds;
  bool torch = true;
  std::string captions_dir;  // Flickr8k's text: also an epoch over its training captions, with and without buckets
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--vocab" && i + 1 < argc)
      vocab = std::atoi(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (arg == "--no-torch")
      torch = false;
    else if (arg == "--captions" && i + 1 < argc)
      captions_dir = argv[++i];
    else if (arg == "--samples" && i + 1 < argc)
      samples = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: caption [--threads N] [--vocab V] [--batch N] [--rounds N] [--no-torch] [--captions "
                   "FLICKR8K_DIR [--samples N]]\n"
                   "  --rounds N   rounds of our measurements and PyTorch's, alternated; each figure the best of "
                   "them (default %d)\n",
                   bench::kDefaultRounds);
      return arg == "--help" ? 0 : 2;
    }
  }
  if (vocab < 10 || batch < 1 || samples < 1 || rounds < 1) {
    std::fprintf(stderr, "caption: --vocab must be ≥ 10, --batch, --samples and --rounds ≥ 1\n");
    return 2;
  }
  try {
    if (threads > 0) nn::set_num_threads(threads);
    threads = nn::num_threads();
    const double peak_before = bench::fma_peak_gflops(threads);
    captioning::CaptionModel model({.vocab = vocab});
    // Captions of 8–20 words, padded to the longest, as torch_caption.py builds them.
    nn::Generator gen(2);
    std::vector<int64_t> lengths(batch);
    int64_t t = 0, tokens = 0;
    for (auto& l : lengths) t = std::max<int64_t>(t, l = 8 + static_cast<int64_t>(gen.below(13)));
    std::vector<int32_t> inputs(batch * t, 0), rows, row_targets;
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t k = 0; k < lengths[i]; ++k) {
        inputs[i * t + k] = 4 + static_cast<int32_t>(gen.below(vocab - 4));
        rows.push_back(static_cast<int32_t>(i * t + k));
        row_targets.push_back(4 + static_cast<int32_t>(gen.below(vocab - 4)));
        ++tokens;
      }
    nn::Tensor features = nn::Tensor::uniform({batch, 2048}, 0, 1, gen);
    const nn::Indices in({batch, t}, inputs), real({tokens}, rows), out({tokens}, row_targets);
    std::vector<nn::Tensor> initial;  // each round starts from these and a new Adam
    {
      nn::NoGradGuard no_grad;  // copies, not recorded
      for (const auto& [name, p] : model.named_parameters()) initial.push_back(p.clone());
    }
    // The initial weights; for decoding exactly 20 words (the screen's share of f32 columns depends on the weights)
    // with the end token made impossible.
    auto restore = [&](bool for_decoding) {
      size_t index = 0;
      for (auto& [name, p] : model.named_parameters()) {
        p.copy_from(initial[index++]);
        if (for_decoding && name == "output.bias") p.data()[captioning::Tokenizer::kEnd] = -1e4f;
      }
    };
    captioning::Tokenizer big = captioning::Tokenizer::deserialize(
        [&] {
          std::string s = "libnn-tokenizer 1 min_count=1\n";
          for (int w = 4; w < vocab; ++w) s.append("w").append(std::to_string(w)).append("\n");
          return s;
        }(),
        "benchmark");
    nn::Tensor one = nn::slice(features, 0, 0, 1);
    // The searches from a DecodeCache give the same words (checked) and read a third of the bytes per word.
    restore(true);
    const captioning::DecodeCache cache(model);  // of the decoding weights, which each round restores
    const captioning::Caption plain_caption = captioning::greedy_caption(model, big, one, 20),
                              cached_caption = captioning::greedy_caption(model, big, one, 20, &cache);
    const double log_prob_gap = std::fabs(plain_caption.log_prob - cached_caption.log_prob);
    const bool same_words =
        plain_caption.ids == cached_caption.ids &&
        captioning::beam_search(model, big, one, {.beam = 3, .max_length = 20})[0].ids ==
            captioning::beam_search(model, big, one, {.beam = 3, .max_length = 20, .cache = &cache})[0].ids;

    // Rounds: ours (training, the searches), then PyTorch's, then train_shapes's model both ways; each figure the
    // best over the rounds, and the headline ratios of each round kept to show how far the rounds agree.
    bench::Figures ours;
    bench::PeerRuns peer;
    ShapesStep shapes;
    int64_t exact_columns = 0, rows_screened = 0;  // the cached greedy searches' f32 columns and rows screened
    std::vector<double> training_ratios, greedy_ratios, shapes_ratios;
    auto peer_rate = [&](const bench::Figures& m) {
      return bench::PeerRuns::get(m, "tokens") / bench::PeerRuns::get(m, "train_step_s");
    };
    auto faster_peer_rate = [&](const bench::PeerRuns& p) {
      return std::fmax(peer_rate(p.installed), peer_rate(p.tuned));
    };
    for (int round = 0; round < rounds; ++round) {
      bench::Figures mine;
      restore(false);
      nn::Adam adam(model.named_parameters());
      mine["train_step_s"] = bench::min_time([&] { train_step(model, adam, features, in, real, out); }, 5, 2.0);
      restore(true);
      mine["greedy_s"] = bench::min_time([&] { captioning::greedy_caption(model, big, one, 20); }, 5, 1.0);
      mine["beam3_s"] =
          bench::min_time([&] { captioning::beam_search(model, big, one, {.beam = 3, .max_length = 20}); }, 5, 1.0);
      const int64_t exact_before = cache.screen().exact_columns(), rows_before = cache.screen().rows_screened();
      mine["greedy_cached_s"] =
          bench::min_time([&] { captioning::greedy_caption(model, big, one, 20, &cache); }, 5, 1.0);
      exact_columns += cache.screen().exact_columns() - exact_before;
      rows_screened += cache.screen().rows_screened() - rows_before;
      mine["beam3_cached_s"] = bench::min_time(
          [&] { captioning::beam_search(model, big, one, {.beam = 3, .max_length = 20, .cache = &cache}); }, 5, 1.0);
      // A wide beam: its 8 rows of bytes a step go to AMX tiles where the processor has AMX-INT8 (output_screen.h).
      mine["beam8_cached_s"] = bench::min_time(
          [&] { captioning::beam_search(model, big, one, {.beam = 8, .max_length = 20, .cache = &cache}); }, 5, 1.0);
      bench::keep_lower(ours, mine);
      if (torch) {
        const bench::PeerRuns this_round = torch_peer(threads, vocab, batch);
        training_ratios.push_back(tokens / mine["train_step_s"] / faster_peer_rate(this_round));
        greedy_ratios.push_back(this_round.faster("greedy20_s") / mine["greedy_cached_s"]);
        peer.add_round(this_round);
      }
      const ShapesStep shapes_round = shapes_step(threads, 40, torch);
      shapes_ratios.push_back(shapes_round.faster_peer() / shapes_round.ours);
      shapes.add_round(shapes_round);
    }
    const double step = ours["train_step_s"], greedy = ours["greedy_s"], beam3 = ours["beam3_s"],
                 greedy_cached = ours["greedy_cached_s"], beam3_cached = ours["beam3_cached_s"];
    const double exact_per_row = static_cast<double>(exact_columns) / static_cast<double>(rows_screened);

    const double peak_after = bench::fma_peak_gflops(threads);
    const double ours_rate = tokens / step, installed_rate = peer_rate(peer.installed),
                 tuned_rate = peer_rate(peer.tuned);
    const double train_gflops = training_flops(batch, t, tokens, vocab) / step / 1e9,
                 peak = std::max(peak_before, peak_after);
    const double greedy_gbs = 20 * step_weight_bytes(vocab) / greedy / 1e9;
    const double beam_gbs = 20 * step_weight_bytes(vocab) / beam3 / 1e9;
    std::printf(
        "merge caption model, V=%d, batch %d, %d threads; minima over %d round%s%s; ratio = ours / the faster "
        "PyTorch (>1: ours faster)\n",
        vocab, batch, threads, rounds, rounds == 1 ? "" : "s", torch ? " (ours, then PyTorch's, alternated)" : "");
    std::printf("%-22s %12s %12s %12s %7s   %s\n", "", "ours", "torch inst.", "torch tuned", "ratio",
                "ours against the machine");
    std::printf("%-22s %12.0f %12.0f %12.0f %7.2f   %.0f GFLOP/s, %s of the FMA peak\n", "training tokens/s", ours_rate,
                installed_rate, tuned_rate, ours_rate / std::fmax(installed_rate, tuned_rate), train_gflops,
                bench::percent_of(train_gflops, peak).c_str());
    std::printf("%-22s %9.2f ms %9.2f ms %9.2f ms %7.2f   %.1f GB/s of weights read\n", "greedy, 20 words",
                greedy * 1e3, peer.as_installed("greedy20_s") * 1e3, peer.at_best("greedy20_s") * 1e3,
                peer.faster("greedy20_s") / greedy, greedy_gbs);
    std::printf("%-22s %9.2f ms %12s %12s %7s   %.1f GB/s of weights read; %.2fx greedy's time\n", "beam 3, 20 words",
                beam3 * 1e3, "-", "-", "", beam_gbs, beam3 / greedy);
    std::printf("%-22s %9.2f ms %9.2f ms %9.2f ms %7.2f   ", "greedy, DecodeCache", greedy_cached * 1e3,
                peer.as_installed("greedy20_s") * 1e3, peer.at_best("greedy20_s") * 1e3,
                peer.faster("greedy20_s") / greedy_cached);
    if (cache.screens_output()) {
      std::printf("%.1f GB/s read (%.2f MB a word, %.1f f32 columns a row)\n",
                  20 * cached_step_bytes(vocab, exact_per_row) / greedy_cached / 1e9,
                  cached_step_bytes(vocab, exact_per_row) / 1e6, exact_per_row);
    } else {
      std::printf(
          "gate table only: the screen's products would run on plain loops at this level (NN_ISA), the output layer is "
          "computed in f32\n");
    }
    std::printf(
        "%-22s %9.2f ms %12s %12s %7s   %.2fx greedy's time with the cache; the same words: %s, greedy's "
        "log-probability %.1e nats away%s\n",
        "beam 3, DecodeCache", beam3_cached * 1e3, "-", "-", "", beam3_cached / greedy_cached,
        same_words ? "yes" : "NO", log_prob_gap, cache.screens_output() ? "" : "; gate table only");
    std::printf("%-22s %9.2f ms %12s %12s %7s   %.2fx greedy's time with the cache; the screen's products on %s\n",
                "beam 8, DecodeCache", ours["beam8_cached_s"] * 1e3, "-", "-", "",
                ours["beam8_cached_s"] / greedy_cached,
                captioning::screen_products_name(captioning::screen_products_kind(8)));
    std::printf("PyTorch tuned: the best of %s; here %s\n", bench::environment_names(true).c_str(),
                peer.tuned_names({"train_step_s", "greedy20_s"}).c_str());
    std::printf("FP32 FMA peak, %d threads: %.0f GFLOP/s before, %.0f after%s\n", threads, peak_before, peak_after,
                peer.empty() && torch ? "; PyTorch peer not found (install python3-torch)" : "");
    std::printf("one epoch of 30,000 training captions (≈ %.0f tokens each) would take ≈ %.0f s\n",
                static_cast<double>(tokens) / batch, 30000.0 / batch * step);
    const double peer_step = shapes.faster_peer();
    std::printf(
        "train_shapes's model end to end (compact Xception 0.125 / 2 middle blocks, 96 px, batch 32, V=40), "
        "one step of %lld words:\n",
        static_cast<long long>(shapes.words));
    std::printf(
        "%-22s %9.1f ms %9.1f ms %9.1f ms %7.2f   an epoch of its 6,000 captions (188 steps) ≈ %.0f s, "
        "PyTorch %.0f s (%s)\n",
        "training step", shapes.ours * 1e3, shapes.installed() * 1e3, shapes.tuned() * 1e3, peer_step / shapes.ours,
        188 * shapes.ours, 188 * peer_step, shapes.peer.tuned_names({"shapes_step_s"}).c_str());
    if (torch && !peer.empty()) {
      std::printf("each round's ratio: training %s, greedy with the cache %s, train_shapes's step %s\n",
                  bench::per_round(training_ratios).c_str(), bench::per_round(greedy_ratios).c_str(),
                  bench::per_round(shapes_ratios).c_str());
    }
    if (!captions_dir.empty()) epoch_with_and_without_buckets(captions_dir, batch, samples);
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "caption: %s\n", e.what());
    return 1;
  }
  return 0;
}
