// A program outside the libnn tree: fits y = 2x − 1 with one Dense unit and reports the loss before and after.
#include <cstdio>
#include <nn/nn.h>

int main() {
  nn::manual_seed(1);
  nn::Dense layer({.in = 1, .out = 1});
  nn::SGD sgd(layer.named_parameters(), {.lr = 0.1f});
  nn::Tensor x = nn::Tensor::from_data({4, 1}, {-1, 0, 1, 2});
  nn::Tensor y = nn::Tensor::from_data({4, 1}, {-3, -1, 1, 3});
  float first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    nn::Tensor loss = nn::mean((layer(x) - y) * (layer(x) - y));
    (step == 0 ? first : last) = loss.item();
    sgd.zero_grad();
    loss.backward();
    sgd.step();
  }
  std::printf("outside project: loss %.4f -> %.6f %s\n", first, last, last < 1e-4f ? "ok" : "FAILED");
  return last < 1e-4f ? 0 : 1;
}
