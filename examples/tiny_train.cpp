// tiny_train: a character-level language model (Embedding → LSTM → Dense) learns a few lines of text with Adam,
// printing its loss as it falls, then writes what it learned from a one-letter prompt.
#include <nn/nn.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "cli.h"

namespace {

const char* kText =
    "a dog runs across the grass. a girl climbs a rock. two dogs play in the snow. "
    "a man rides a bike down the hill. a child jumps into the water.";

}  // namespace

int main(int argc, char** argv) {
  int steps = 300;
  unsigned long seed = 1;
  cli::Parser cli("tiny_train",
                  "Trains a character-level LSTM on a few sentences, printing the loss every 25 steps,\n"
                  "then writes what it learned from a one-letter prompt.");
  cli.whole("--steps", "N", steps, 1, 100000, "training steps");
  cli.whole("--seed", "S", seed, 0, 2147483647, "the random seed of the initial weights");
  if (auto status = cli.parse(argc, argv)) return *status;
  try {
    // Characters become ids 1..V-1 (0 is left for padding, unused here).
    const std::string text = kText;
    std::string alphabet;
    for (char c : text) {
      if (alphabet.find(c) == std::string::npos) alphabet += c;
    }
    const int vocab = static_cast<int>(alphabet.size()) + 1;
    auto id_of = [&](char c) { return static_cast<int32_t>(alphabet.find(c)) + 1; };

    nn::manual_seed(seed);
    nn::Embedding embed({.vocab = vocab, .dim = 16});
    nn::LSTM lstm({.input_size = 16, .units = 64, .return_sequences = true});
    nn::Dense head({.in = 64, .out = vocab});
    nn::NamedTensors params;
    std::vector<nn::Tensor> weights;
    for (auto* m : std::initializer_list<nn::Module*>{&embed, &lstm, &head}) {
      for (auto& p : m->named_parameters()) {
        params.push_back(p);
        weights.push_back(p.second);
      }
    }
    nn::Adam adam(params, {.lr = 0.01f});

    // One sequence: predict text[t+1] from text[..t].
    const int length = static_cast<int>(text.size()) - 1;
    std::vector<int32_t> inputs, targets;
    for (int t = 0; t < length; ++t) {
      inputs.push_back(id_of(text[t]));
      targets.push_back(id_of(text[t + 1]));
    }
    const nn::Indices x({1, length}, inputs), y({1, length}, targets);
    for (int step = 1; step <= steps; ++step) {
      nn::Tensor loss = nn::softmax_cross_entropy(head(lstm(embed(x))), y);
      adam.zero_grad();
      loss.backward();
      nn::clip_grad_norm(weights, 5.0f);
      adam.step();
      if (step == 1 || step % 25 == 0) std::printf("step %4d  loss %.4f\n", step, loss.item());
    }

    // Greedy generation from the first letter.
    nn::NoGradGuard no_grad;
    std::vector<int32_t> prompt{id_of(text[0])};
    std::string generated(1, text[0]);
    for (int t = 0; t < 60; ++t) {
      nn::Tensor logits = head(lstm(embed(nn::Indices({1, static_cast<int64_t>(prompt.size())}, prompt))));
      const float* last = logits.data() + (prompt.size() - 1) * vocab;
      int best = static_cast<int>(std::max_element(last + 1, last + vocab) - last);
      generated += alphabet[best - 1];
      prompt.push_back(best);
    }
    std::printf("generated: \"%s\"\n", generated.c_str());
  } catch (const std::exception& e) {
    return cli.error(e);
  }
  return 0;
}
