// bf16 through the model (issue 16): Module::to converts in place and leaves batch norm and biases f32; a bf16
// Xception's features stay within cosine 0.999 of the f32 model's on generated pictures; the bundled sample's
// caption is the same with a bf16 feature pass; bf16 inputs that need a gradient take the f32 conversion path.
#include <captioning/describer.h>
#include <captioning/xception_weights.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/check.h"
#include "support/files.h"

using nn::Tensor;

namespace {

// A picture of `size`² pixels in [−1, 1] (as xception_preprocess gives): a smooth colour gradient under a disc and
// a bar whose places and colours follow `seed` — structure that a random-weight network's features vary with.
Tensor generated_picture(int64_t size, int seed) {
  std::vector<float> pixels(static_cast<size_t>(size * size * 3));
  const double cx = size * (0.3 + 0.1 * seed), cy = size * (0.6 - 0.07 * seed), radius = size * 0.18;
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x) {
      const double u = static_cast<double>(x) / size, v = static_cast<double>(y) / size;
      double rgb[3] = {u - 0.5, v - 0.5, 0.3 * std::sin(6.0 * (u + v) + seed)};
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius) {
        rgb[0] = 0.9 - 0.3 * seed, rgb[1] = -0.8, rgb[2] = 0.2 * seed;
      }
      if (y > size * 0.8 && x > size * (0.1 + 0.15 * seed)) rgb[0] = -0.9, rgb[1] = 0.7, rgb[2] = 0.5;
      for (int c = 0; c < 3; ++c) pixels[static_cast<size_t>((y * size + x) * 3 + c)] = static_cast<float>(rgb[c]);
    }
  return Tensor::from_data({1, size, size, 3}, pixels);
}

// cos ∠(a, b), in double.
double cosine(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double dot = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    dot += static_cast<double>(x[i]) * y[i];
    xx += static_cast<double>(x[i]) * x[i];
    yy += static_cast<double>(y[i]) * y[i];
  }
  return dot / std::sqrt(xx * yy);
}

float rounded_to_bf16(float v) {
  return nn::to_float(nn::to_bfloat16(v));
}

}  // namespace

TEST_CASE("Module::to converts parameters in place; biases and batch norm stay f32; to(f32) gives the rounded values") {
  nn::Generator gen(3);
  nn::Sequential model{nn::Dense({.in = 4, .out = 3}, gen), nn::BatchNorm({.channels = 3})};
  const nn::NamedTensors before = model.named_state();
  std::vector<std::vector<float>> values;
  for (const auto& [name, t] : before) values.push_back(t.to_vector());
  const auto* dense = dynamic_cast<const nn::Dense*>(model.named_children()[0].second.get());
  REQUIRE(dense != nullptr);
  const Tensor kernel = dense->kernel();  // a handle the layer also holds

  CHECK(&model.to(nn::bf16) == &model);
  for (const auto& [name, t] : model.named_state()) {
    INFO(name);
    CHECK(t.dtype() == (name == "0.kernel" ? nn::bf16 : nn::f32));
  }
  CHECK(kernel.dtype() == nn::bf16);  // the handle sees the converted storage
  CHECK(kernel.requires_grad());

  model.to(nn::f32);
  const nn::NamedTensors after = model.named_state();
  for (size_t i = 0; i < after.size(); ++i) {
    INFO(after[i].first);
    REQUIRE(after[i].second.dtype() == nn::f32);
    const std::vector<float> now = after[i].second.to_vector();
    for (size_t k = 0; k < now.size(); ++k) {
      const float expected = after[i].first == "0.kernel" ? rounded_to_bf16(values[i][k]) : values[i][k];
      CHECK(now[k] == expected);
    }
  }
  // The kernel's values really moved: some float32 weight is not a bfloat16 number.
  bool any_rounded = false;
  for (float v : values[0]) any_rounded |= rounded_to_bf16(v) != v;
  CHECK(any_rounded);
}

TEST_CASE("Module::to refuses a dtype no backend computes in, naming the module") {
  nn::Xception model({.width = 0.0625f, .middle_blocks = 1});
  CHECK(test::error_of([&] { model.to(nn::DType::f16); }) ==
        "Module::to: expected a dtype a backend computes in (f32, bf16) for Xception, got f16");
  CHECK(model.named_parameters().front().second.dtype() == nn::f32);
}

TEST_CASE("a bf16 Xception's features: f32, within cosine 0.999 of the f32 model's, from an f32 or a bf16 input") {
  nn::Generator gen(11);
  nn::Xception model({.width = 0.125f, .middle_blocks = 2}, gen);
  model.eval();
  std::shared_ptr<nn::Xception> low = nn::clone(model);
  low->to(nn::bf16);
  CHECK(model.named_parameters().front().second.dtype() == nn::f32);  // the clone was converted, not the model
  nn::NoGradGuard no_grad;
  for (int seed = 0; seed < 3; ++seed) {
    INFO("picture " << seed);
    const Tensor x = generated_picture(96, seed);
    const Tensor reference = model.forward(x);
    const Tensor features = low->forward(x);
    REQUIRE(features.dtype() == nn::f32);
    REQUIRE(features.shape() == reference.shape());
    const double cos = cosine(features, reference);
    MESSAGE("picture " << seed << ": cosine " << cos);
    CHECK(cos >= 0.999);
    CHECK(features.to_vector() != reference.to_vector());  // bf16 really ran: not the f32 numbers
    // A bf16 input is the f32 input rounded at the stem: the same features.
    CHECK(low->forward(x.to(nn::bf16)).to_vector() == features.to_vector());
  }
}

TEST_CASE("a bf16 input that needs a gradient takes the f32 conversion path: the gradient is the f32 one") {
  nn::Generator gen(5);
  const Tensor x = Tensor::uniform({2, 9, 9, 4}, -1, 1, gen).to(nn::bf16).to(nn::f32);  // bf16-exact values
  const Tensor w = Tensor::uniform({3, 3, 4, 6}, -1, 1, gen).to(nn::bf16).to(nn::f32);
  Tensor xf = x.detach().set_requires_grad();
  Tensor xg = x.detach().set_requires_grad();
  const Tensor yf = nn::conv2d(xf, w, Tensor(), {.padding = nn::Padding::same});
  const Tensor yb = nn::conv2d(xg.to(nn::bf16), w.to(nn::bf16), Tensor(), {.padding = nn::Padding::same});
  CHECK(yb.dtype() == nn::bf16);
  const Tensor upstream = Tensor::uniform(yf.shape(), -1, 1, gen);
  yf.backward(upstream);
  yb.backward(upstream.to(nn::bf16));
  REQUIRE(xg.grad().defined());
  CHECK(xg.grad().dtype() == nn::f32);
  // The same gradient, up to the bf16 roundings of the upstream and of the gradient converted back through to().
  test::check_close(xg.grad(), xf.grad(), 2e-2, 2e-2, "dx through bf16");
  // The forward is the f32 one rounded once: the conversion path computed it in f32.
  const std::vector<float> low = yb.to(nn::f32).to_vector(), high = yf.to_vector();
  for (size_t i = 0; i < high.size(); ++i) REQUIRE(low[i] == rounded_to_bf16(high[i]));
}

TEST_CASE("elementwise ops on bf16 inputs without a gradient stay bf16: the f32 result rounded once") {
  nn::Generator gen(6);
  const Tensor a = Tensor::uniform({3, 5, 7, 40}, -2, 2, gen).to(nn::bf16);
  const Tensor b = Tensor::uniform({3, 5, 7, 40}, -2, 2, gen).to(nn::bf16);
  const Tensor row = Tensor::uniform({40}, 0.5, 2, gen).to(nn::bf16);  // broadcast along the last axis
  const Tensor af = a.to(nn::f32), bf = b.to(nn::f32), rowf = row.to(nn::f32);
  auto same_as_rounded = [](const Tensor& low, const Tensor& high, const char* what) {
    INFO(what);
    REQUIRE(low.dtype() == nn::bf16);
    const std::vector<float> l = low.to(nn::f32).to_vector(), h = high.to_vector();
    REQUIRE(l.size() == h.size());
    for (size_t i = 0; i < h.size(); ++i) REQUIRE(l[i] == rounded_to_bf16(h[i]));
  };
  {
    nn::NoGradGuard no_grad;
    same_as_rounded(nn::relu(a), nn::relu(af), "relu");
    same_as_rounded(nn::sigmoid(a), nn::sigmoid(af), "sigmoid");
    same_as_rounded(nn::exp(a), nn::exp(af), "exp");
    same_as_rounded(nn::abs(a), nn::abs(af), "abs");
    same_as_rounded(nn::add(a, b), nn::add(af, bf), "add");
    same_as_rounded(nn::sub(a, row), nn::sub(af, rowf), "sub, broadcast");
    same_as_rounded(nn::mul(a, row), nn::mul(af, rowf), "mul, broadcast");
    same_as_rounded(nn::div(a, row), nn::div(af, rowf), "div, broadcast");
    same_as_rounded(nn::add(a, 0.3f), nn::add(af, 0.3f), "add scalar");
    same_as_rounded(nn::mul(a, -1.7f), nn::mul(af, -1.7f), "mul scalar");
  }
  // With a gradient to record, the conversion path: same forward, and the gradient arrives.
  Tensor x = a.to(nn::f32).detach().set_requires_grad();
  const Tensor y = nn::relu(nn::add(x.to(nn::bf16), b));
  same_as_rounded(y, nn::relu(nn::add(af, bf)), "relu(add) with a gradient");
  nn::sum(y.to(nn::f32)).backward();
  REQUIRE(x.grad().defined());
  const std::vector<float> g = x.grad().to_vector(), s = nn::add(af, bf).to(nn::bf16).to(nn::f32).to_vector();
  for (size_t i = 0; i < g.size(); ++i) REQUIRE(g[i] == (s[i] > 0 ? 1.0f : 0.0f));
}

TEST_CASE("the bundled sample's caption is the same with a bf16 feature pass") {
  const std::string model = std::string(NN_SOURCE_DIR) + "/weights/shapes.nnck";
  const std::string sample = std::string(NN_SOURCE_DIR) + "/weights/sample_shapes.jpg";
  captioning::Describer f32(model);
  captioning::Describer bf16(model, {.precision = nn::bf16});
  const std::string expected = f32.describe_file(sample).front().text;
  MESSAGE("f32 caption: " << expected);
  CHECK(bf16.describe_file(sample).front().text == expected);
  CHECK(bf16.describe_file(sample, 3).front().text == f32.describe_file(sample, 3).front().text);
}

TEST_CASE("a feature cache's label names a precision other than f32, and f32 labels are as before") {
  const std::string hash(64, 'a');
  CHECK(captioning::extractor_label(hash, nn::ResizeFilter::nearest) == "xception sha256=" + hash + " filter=nearest");
  CHECK(captioning::extractor_label(hash, nn::ResizeFilter::nearest, nn::f32) ==
        "xception sha256=" + hash + " filter=nearest");
  CHECK(captioning::extractor_label(hash, nn::ResizeFilter::bilinear, nn::bf16) ==
        "xception sha256=" + hash + " precision=bf16 filter=bilinear");
}

TEST_CASE("a bf16 model saves its values widened to f32 exactly and loads a checkpoint rounded into its tensors") {
  nn::Generator gen(11);
  nn::Dense model({.in = 5, .out = 3}, gen);
  const std::vector<float> f32_kernel = model.named_parameters()[0].second.to_vector();
  model.to(nn::bf16);
  test::TempDir dir("nn_bf16_checkpoint");
  nn::save(dir.path / "bf16.nnck", model);
  // Loaded into an f32 model: the bf16 values, exactly (widening is exact).
  nn::Dense plain({.in = 5, .out = 3}, gen);
  nn::load(dir.path / "bf16.nnck", plain, nn::LoadOptions{});
  std::vector<float> expected;
  for (float v : f32_kernel) expected.push_back(rounded_to_bf16(v));
  CHECK(plain.named_parameters()[0].second.dtype() == nn::f32);
  CHECK(plain.named_parameters()[0].second.to_vector() == expected);
  // An f32 checkpoint loaded into a bf16 model: rounded into its bf16 tensors, the f32 bias as it is.
  nn::Dense source({.in = 5, .out = 3}, gen);
  nn::save(dir.path / "f32.nnck", source);
  nn::load(dir.path / "f32.nnck", model, nn::LoadOptions{});
  const Tensor kernel = model.named_parameters()[0].second;
  CHECK(kernel.dtype() == nn::bf16);
  std::vector<float> rounded;
  for (float v : source.named_parameters()[0].second.to_vector()) rounded.push_back(rounded_to_bf16(v));
  CHECK(kernel.to_vector() == rounded);
  CHECK(model.named_parameters()[1].second.to_vector() == source.named_parameters()[1].second.to_vector());
}

TEST_CASE("optimisers refuse a bf16 model by parameter name before changing anything") {
  nn::Generator gen(12);
  nn::Dense model({.in = 2, .out = 2}, gen);
  model.to(nn::bf16);
  nn::Adam adam(model.named_parameters(), {});
  Tensor y = nn::sum(model.forward(Tensor::ones({1, 2}).to(nn::bf16)).to(nn::f32));
  y.backward();
  CHECK_THROWS_WITH_AS(adam.step(),
                       "Adam::step: expected f32 parameters and gradients (convert the model with .to(nn::f32) to "
                       "train it), got bf16 parameter 'kernel'",
                       nn::Error);
  CHECK(adam.steps() == 0);
  CHECK(adam.parameter_steps(0) == 0);
  nn::SGD sgd(model.named_parameters(), {.lr = 0.1f});
  CHECK_THROWS_WITH_AS(sgd.step(),
                       "SGD::step: expected f32 parameters and gradients (convert the model with .to(nn::f32) to "
                       "train it), got bf16 parameter 'kernel'",
                       nn::Error);
}

TEST_CASE("a bf16 Dense gives bf16 (its f32 bias does not promote the result)") {
  nn::Generator gen(13);
  nn::Sequential model{nn::Dense({.in = 3, .out = 4}, gen), nn::Dense({.in = 4, .out = 2}, gen)};
  model.to(nn::bf16);
  CHECK(model.forward(Tensor::ones({2, 3}).to(nn::bf16)).dtype() == nn::bf16);
}
