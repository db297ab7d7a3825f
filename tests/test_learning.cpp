// Behaviour: a small Embedding + LSTM + Dense model learns a toy sequence task to near-zero loss.
#include "support/check.h"

using nn::Tensor;

namespace {

// Task: read a sequence of digits 1..5 (padded with 0 to length 6) and predict, at every step, the running
// maximum so far. The answer depends on the whole prefix, so the LSTM's state has to carry it.
struct Batch {
  nn::Indices inputs, targets;
};

Batch make_batch(nn::Generator& gen, int n, int t) {
  std::vector<int32_t> in(n * t, 0), out(n * t, 0);
  for (int i = 0; i < n; ++i) {
    int length = 2 + static_cast<int>(gen.below(t - 1));
    int running = 0;
    for (int s = 0; s < length; ++s) {
      int digit = 1 + static_cast<int>(gen.below(5));
      running = std::max(running, digit);
      in[i * t + s] = digit;
      out[i * t + s] = running;
    }
  }
  return {nn::Indices({n, t}, in), nn::Indices({n, t}, out)};
}

}  // namespace

TEST_CASE("Embedding + masked LSTM + Dense learns a running maximum to near-zero loss") {
  nn::manual_seed(11);
  nn::Embedding embed({.vocab = 6, .dim = 8, .mask_zero = true});
  nn::LSTM lstm({.input_size = 8, .units = 16, .return_sequences = true});
  nn::Dense head({.in = 16, .out = 6});
  // The optimiser keys its state by parameter name, so parameters gathered from separate modules get a prefix each
  // (what a parent module's register_module would give them).
  nn::NamedTensors params;
  for (auto [prefix, m] : std::initializer_list<std::pair<const char*, nn::Module*>>{
           {"embed.", &embed}, {"lstm.", &lstm}, {"head.", &head}}) {
    for (auto& [name, p] : m->named_parameters()) params.emplace_back(prefix + name, p);
  }
  nn::Adam adam(params, {.lr = 0.02f});
  nn::Generator gen(3);
  float first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    Batch b = make_batch(gen, 32, 6);
    Tensor mask = embed.mask(b.inputs);
    Tensor hidden = lstm.forward(embed(b.inputs), mask).outputs;
    Tensor loss = nn::softmax_cross_entropy(head(hidden), b.targets, mask);
    adam.zero_grad();
    loss.backward();
    adam.step();
    (step == 0 ? first : last) = loss.item();
  }
  INFO("loss went from " << first << " to " << last);
  CHECK(first > 1.0f);
  CHECK(last < 0.02f);

  // Held-out sequences are answered exactly.
  nn::NoGradGuard no_grad;
  Batch test = make_batch(gen, 64, 6);
  Tensor mask = embed.mask(test.inputs);
  Tensor logits = head(lstm.forward(embed(test.inputs), mask).outputs);
  int wrong = 0;
  for (int p = 0; p < 64 * 6; ++p) {
    if (mask.data()[p] == 0.0f) continue;
    const float* row = logits.data() + p * 6;
    int best = static_cast<int>(std::max_element(row, row + 6) - row);
    wrong += best != test.targets.values[p];
  }
  CHECK(wrong == 0);
}
