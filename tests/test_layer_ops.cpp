// layer_norm and conv2d_transpose: against PyTorch (fixtures from tests/reference/make_layer_fixtures.py, 1e-5
// relative), in the finite-difference table, and their errors.
#include "support/check.h"
#include "support/fixtures.h"

using nn::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

void close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  test::check_close(actual, expected, 1e-5, 1e-6, what);
}

void check_layer_norm(const char* file, const nn::Shape& normalized_shape, float epsilon, bool affine) {
  INFO(file);
  test::Fixture f(file);
  Tensor x = f["x"].set_requires_grad();
  Tensor gamma = affine ? f["gamma"].set_requires_grad() : Tensor();
  Tensor beta = affine ? f["beta"].set_requires_grad() : Tensor();
  Tensor y = nn::layer_norm(x, normalized_shape, gamma, beta, epsilon);
  close(y, f["y"], "layer_norm output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
  if (affine) {
    close(gamma.grad(), f["grad_gamma"], "grad gamma");
    close(beta.grad(), f["grad_beta"], "grad beta");
  }
}

void check_conv_transpose(const char* file, const nn::ConvTransposeOptions& options) {
  INFO(file);
  test::Fixture f(file);
  Tensor x = f["x"].set_requires_grad(), w = f["weight"].set_requires_grad(), b = f["bias"].set_requires_grad();
  Tensor y = nn::conv2d_transpose(x, w, b, options);
  close(y, f["y"], "conv2d_transpose output");
  y.backward(f["upstream"]);
  close(x.grad(), f["grad_x"], "grad x");
  close(w.grad(), f["grad_weight"], "grad weight");
  close(b.grad(), f["grad_bias"], "grad bias");
}

nn::ConvTransposeOptions transpose_options(int64_t stride, nn::Padding padding) {
  return {.strides = {stride, stride}, .padding = padding};
}

std::vector<test::GradCase> table() {
  using nn::Padding;
  auto transpose = [](int64_t stride, Padding padding) {
    return
        [=](const Inputs& in) { return nn::conv2d_transpose(in[0], in[1], in[2], transpose_options(stride, padding)); };
  };
  return {
      {"layer_norm last axis",
       {{3, 5}, {5}, {5}},
       [](const Inputs& in) { return nn::layer_norm(in[0], {5}, in[1], in[2], 1e-5f); },
       -2,
       2},
      {"layer_norm last two axes",
       {{2, 3, 4}, {3, 4}, {3, 4}},
       [](const Inputs& in) {
         return nn::layer_norm(in[0], {3, 4}, in[1], in[2], 1e-3f);
       },
       -2,
       2},
      {"layer_norm without gamma and beta",
       {{4, 6}},
       [](const Inputs& in) { return nn::layer_norm(in[0], {6}); },
       -2,
       2},
      {"conv2d_transpose 3x3 s1 valid", {{2, 3, 4, 2}, {3, 3, 3, 2}, {3}}, transpose(1, Padding::valid)},
      {"conv2d_transpose 3x3 s2 valid", {{1, 3, 3, 2}, {3, 3, 2, 2}, {2}}, transpose(2, Padding::valid)},
      {"conv2d_transpose 3x3 s1 same", {{2, 4, 3, 2}, {3, 3, 2, 2}, {2}}, transpose(1, Padding::same)},
      {"conv2d_transpose 3x3 s2 same", {{1, 3, 4, 3}, {3, 3, 2, 3}, {2}}, transpose(2, Padding::same)},
      {"conv2d_transpose 4x4 s2 same", {{1, 3, 3, 2}, {4, 4, 2, 2}, {2}}, transpose(2, Padding::same)},
      {"conv2d_transpose 3x3 s2 same, output padding 1",
       {{1, 3, 3, 2}, {3, 3, 2, 2}, {2}},
       [](const Inputs& in) {
         return nn::conv2d_transpose(in[0], in[1], in[2],
                                     {.strides = {2, 2}, .padding = Padding::same, .output_padding = {{1, 1}}});
       }},
  };
}

}  // namespace

TEST_CASE("layer_norm and its gradients match PyTorch") {
  check_layer_norm("layer_norm_last.txt", {5}, 1e-5f, true);
  check_layer_norm("layer_norm_last2.txt", {4, 6}, 1e-3f, true);
  check_layer_norm("layer_norm_plain.txt", {7}, 1e-5f, false);
}

TEST_CASE("conv2d_transpose and its gradients match PyTorch (Keras's layout and output size)") {
  using nn::Padding;
  check_conv_transpose("layer_conv2d_transpose_3x3_s1_valid.txt", transpose_options(1, Padding::valid));
  check_conv_transpose("layer_conv2d_transpose_3x3_s2_valid.txt", transpose_options(2, Padding::valid));
  check_conv_transpose("layer_conv2d_transpose_3x3_s1_same.txt", transpose_options(1, Padding::same));
  check_conv_transpose("layer_conv2d_transpose_3x3_s2_same.txt", transpose_options(2, Padding::same));
  check_conv_transpose("layer_conv2d_transpose_4x2_s2_same.txt", transpose_options(2, Padding::same));
  check_conv_transpose("layer_conv2d_transpose_2x2_s3_valid.txt", transpose_options(3, Padding::valid));
  check_conv_transpose("layer_conv2d_transpose_3x3_s2_same_op1.txt",
                       {.strides = {2, 2}, .padding = Padding::same, .output_padding = {{1, 1}}});
  check_conv_transpose("layer_conv2d_transpose_3x3_s3_valid_op2.txt",
                       {.strides = {3, 3}, .padding = Padding::valid, .output_padding = {{2, 2}}});
}

TEST_CASE("conv2d_transpose output sizes follow Keras's rule") {
  auto size = [](int64_t h, int64_t k, int64_t s, nn::Padding padding, std::optional<std::array<int64_t, 2>> op) {
    Tensor y = nn::conv2d_transpose(Tensor::zeros({1, h, h, 1}), Tensor::zeros({k, k, 1, 1}), Tensor(),
                                    {.strides = {s, s}, .padding = padding, .output_padding = op});
    return y.dim(1);
  };
  CHECK(size(4, 3, 1, nn::Padding::valid, {}) == 6);         // 4·1 + max(3 − 1, 0)
  CHECK(size(4, 3, 2, nn::Padding::valid, {}) == 9);         // 4·2 + 1
  CHECK(size(4, 2, 3, nn::Padding::valid, {}) == 12);        // 4·3 + max(2 − 3, 0)
  CHECK(size(4, 3, 2, nn::Padding::same, {}) == 8);          // 4·2
  CHECK(size(4, 3, 2, nn::Padding::same, {{1, 1}}) == 8);    // 3·2 + 3 − 2·1 + 1
  CHECK(size(4, 3, 2, nn::Padding::valid, {{1, 1}}) == 10);  // 3·2 + 3 + 1
}

TEST_CASE("gradient check of layer_norm and conv2d_transpose") {
  test::check_gradients(table());
}

TEST_CASE("layer_norm names the shapes in its errors") {
  Tensor x = Tensor::ones({2, 3, 4});
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {3}),
                       "layer_norm: expected an input whose last axes are [3], got input [2,3,4]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {}), "layer_norm: expected an input whose last axes are [], got input [2,3,4]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {4}, Tensor::ones({3})),
                       "layer_norm: expected gamma of shape [4] or undefined, got [3]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {3, 4}, Tensor(), Tensor::ones({4})),
                       "layer_norm: expected beta of shape [3,4] or undefined, got [4]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::layer_norm(x, {4}, Tensor(), Tensor(), -1.0f),
                       "layer_norm: expected epsilon ≥ 0, got -1.000000", nn::Error);
}

TEST_CASE("conv2d_transpose names the shapes in its errors") {
  Tensor x = Tensor::ones({1, 4, 4, 3});
  Tensor w = Tensor::ones({3, 3, 8, 3});
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(Tensor::ones({4, 4, 3}), w),
                       "conv2d_transpose: expected an NHWC input of rank 4, got shape [4,4,3]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, Tensor::ones({3, 3, 3})),
                       "conv2d_transpose: expected a weight of shape (KH,KW,OC,C), got [3,3,3]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, Tensor::ones({3, 3, 3, 8})),
                       "conv2d_transpose: expected input channels 8 (weight [3,3,3,8]), got 3 (input [1,4,4,3])",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, w, Tensor::ones({3})),
                       "conv2d_transpose: expected a bias of shape [8], got [3]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, w, Tensor(), {.strides = {0, 1}}),
                       "conv2d_transpose: expected strides of at least 1, got 0x1", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, w, Tensor(), {.strides = {2, 2}, .output_padding = {{2, 0}}}),
                       "conv2d_transpose: expected an output padding in [0, stride) (strides 2x2), got 2x0", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, Tensor::ones({2, 2, 8, 3}), Tensor(),
                                            {.padding = nn::Padding::same, .output_padding = {{0, 0}}}),
                       "conv2d_transpose: expected an output whose same convolution gives back the input's 4x4 (use "
                       "another output padding), got output [1,3,3,8] (kernel 2x2, strides 1x1)",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d_transpose(x, w, Tensor(), {.strides = {1 << 20, 1 << 20}}),
                       "conv2d_transpose: expected an output of 1 to 2^31 elements, got output [1,4194304,4194304,8]",
                       nn::Error);
}
