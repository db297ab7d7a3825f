// The convolution family against PyTorch (fixtures from tests/reference/make_fixtures.py), 1e-5 relative.
#include "support/check.h"
#include "support/fixtures.h"

using nn::Tensor;

namespace {
void close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  test::check_close(actual, expected, 1e-5, 1e-5, what);
}

void check_conv(const char* file, nn::ConvOptions options, bool bias) {
  test::Fixture f(file);
  Tensor x = f["x"].set_requires_grad(), w = f["weight"].set_requires_grad();
  Tensor b = bias ? f["bias"].set_requires_grad() : Tensor();
  Tensor y = nn::conv2d(x, w, b, options);
  close(y, f["y"], "conv2d output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
  close(w.grad(), f["grad_weight"], "grad weight");
  if (bias) close(b.grad(), f["grad_bias"], "grad bias");
}

void check_depthwise(const char* file, nn::ConvOptions options) {
  test::Fixture f(file);
  Tensor x = f["x"].set_requires_grad(), w = f["weight"].set_requires_grad(), b = f["bias"].set_requires_grad();
  Tensor y = nn::depthwise_conv2d(x, w, b, options);
  close(y, f["y"], "depthwise output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
  close(w.grad(), f["grad_weight"], "grad weight");
  close(b.grad(), f["grad_bias"], "grad bias");
}

void check_pool(const char* file, bool max, nn::PoolOptions options) {
  test::Fixture f(file);
  Tensor x = f["x"].set_requires_grad();
  Tensor y = max ? nn::max_pool2d(x, options) : nn::avg_pool2d(x, options);
  close(y, f["y"], "pool output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
}
}  // namespace

TEST_CASE("conv2d 3x3 stride 2 same on an even size (pads 0 before, 1 after) matches PyTorch") {
  check_conv("conv2d_3x3_s2_same_even.txt", {.strides = {2, 2}, .padding = nn::Padding::same}, true);
}
TEST_CASE("conv2d 3x3 valid matches PyTorch") {
  check_conv("conv2d_3x3_s1_valid.txt", {}, true);
}
TEST_CASE("conv2d 1x1 stride 2 matches PyTorch") {
  check_conv("conv2d_1x1_s2.txt", {.strides = {2, 2}}, false);
}
TEST_CASE("conv2d 5x5 same matches PyTorch") {
  check_conv("conv2d_5x5_s1_same.txt", {.padding = nn::Padding::same}, true);
}
TEST_CASE("depthwise 3x3 same matches PyTorch's grouped convolution") {
  check_depthwise("depthwise_3x3_s1_same.txt", {.padding = nn::Padding::same});
}
TEST_CASE("depthwise 3x3 stride 2 same on an even size matches PyTorch") {
  check_depthwise("depthwise_3x3_s2_same_even.txt", {.strides = {2, 2}, .padding = nn::Padding::same});
}

TEST_CASE("separable conv (depthwise then pointwise) matches PyTorch") {
  test::Fixture f("separable_conv2d.txt");
  Tensor x = f["x"].set_requires_grad(), dw = f["depthwise"].set_requires_grad();
  Tensor pw = f["pointwise"].set_requires_grad(), b = f["bias"].set_requires_grad();
  Tensor y = nn::separable_conv2d(x, dw, pw, b, {.padding = nn::Padding::same});
  close(y, f["y"], "separable output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
  close(dw.grad(), f["grad_depthwise"], "grad depthwise");
  close(pw.grad(), f["grad_pointwise"], "grad pointwise");
  close(b.grad(), f["grad_bias"], "grad bias");
}

TEST_CASE("max-pool 3x3/2 same from 74x74 to 37x37 (pads 0 before, 1 after) matches PyTorch") {
  check_pool("max_pool_3x3_s2_same_74.txt", true, {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
}
TEST_CASE("max-pool 2x2 valid matches PyTorch") {
  check_pool("max_pool_2x2_valid.txt", true, {});
}
TEST_CASE("average pool 3x3/2 same, padding excluded, matches PyTorch") {
  check_pool("avg_pool_3x3_s2_same.txt", false, {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
}

TEST_CASE("batch norm in training and inference mode matches PyTorch, moving statistics included") {
  test::Fixture f("batch_norm.txt");
  Tensor x = f["x"].set_requires_grad(), gamma = f["gamma"].set_requires_grad(), beta = f["beta"].set_requires_grad();
  Tensor mean = f["moving_mean"], variance = f["moving_variance"];
  Tensor y = nn::batch_norm(x, gamma, beta, mean, variance, {.training = true});
  close(y, f["train_y"], "training output");
  y.backward(f["upstream"]);
  close(x.grad(), f["train_grad_x"], "training grad x");
  close(gamma.grad(), f["train_grad_gamma"], "training grad gamma");
  close(beta.grad(), f["train_grad_beta"], "training grad beta");
  close(mean, f["train_new_moving_mean"], "updated moving mean");
  close(variance, f["train_new_moving_variance"], "updated moving variance");

  x.zero_grad();
  gamma.zero_grad();
  Tensor mean0 = f["moving_mean"], variance0 = f["moving_variance"];
  Tensor e = nn::batch_norm(x, gamma, beta, mean0, variance0, {.training = false});
  close(e, f["eval_y"], "inference output");
  e.backward(f["upstream"]);
  close(x.grad(), f["eval_grad_x"], "inference grad x");
  close(gamma.grad(), f["eval_grad_gamma"], "inference grad gamma");
  close(mean0, f["moving_mean"], "moving mean untouched in inference");
}

TEST_CASE("global average pooling matches PyTorch's adaptive_avg_pool2d to 1x1") {
  test::Fixture f("global_avg_pool.txt");
  Tensor x = f["x"].set_requires_grad();
  Tensor y = nn::global_avg_pool2d(x);
  close(y, f["y"], "pooled");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
}
