// The convolution family: window arithmetic, fast kernels against their naive references, errors, layers.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <nn/backends/cpu/conv2d.h>
#include <nn/backends/cpu/depthwise.h>
#include <nn/backends/cpu/pool.h>
#include <nn/backends/ref/loops.h>
#include <nn/ops/window.h>

#include "support/check.h"

using nn::Tensor;
using nn::kernels::Window2D;

namespace {

Window2D plan(nn::Shape input, int64_t k, int64_t s, nn::Padding p, int64_t oc) {
  return nn::plan_window("test", input, {k, k, s, s, p}, oc);
}

// Geometries that exercise every path of the fast kernels: pointwise GEMM, strided pointwise gather,
// im2col with valid and asymmetric same padding, strides larger than the kernel.
std::vector<std::pair<std::string, Window2D>> geometries() {
  using nn::Padding;
  return {
      {"1x1 s1", plan({2, 5, 6, 7}, 1, 1, Padding::valid, 9)},
      {"1x1 s2", plan({2, 7, 6, 5}, 1, 2, Padding::valid, 4)},
      {"1x1 s2 same", plan({1, 8, 8, 3}, 1, 2, Padding::same, 4)},
      {"3x3 s1 valid", plan({2, 9, 8, 3}, 3, 1, Padding::valid, 5)},
      {"3x3 s1 valid, large enough for the implicit 'wide' GEMM", plan({2, 40, 36, 5}, 3, 1, Padding::valid, 7)},
      // More of the wide GEMM at the avx512 level: more than one 32-column panel with a partial one (OC = 40), windows
      // one tap high or wide, and 400 output channels, 13 panels, from which gemm<avx512> packs A (the overlapping
      // rows) where its row block is not shared (12 or more: kPackedPanels).
      {"3x3 s1 valid wide, 40 output channels", plan({1, 34, 36, 6}, 3, 1, Padding::valid, 40)},
      {"1x3 s1 valid wide", nn::plan_window("test", {1, 33, 36, 4}, {.kh = 1, .kw = 3}, 9)},
      {"3x1 s1 valid wide", nn::plan_window("test", {2, 36, 33, 3}, {.kh = 3, .kw = 1}, 5)},
      {"3x3 s1 valid wide, 400 output channels", plan({1, 34, 34, 2}, 3, 1, Padding::valid, 400)},
      // gemm_panels' windows at the avx2 level (K = 9·32 = 288, 32 ≤ OC ≤ 768 with a partial panel, ≥ 512 pixels),
      // and a 2 × 2 "same" window, padded after only (pad_top = pad_left = 0), which must not take the implicit GEMMs.
      {"3x3 s1 valid, 32 channels: gemm_panels' windows", plan({2, 25, 31, 32}, 3, 1, Padding::valid, 40)},
      {"2x2 s1 same: padded after only", plan({1, 33, 34, 16}, 2, 1, Padding::same, 33)},
      {"3x3 s2 valid (block1_conv1 shape, small)", plan({1, 15, 15, 3}, 3, 2, Padding::valid, 8)},
      {"3x3 s1 same", plan({1, 7, 5, 6}, 3, 1, Padding::same, 3)},
      {"3x3 s2 same even", plan({2, 10, 8, 4}, 3, 2, Padding::same, 6)},
      {"5x5 s3 same", plan({1, 11, 9, 2}, 5, 3, Padding::same, 3)},
      {"2x2 s3 valid", plan({1, 9, 9, 3}, 2, 3, Padding::valid, 2)},
  };
}

void fill(Tensor& t, uint64_t seed) {
  nn::Generator gen(seed);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(-1.0f, 1.0f);
}

// Each output is a float sum of `terms` products of U(−1, 1) values. Summed in order, such a sum strays from the exact
// one by about 0.14·terms·2⁻²⁴ (RMS: the partial sums grow as √terms / 3, each addition rounds by up to half an ulp of
// them); blocked orders (OpenBLAS's, ours) stray less, but which order a kernel takes depends on the machine. Allowed:
// terms·2⁻²⁴, about seven of those, and never less than 1e-5. A lost or doubled term moves a sum by about 0.25 (the
// mean |x·y|).
void close(const Tensor& a, const Tensor& b, int64_t terms, const std::string& what) {
  test::check_close(a, b, 1e-4, std::max(1e-5, static_cast<double>(terms) * 0x1p-24), what);
}

}  // namespace

TEST_CASE("window arithmetic follows TensorFlow's valid and same") {
  Window2D pool = plan({1, 74, 74, 1}, 3, 2, nn::Padding::same, 1);  // 74 → 37: 0 before, 1 after
  CHECK(pool.oh == 37);
  CHECK(pool.pad_top == 0);
  CHECK((pool.oh - 1) * pool.sh + pool.kh - pool.h - pool.pad_top == 1);
  Window2D even = plan({1, 8, 8, 1}, 3, 2, nn::Padding::same, 1);  // 8 → 4, total padding 1
  CHECK(even.oh == 4);
  CHECK(even.pad_top == 0);
  Window2D odd = plan({1, 147, 147, 1}, 3, 2, nn::Padding::same, 1);  // 147 → 74, padding 1 before and after
  CHECK(odd.oh == 74);
  CHECK(odd.pad_top == 1);
  CHECK(plan({1, 299, 299, 3}, 3, 2, nn::Padding::valid, 32).oh == 149);   // block1_conv1
  CHECK(plan({1, 149, 149, 32}, 3, 1, nn::Padding::valid, 64).oh == 147);  // block1_conv2
  CHECK(plan({1, 147, 147, 64}, 1, 2, nn::Padding::same, 128).oh == 74);   // a residual 1x1 stride 2
  Window2D same1 = plan({1, 5, 5, 1}, 5, 1, nn::Padding::same, 1);
  CHECK(same1.oh == 5);
  CHECK(same1.pad_top == 2);
}

TEST_CASE("fast conv2d kernels agree with the naive reference, forward and backward") {
  for (auto& [name, g] : geometries()) {
    INFO("geometry " << name);
    Tensor x = Tensor::empty({g.n, g.h, g.w, g.c}), w = Tensor::empty({g.kh, g.kw, g.c, g.oc}),
           b = Tensor::empty({g.oc});
    Tensor dy = Tensor::empty({g.n, g.oh, g.ow, g.oc});
    fill(x, 1), fill(w, 2), fill(b, 3), fill(dy, 4);
    Tensor work = Tensor::empty({nn::kernels::conv2d_workspace_floats(g)});
    Tensor y_ref = Tensor::empty(dy.shape()), y = Tensor::empty(dy.shape());
    nn::kernels::conv2d_forward_ref(g, x.data(), w.data(), b.data(), y_ref.data());
    nn::kernels::conv2d_forward(g, x.data(), w.data(), b.data(), y.data(), work.data());
    close(y, y_ref, g.kh * g.kw * g.c, name + " forward");
    Tensor dx_ref = Tensor::empty(x.shape()), dx = Tensor::full(x.shape(), 7.0f);
    nn::kernels::conv2d_backward_input_ref(g, dy.data(), w.data(), dx_ref.data());
    nn::kernels::conv2d_backward_input(g, dy.data(), w.data(), dx.data(), work.data());
    close(dx, dx_ref, g.kh * g.kw * g.oc, name + " backward input");
    Tensor dw_ref = Tensor::empty(w.shape()), dw = Tensor::full(w.shape(), 7.0f);
    nn::kernels::conv2d_backward_weight_ref(g, x.data(), dy.data(), dw_ref.data());
    nn::kernels::conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), work.data());
    close(dw, dw_ref, g.n * g.oh * g.ow, name + " backward weight");
  }
}

TEST_CASE("fast depthwise kernels agree with the naive reference, forward and backward") {
  for (auto& [name, geometry] : geometries()) {
    Window2D g = geometry;
    g.oc = g.c;
    INFO("geometry " << name);
    Tensor x = Tensor::empty({g.n, g.h, g.w, g.c}), w = Tensor::empty({g.kh, g.kw, g.c}), b = Tensor::empty({g.c});
    Tensor dy = Tensor::empty({g.n, g.oh, g.ow, g.c});
    fill(x, 5), fill(w, 6), fill(b, 7), fill(dy, 8);
    Tensor work = Tensor::empty({nn::kernels::depthwise_workspace_floats(g)});
    Tensor y_ref = Tensor::empty(dy.shape()), y = Tensor::empty(dy.shape());
    nn::kernels::depthwise_forward_ref(g, x.data(), w.data(), b.data(), y_ref.data());
    nn::kernels::depthwise_forward(g, x.data(), w.data(), b.data(), y.data());
    close(y, y_ref, g.kh * g.kw, name + " forward");
    Tensor dx_ref = Tensor::empty(x.shape()), dx = Tensor::full(x.shape(), 7.0f);
    nn::kernels::depthwise_backward_input_ref(g, dy.data(), w.data(), dx_ref.data());
    nn::kernels::depthwise_backward_input(g, dy.data(), w.data(), dx.data(), work.data());
    close(dx, dx_ref, g.kh * g.kw, name + " backward input");
    Tensor dw_ref = Tensor::empty(w.shape()), dw = Tensor::full(w.shape(), 7.0f);
    nn::kernels::depthwise_backward_weight_ref(g, x.data(), dy.data(), dw_ref.data());
    nn::kernels::depthwise_backward_weight(g, x.data(), dy.data(), dw.data(), work.data());
    close(dw, dw_ref, g.n * g.oh * g.ow, name + " backward weight");
  }
}

TEST_CASE("the depthwise weight gradient sums only the partial sums of the team it got") {
  // Called from inside a parallel region, the kernel's own region gets one thread (nesting off) while
  // omp_get_max_threads() says 2: a sum over every workspace slot would add the NaNs left in the unused ones.
  Window2D g = geometries().front().second;
  g.oc = g.c;
  Tensor x = Tensor::empty({g.n, g.h, g.w, g.c}), dy = Tensor::empty({g.n, g.oh, g.ow, g.c});
  fill(x, 5), fill(dy, 8);
  Tensor dw_ref = Tensor::empty({g.kh, g.kw, g.c});
  nn::kernels::depthwise_backward_weight_ref(g, x.data(), dy.data(), dw_ref.data());
  std::vector<Tensor> dw(2), work(2);
  for (int t = 0; t < 2; ++t) {
    dw[t] = Tensor::full(dw_ref.shape(), 7.0f);
    work[t] = Tensor::full({nn::kernels::depthwise_workspace_floats(g) * 2}, std::nanf(""));
  }
  const int levels = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  int outer_team = 0;
#pragma omp parallel num_threads(2)
  {
    omp_set_num_threads(2);  // this thread's nested regions ask for 2 and get 1
    const int t = omp_get_thread_num();
    if (t == 0) outer_team = omp_get_num_threads();
    nn::kernels::depthwise_backward_weight(g, x.data(), dy.data(), dw[t].data(), work[t].data());
  }
  omp_set_max_active_levels(levels);
  REQUIRE_MESSAGE(outer_team == 2, "the runtime gave the outer region one thread: the case above did not arise");
  for (int t = 0; t < 2; ++t)
    close(dw[t], dw_ref, g.n * g.oh * g.ow, "depthwise backward weight inside a parallel region");
}

TEST_CASE("fast pooling kernels agree with the naive reference") {
  for (auto& [name, geometry] : geometries()) {
    Window2D g = geometry;
    g.oc = g.c;
    INFO("geometry " << name);
    Tensor x = Tensor::empty({g.n, g.h, g.w, g.c});
    fill(x, 9);
    Tensor y_ref = Tensor::empty({g.n, g.oh, g.ow, g.c}), y = Tensor::empty(y_ref.shape());
    nn::kernels::max_pool_forward_ref(g, x.data(), y_ref.data());
    nn::kernels::max_pool_forward(g, x.data(), y.data());
    CHECK(y.to_vector() == y_ref.to_vector());
    // Ties included: quantised inputs make equal maxima common, and both must pick the first in scan order.
    Tensor q = Tensor::empty(x.shape()), dy = Tensor::empty(y.shape());
    for (int64_t i = 0; i < q.numel(); ++i) q.data()[i] = std::round(x.data()[i] * 2.0f);
    fill(dy, 10);
    nn::kernels::max_pool_forward(g, q.data(), y.data());
    Tensor dx_ref = Tensor::empty(x.shape()), dx = Tensor::full(x.shape(), 7.0f);
    nn::kernels::max_pool_backward_ref(g, q.data(), dy.data(), dx_ref.data());
    nn::kernels::max_pool_backward(g, q.data(), y.data(), dy.data(), dx.data());
    // Close, not equal: an input that wins several windows sums their gradients in another order.
    close(dx, dx_ref, g.kh * g.kw, name + " max-pool backward");
    nn::kernels::avg_pool_forward_ref(g, x.data(), y_ref.data());
    nn::kernels::avg_pool_forward(g, x.data(), y.data());
    close(y, y_ref, g.kh * g.kw, name + " average");
  }
}

TEST_CASE("max-pool padding never wins, even over negative inputs") {
  Tensor x = Tensor::full({1, 4, 4, 1}, -5.0f);
  Tensor y = nn::max_pool2d(x, {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
  CHECK(y.to_vector() == std::vector<float>(4, -5.0f));
}

TEST_CASE("convolution errors name the op, what was expected and what arrived") {
  Tensor x = Tensor::zeros({1, 8, 8, 7});
  CHECK_THROWS_WITH_AS(nn::conv2d(x, Tensor::zeros({3, 3, 3, 32})),
                       "conv2d: expected input channels 3 (weight [3,3,3,32]), got 7 (input [1,8,8,7])", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d(Tensor::zeros({1, 2, 2, 3}), Tensor::zeros({3, 3, 3, 4})),
                       "conv2d: expected a kernel no larger than the input along height (2) with valid padding, got "
                       "kernel 3",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d(x, Tensor::zeros({3, 3, 7, 2}), {}, {.strides = {0, 1}}),
                       "conv2d: expected strides of at least 1, got 0×1", nn::Error);
  CHECK_THROWS_WITH_AS(nn::conv2d(Tensor::zeros({8, 8, 7}), Tensor::zeros({3, 3, 7, 2})),
                       "conv2d: expected an NHWC input of rank 4, got shape [8,8,7]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::depthwise_conv2d(x, Tensor::zeros({3, 3, 7, 2})),
                       "depthwise_conv2d: expected a weight of shape (KH,KW,C,1) (depth multiplier 1), got [3,3,7,2]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::max_pool2d(x, {.size = {9, 9}}),
                       "max_pool2d: expected a kernel no larger than the input along height (8) with valid padding, "
                       "got kernel 9",
                       nn::Error);
  Tensor mean = Tensor::zeros({7}), variance = Tensor::ones({7});
  CHECK_THROWS_WITH_AS(nn::batch_norm(x, Tensor::ones({6}), Tensor::zeros({7}), mean, variance),
                       "batch_norm: expected gamma of shape [7], got [6]", nn::Error);
}

TEST_CASE("convolution layers carry Keras's names, shapes and parameter counts") {
  nn::Generator gen(1);
  nn::Conv2D conv({.in_channels = 3, .filters = 32, .kernel_size = {3, 3}, .strides = {2, 2}, .use_bias = false}, gen);
  CHECK(conv.named_parameters().size() == 1);
  CHECK(conv.named_parameters()[0].first == "kernel");
  CHECK(conv.num_parameters() == 864);  // Keras's block1_conv1
  CHECK(conv(Tensor::zeros({1, 299, 299, 3})).shape() == nn::Shape{1, 149, 149, 32});
  CHECK(conv.to_string() == "Conv2D(3->32, kernel=3x3, strides=2x2, padding=valid, use_bias=false)");

  nn::SeparableConv2D sep({.in_channels = 64, .filters = 128, .padding = nn::Padding::same, .use_bias = false}, gen);
  CHECK(sep.named_parameters()[0].first == "depthwise_kernel");
  CHECK(sep.depthwise_kernel().shape() == nn::Shape{3, 3, 64, 1});
  CHECK(sep.named_parameters()[1].first == "pointwise_kernel");
  CHECK(sep.pointwise_kernel().shape() == nn::Shape{1, 1, 64, 128});
  CHECK(sep.num_parameters() == 8768);  // Keras's block2_sepconv1

  nn::DepthwiseConv2D dw({.channels = 8, .padding = nn::Padding::same}, gen);
  CHECK(dw.num_parameters() == 3 * 3 * 8 + 8);

  nn::BatchNorm bn({.channels = 32});
  CHECK(bn.num_parameters() == 64);
  CHECK(bn.named_buffers().size() == 2);
  CHECK(bn.named_buffers()[0].first == "moving_mean");
  CHECK(bn.named_buffers()[1].first == "moving_variance");
  CHECK(bn.to_string() == "BatchNorm(32, momentum=0.99, epsilon=0.001)");

  nn::MaxPool2D pool({.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
  CHECK(pool(Tensor::zeros({1, 147, 147, 128})).shape() == nn::Shape{1, 74, 74, 128});
  CHECK(pool.to_string() == "MaxPool2D(size=3x3, strides=2x2, padding=same)");
  nn::GlobalAvgPool2D gap;
  CHECK(gap(Tensor::ones({2, 10, 10, 4})).to_vector() == std::vector<float>(8, 1.0f));
}

TEST_CASE("BatchNorm layer: train() uses and updates batch statistics, eval() uses the moving ones") {
  nn::BatchNorm bn({.channels = 2});
  Tensor x = Tensor::from_data({4, 2}, {1, 10, 3, 10, 5, 20, 7, 20});  // means 4, 15; variances 5, 25
  Tensor y = bn(x);
  CHECK(y.at({0, 0}) == doctest::Approx(-3.0 / std::sqrt(5.0 + 1e-3)));
  CHECK(bn.moving_mean().at({0}) == doctest::Approx(0.01 * 4));
  CHECK(bn.moving_variance().at({1}) == doctest::Approx(0.99 + 0.01 * 25 * 4.0 / 3.0));  // unbiased
  bn.eval();
  Tensor e = bn(x);
  CHECK(e.at({0, 0}) == doctest::Approx((1 - 0.04) / std::sqrt(bn.moving_variance().at({0}) + 1e-3)));
  CHECK(bn.moving_mean().at({0}) == doctest::Approx(0.04));  // unchanged in eval
}

TEST_CASE("folding an inference batch norm into the convolution before it gives the same output") {
  nn::Generator gen(11);
  nn::Conv2D conv({.in_channels = 3, .filters = 4, .padding = nn::Padding::same}, gen);
  conv.bias().copy_from(Tensor::uniform({4}, -1, 1, gen));
  nn::BatchNorm bn({.channels = 4});
  bn.gamma().copy_from(Tensor::uniform({4}, 0.5f, 1.5f, gen));
  bn.beta().copy_from(Tensor::uniform({4}, -1, 1, gen));
  bn.moving_mean().copy_from(Tensor::uniform({4}, -1, 1, gen));
  bn.moving_variance().copy_from(Tensor::uniform({4}, 0.5f, 2, gen));
  bn.eval();
  Tensor x = Tensor::uniform({2, 6, 5, 3}, -1, 1, gen);
  nn::FoldedConv folded = nn::fold_batch_norm(conv.kernel(), conv.bias(), bn);
  Tensor fused = nn::conv2d(x, folded.kernel, folded.bias, {.padding = nn::Padding::same});
  test::check_close(fused, bn(conv(x)), 1e-5, 1e-5, "conv + batch norm vs folded conv");
  CHECK_THROWS_WITH_AS(nn::fold_batch_norm(Tensor::zeros({1, 1, 3, 5}), Tensor(), bn),
                       "fold_batch_norm: expected a kernel with 4 output channels (BatchNorm(4, momentum=0.99, "
                       "epsilon=0.001)), got kernel [1,1,3,5]",
                       nn::Error);
}

TEST_CASE(
    "ConvOptions::relu_input convolves relu(x): fused into the depthwise read without a gradient, composed "
    "with one") {
  nn::Generator gen(31);
  const Tensor x = Tensor::uniform({2, 9, 10, 21}, -1, 1, gen);
  const Tensor dw = Tensor::uniform({3, 3, 21, 1}, -1, 1, gen), pw = Tensor::uniform({1, 1, 21, 6}, -1, 1, gen);
  const Tensor b = Tensor::uniform({6}, -1, 1, gen);
  const nn::ConvOptions plain{.padding = nn::Padding::same}, fused{.padding = nn::Padding::same, .relu_input = true};
  {
    nn::NoGradGuard no_grad;
    test::check_close(nn::separable_conv2d(x, dw, pw, b, fused), nn::separable_conv2d(nn::relu(x), dw, pw, b, plain), 0,
                      0, "separable, ReLU read fused");
    test::check_close(nn::conv2d(x, pw, b, fused), nn::conv2d(nn::relu(x), pw, b, plain), 0, 0, "conv2d relu_input");
  }
  // With a gradient: the same forward, and the gradients of relu-then-convolve (zero where x < 0).
  Tensor xa = x.detach().set_requires_grad(), xb = x.detach().set_requires_grad();
  const Tensor ya = nn::depthwise_conv2d(xa, dw, Tensor(), fused),
               yb = nn::depthwise_conv2d(nn::relu(xb), dw, {}, plain);
  test::check_close(ya, yb, 0, 0, "depthwise relu_input forward with a gradient");
  nn::sum(ya).backward();
  nn::sum(yb).backward();
  test::check_close(xa.grad(), xb.grad(), 0, 0, "depthwise relu_input gradient");
  const std::vector<float> g = xa.grad().to_vector(), xs = x.to_vector();
  for (size_t i = 0; i < g.size(); ++i)
    if (xs[i] < 0) REQUIRE(g[i] == 0.0f);
}
