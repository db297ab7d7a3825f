// A program outside the libnn tree — the README's example — built against the installed library: fits
// y = 2x − 1 with one Dense unit, saves it, loads it back, and reports the loss before and after; and links the
// Keras weight reader (nn::keras).
#include <cstdio>
#include <string>

#include <nn/keras_h5.h>
#include <nn/nn.h>

int main() {
  nn::manual_seed(1);
  nn::Dense layer({.in = 1, .out = 1});
  nn::Adam adam(layer.named_parameters(), {.lr = 0.1f});
  nn::Tensor x = nn::Tensor::from_data({4, 1}, {-1, 0, 1, 2});
  nn::Tensor y = nn::Tensor::from_data({4, 1}, {-3, -1, 1, 3});  // y = 2x − 1
  float first = 0;
  for (int step = 0; step < 300; ++step) {
    nn::Tensor diff = layer(x) - y;
    nn::Tensor loss = nn::mean(diff * diff);
    if (step == 0) first = loss.item();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  nn::save("line.nnck", layer);

  nn::Dense restored({.in = 1, .out = 1});
  nn::load("line.nnck", restored);
  nn::Tensor diff = restored(x) - y;
  float last = nn::mean(diff * diff).item();
  bool ok = last < 1e-4f && restored.kernel().item() > 1.99f && restored.kernel().item() < 2.01f;
  try {
    nn::read_keras_h5("missing.h5");
    ok = false;
  } catch (const nn::Error& e) {
    ok = ok && std::string(e.what()) == "missing.h5: is not a file";
  }
  std::printf("outside project: loss %.4f -> %.6f %s\n", first, last, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
