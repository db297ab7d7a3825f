// The Module API: Sequential taking layers by value, summary(input_shape), clone(), apply(), and the layers of
// issue 15 (Flatten, LayerNorm, the activation layers, Conv2DTranspose).
#include <nn/layers/activation.h>
#include <nn/layers/conv_transpose.h>
#include <nn/layers/flatten.h>
#include <nn/layers/layer_norm.h>

#include <map>
#include <type_traits>

#include "support/check.h"
#include "support/files.h"

using nn::Tensor;

namespace module_api_test {

// Records the mode it ran in.
struct ModeProbe : nn::Layer {
  bool ran_in_training = true;
  Tensor forward(const Tensor& x) override {
    ran_in_training = is_training();
    return x;
  }
};

// A module of one's own: parameters of its own, a child called through forward() (not operator()) and one called
// twice; no clone_module.
struct Net : nn::Module {
  std::shared_ptr<nn::Dense> first, twice;
  Tensor scale;
  Net() {
    first = register_module("first", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 3, .out = 4}));
    twice = register_module("twice", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 4, .out = 4}));
    scale = register_parameter("scale", Tensor::ones({4}));
  }
  Tensor forward(const Tensor& x) { return nn::mul((*twice)((*twice)(first->forward(x))), scale); }
};

// A class derived from a library layer that does not override clone_module().
struct WideDense : nn::Dense {
  WideDense() : nn::Dense({.in = 2, .out = 8}) {}
};

}  // namespace module_api_test

using module_api_test::ModeProbe;
using module_api_test::Net;
using module_api_test::WideDense;

// Modules move but do not copy; Sequential takes a named layer only when it is moved in.
static_assert(std::is_move_constructible_v<nn::Dense> && !std::is_copy_constructible_v<nn::Dense>);
static_assert(!std::is_copy_assignable_v<nn::Dense> && !std::is_move_assignable_v<nn::Dense>);
static_assert(std::is_constructible_v<nn::Sequential, nn::Dense&&, nn::ReLU&&>);
static_assert(!std::is_constructible_v<nn::Sequential, nn::Dense&, nn::ReLU&&>);
static_assert(std::is_constructible_v<nn::Sequential, std::shared_ptr<nn::Dense>&, nn::ReLU&&>);

TEST_CASE("Sequential takes layers by value, shared pointers, or both, and chains them") {
  nn::Generator gen(1);
  nn::Dense named({.in = 4, .out = 3}, gen);
  const Tensor kernel = named.kernel();
  auto shared = std::make_shared<nn::Dense>(nn::DenseOptions{.in = 3, .out = 2}, gen);
  nn::Sequential model{std::move(named), nn::ReLU(), shared, nn::Flatten()};
  REQUIRE(model.size() == 4);
  // Moved, not copied: the Sequential's first layer holds the very tensor the named layer made.
  CHECK(dynamic_cast<nn::Dense&>(model[0]).kernel().data() == kernel.data());
  CHECK(&model[2] == shared.get());
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.kernel", "0.bias", "2.kernel", "2.bias"});

  Tensor x = Tensor::uniform({5, 4}, -1, 1, gen);
  Tensor want = nn::add(
      nn::matmul(nn::relu(nn::add(nn::matmul(x, kernel), model[0].named_parameters()[1].second)), shared->kernel()),
      shared->bias());
  test::check_close(model(x), want, 1e-6, 1e-6, "Sequential output");

  nn::Sequential only_values{nn::Dense({.in = 784, .out = 128}), nn::ReLU(), nn::Dense({.in = 128, .out = 10})};
  CHECK(only_values.num_parameters() == 100480 + 1290);
  nn::Sequential nested{nn::Sequential{nn::Dense({.in = 2, .out = 2}), nn::Tanh()}, nn::Sigmoid()};
  CHECK(nested.size() == 2);
  CHECK(nested.named_parameters()[0].first == "0.0.kernel");
  CHECK_THROWS_WITH_AS(model.add(std::shared_ptr<nn::Layer>()),
                       "Sequential::add: expected a layer, got a null pointer (layer 4)", nn::Error);
  CHECK_THROWS_WITH_AS(model[4], "Sequential: expected a layer index below 4, got 4", nn::Error);
}

TEST_CASE("summary(input_shape) prints Keras's rows: name (type), output shape, parameters, and the totals") {
  nn::Sequential model{nn::Flatten(), nn::Dense({.in = 784, .out = 128}), nn::ReLU(), nn::Dense({.in = 128, .out = 10}),
                       nn::BatchNorm({.channels = 10})};
  const std::string rule(70, '_'), double_rule(70, '=');
  // Dense 784→128: 784·128 + 128 = 100480; Dense 128→10: 1290; BatchNorm(10): γ, β trainable, the two moving
  // statistics not: 40, of which 20 non-trainable.
  const std::string table = "Layer (type)                      Output shape          Param #\n" + double_rule +
                            "\n"
                            "0 (Flatten)                       [2,784]               0\n"
                            "1 (Dense)                         [2,128]               100480\n"
                            "2 (ReLU)                          [2,128]               0\n"
                            "3 (Dense)                         [2,10]                1290\n"
                            "4 (BatchNorm)                     [2,10]                40\n" +
                            double_rule + "\n";
  CHECK(model.summary({2, 28, 28, 1}) == "Model: Sequential, input [2,28,28,1] -> output [2,10]\n" + rule + "\n" +
                                             table +
                                             "Total params: 101,810\nTrainable params: 101,790\n"
                                             "Non-trainable params: 20\n" +
                                             rule + "\n");
  // A parameter that does not require grad counts as non-trainable.
  dynamic_cast<nn::Dense&>(model[3]).bias().set_requires_grad(false);
  const std::string frozen = model.summary({1, 784});
  CHECK(frozen.find("Trainable params: 101,780\nNon-trainable params: 30\n") != std::string::npos);
  CHECK(frozen.find("[1,128]") != std::string::npos);
}

TEST_CASE("summary runs in eval mode without grad, leaves the moving statistics alone and restores every mode") {
  auto probe = std::make_shared<ModeProbe>();
  auto bn = std::make_shared<nn::BatchNorm>(nn::BatchNormOptions{.channels = 3});
  auto frozen = std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.5f});
  nn::Sequential model{probe, bn, frozen};
  model.train();
  frozen->eval();  // a mixed state: restored as it was, not by one train(true)
  model.summary({4, 3});
  CHECK_FALSE(probe->ran_in_training);
  CHECK(model.is_training());
  CHECK(probe->is_training());
  CHECK(bn->is_training());
  CHECK_FALSE(frozen->is_training());
  CHECK(bn->moving_mean().to_vector() == std::vector<float>(3, 0.0f));
  CHECK(bn->moving_variance().to_vector() == std::vector<float>(3, 1.0f));

  CHECK_THROWS_WITH_AS(model.summary({4, 0}),
                       "summary: expected an input shape of extents ≥ 1 and at most 2^28 elements, got [4,0]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(model.summary({1 << 20, 1 << 20}),
                       "summary: expected an input shape of extents ≥ 1 and at most 2^28 elements, got "
                       "[1048576,1048576]",
                       nn::Error);
  // An error inside forward propagates, with the modes restored.
  CHECK_THROWS_AS(model.summary({4, 5}), nn::Error);
  CHECK(bn->is_training());
  CHECK_FALSE(frozen->is_training());
}

TEST_CASE("summary of a module of one's own: own parameters, '?' for a child not called through operator()") {
  Net net;
  const std::string s = net.summary({2, 3}, [&](const Tensor& x) { return net.forward(x); });
  CHECK(s.rfind("Model: module_api_test::Net, input [2,3] -> output [2,4]\n", 0) == 0);
  CHECK(s.find("(own) (module_api_test::Net)      -                     4\n") != std::string::npos);
  CHECK(s.find("first (Dense)                     ?                     16\n") != std::string::npos);
  CHECK(s.find("twice (Dense)                     multiple              20\n") != std::string::npos);
  CHECK(s.find("Total params: 40\nTrainable params: 40\nNon-trainable params: 0\n") != std::string::npos);
}

TEST_CASE("clone() is a deep copy: same values, modes and flags, its own storage") {
  nn::Generator gen(2);
  nn::Sequential model{nn::Dense({.in = 3, .out = 4}, gen), nn::BatchNorm({.channels = 4}), nn::LeakyReLU(0.2f),
                       nn::Dropout({.rate = 0.3f, .seed = 5}), nn::LayerNorm({.normalized_shape = {4}})};
  model[1].named_buffers()[0].second.fill(0.25f);  // moving_mean
  model[0].named_parameters()[1].second.set_requires_grad(false);
  model.eval();
  model[3].train();

  std::shared_ptr<nn::Sequential> copy = nn::clone(model);
  REQUIRE(copy->size() == 5);
  const nn::NamedTensors a = model.named_state(), b = copy->named_state();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.to_vector() == b[i].second.to_vector());
    CHECK(a[i].second.data() != b[i].second.data());
    CHECK(a[i].second.requires_grad() == b[i].second.requires_grad());
  }
  CHECK_FALSE(copy->named_parameters()[1].second.requires_grad());
  CHECK_FALSE(copy->is_training());
  CHECK((*copy)[3].is_training());
  CHECK((*copy)[2].to_string() == "LeakyReLU(negative_slope=0.2)");

  Tensor x = Tensor::uniform({6, 3}, -1, 1, gen);
  // The same output, Dropout's mask stream included (its generator is copied).
  CHECK(model(x).to_vector() == (*copy)(x).to_vector());

  // Changing the clone leaves the original alone.
  const std::vector<float> before = model.named_parameters()[0].second.to_vector();
  copy->named_parameters()[0].second.fill(7.0f);
  copy->named_buffers()[0].second.fill(-1.0f);
  CHECK(model.named_parameters()[0].second.to_vector() == before);
  CHECK(model.named_buffers()[0].second.to_vector() == std::vector<float>(4, 0.25f));
}

TEST_CASE("clone() of the library's other layers and of Xception") {
  nn::Generator gen(3);
  auto check_clone = [&](nn::Layer& layer, const Tensor& x) {
    INFO(layer.to_string());
    std::shared_ptr<nn::Module> copy = layer.clone();
    CHECK(copy->to_string() == layer.to_string());
    auto& copied = dynamic_cast<nn::Layer&>(*copy);
    CHECK(copied(x).to_vector() == layer(x).to_vector());
    for (auto& [name, t] : copy->named_parameters()) t.fill(0.5f);
    for (auto& [name, t] : layer.named_parameters()) CHECK(t.to_vector() != std::vector<float>(t.numel(), 0.5f));
  };
  Tensor image = Tensor::uniform({1, 6, 6, 2}, -1, 1, gen);
  nn::Conv2D conv({.in_channels = 2, .filters = 3}, gen);
  check_clone(conv, image);
  nn::DepthwiseConv2D depthwise({.channels = 2}, gen);
  depthwise.bias().fill(0.1f);
  check_clone(depthwise, image);
  nn::SeparableConv2D separable({.in_channels = 2, .filters = 3}, gen);
  check_clone(separable, image);
  nn::Conv2DTranspose transpose({.in_channels = 2, .filters = 3, .strides = {2, 2}, .padding = nn::Padding::same}, gen);
  check_clone(transpose, image);
  nn::MaxPool2D pool({.size = {3, 3}});
  CHECK(pool.clone()->to_string() == pool.to_string());
  nn::Softmax softmax(0);
  CHECK(dynamic_cast<nn::Layer&>(*softmax.clone())(image).to_vector() == softmax(image).to_vector());

  nn::Xception xception({.width = 1.0f / 32, .middle_blocks = 1}, gen);
  xception.eval();
  std::shared_ptr<nn::Xception> copy = nn::clone(xception);
  CHECK_FALSE(copy->is_training());
  Tensor input = Tensor::uniform({1, 71, 71, 3}, -1, 1, gen);
  CHECK(copy->forward(input).to_vector() == xception.forward(input).to_vector());
  copy->named_parameters()[0].second.fill(0.0f);
  CHECK(copy->forward(input).to_vector() != xception.forward(input).to_vector());
}

TEST_CASE("clone() of a module without clone support is a clear error") {
  Net net;
  CHECK_THROWS_WITH_AS(net.clone(),
                       "Module::clone: module_api_test::Net does not support clone(): override clone_module() "
                       "to build a new module_api_test::Net with the same options (nn/layers/module.h)",
                       nn::Error);
  WideDense wide;
  CHECK_THROWS_WITH_AS(wide.clone(),
                       "Module::clone: expected module_api_test::WideDense::clone_module() to build a "
                       "module_api_test::WideDense, got a Dense (override clone_module() in "
                       "module_api_test::WideDense)",
                       nn::Error);
}

TEST_CASE("apply() visits every module once, children before their parent") {
  auto shared = std::make_shared<nn::Dense>(nn::DenseOptions{.in = 2, .out = 2});
  nn::Sequential inner{shared, nn::ReLU()};
  nn::Sequential model{std::move(inner), shared, nn::Tanh()};
  std::vector<std::string> order;
  std::map<const nn::Module*, int> visits;
  model.apply([&](nn::Module& m) {
    order.push_back(m.type_name());
    ++visits[&m];
  });
  // model, inner Sequential, the shared Dense (registered twice), ReLU, Tanh: five modules.
  CHECK(order == std::vector<std::string>{"Dense", "ReLU", "Sequential", "Tanh", "Sequential"});
  CHECK(visits.size() == 5);
  for (auto& [module, count] : visits) CHECK(count == 1);

  // Custom initialisation through apply.
  model.apply([](nn::Module& m) {
    if (auto* dense = dynamic_cast<nn::Dense*>(&m)) dense->bias().fill(0.5f);
  });
  CHECK(shared->bias().to_vector() == std::vector<float>{0.5f, 0.5f});
}

// One tensor registered under two names in the same module: weights tied by hand.
struct TiedPair : nn::Module {
  Tensor w;
  TiedPair() {
    w = register_parameter("encoder_w", Tensor::ones({3}));
    register_parameter("decoder_w", w);
    register_buffer("count", Tensor::zeros({1}));
    register_buffer("count_again", named_buffers()[0].second);
  }
};

TEST_CASE("tied weights: a tensor reached twice is listed, counted, stepped and clipped once, as in PyTorch") {
  auto d = std::make_shared<nn::Dense>(nn::DenseOptions{.in = 1, .out = 1, .bias = false});
  d->kernel().fill(1.0f);
  nn::Sequential tied{d, d};  // y = w·(w·x): the same layer twice
  const nn::NamedTensors params = tied.named_parameters();
  REQUIRE(params.size() == 1);
  CHECK(params[0].first == "0.kernel");  // the first name it is reached by
  CHECK(tied.parameters().size() == 1);
  CHECK(tied.num_parameters() == 1);
  // A checkpoint holds it once too, under the same name.
  const nn::NamedTensors state = tied.named_state();
  REQUIRE(state.size() == 1);
  CHECK(state[0].first == "0.kernel");
  // Both rows show the shared layer's parameter; the totals count it once.
  const std::string table = tied.summary({1, 1});
  CHECK(table.find("Total params: 1\nTrainable params: 1\nNon-trainable params: 0\n") != std::string::npos);

  // dy/dw = 2·w·x = 2 at w = x = 1; torch.optim.SGD(lr=0.1) on the tied model: w = 1 − 0.1·2 = 0.8 (an update per
  // name would give 0.6).
  nn::SGD sgd(params, {.lr = 0.1f});
  nn::sum(tied(Tensor::from_data({1, 1}, {1.0f}))).backward();
  CHECK(d->kernel().grad().item() == doctest::Approx(2.0));
  // clip_grad_norm given the tensor twice counts its gradient once: the norm is 2, not sqrt(8).
  CHECK(nn::clip_grad_norm({d->kernel(), d->kernel()}, 10.0f) == doctest::Approx(2.0));
  sgd.step();
  CHECK(d->kernel().item() == doctest::Approx(0.8).epsilon(1e-6));

  // A checkpoint of the tied model loads into another tied model (strictly: no entry missing or unused).
  test::TempDir dir;
  nn::save(dir.path / "tied.nnck", tied);
  auto d2 = std::make_shared<nn::Dense>(nn::DenseOptions{.in = 1, .out = 1, .bias = false});
  nn::Sequential tied2{d2, d2};
  nn::load(dir.path / "tied.nnck", tied2);
  CHECK(d2->kernel().item() == d->kernel().item());

  // A clone of the tied model is tied: the layer is copied once and used twice.
  auto copy = nn::clone(tied);
  REQUIRE(copy->named_parameters().size() == 1);
  CHECK(&(*copy)[0] == &(*copy)[1]);
  CHECK(&(*copy)[0] != d.get());
  CHECK(copy->named_parameters()[0].second.item() == d->kernel().item());

  // One tensor registered under two names in one module, parameters and buffers alike.
  TiedPair pair;
  CHECK(pair.named_parameters().size() == 1);
  CHECK(pair.named_parameters()[0].first == "encoder_w");
  CHECK(pair.num_parameters() == 3);
  CHECK(pair.named_buffers().size() == 1);
  CHECK(pair.named_state().size() == 2);
}

TEST_CASE("type_name and the default to_string of a module of one's own") {
  Net net;
  CHECK(net.type_name() == "module_api_test::Net");
  CHECK(net.to_string() == "module_api_test::Net");
  CHECK(nn::Sequential().type_name() == "Sequential");
}

TEST_CASE("Flatten joins the axes after the batch by default, or the ones it is given") {
  Tensor x = Tensor::arange(2 * 3 * 4 * 5).reshape({2, 3, 4, 5}).set_requires_grad();
  nn::Flatten flatten;
  Tensor y = flatten(x);
  CHECK(y.shape() == nn::Shape{2, 60});
  CHECK(y.to_vector() == x.to_vector());
  nn::Flatten middle({.start_axis = 1, .end_axis = 2});
  CHECK(middle(x).shape() == nn::Shape{2, 12, 5});
  CHECK(nn::Flatten({.start_axis = 0})(x).shape() == nn::Shape{120});
  CHECK(nn::Flatten({.start_axis = -2})(x).shape() == nn::Shape{2, 3, 20});
  CHECK(flatten(Tensor::ones({7, 4})).shape() == nn::Shape{7, 4});
  y.backward(Tensor::full({2, 60}, 2.0f));
  CHECK(x.grad().shape() == x.shape());
  CHECK(x.grad().to_vector() == std::vector<float>(120, 2.0f));
  CHECK(flatten.to_string() == "Flatten()");
  CHECK(middle.to_string() == "Flatten(start_axis=1, end_axis=2)");
  CHECK_THROWS_WITH_AS(flatten(Tensor::ones({5})), "Flatten: expected an input with axes 1 to -1, got input [5]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::Flatten({.start_axis = 3, .end_axis = 1})(x),
                       "Flatten: expected an input with axes 3 to 1, got input [2,3,4,5]", nn::Error);
}

TEST_CASE("LayerNorm has Keras's gamma and beta over normalized_shape and is the layer_norm op") {
  nn::LayerNorm norm({.normalized_shape = {3, 4}});
  nn::NamedTensors p = norm.named_parameters();
  REQUIRE(p.size() == 2);
  CHECK(p[0].first == "gamma");
  CHECK(p[0].second.to_vector() == std::vector<float>(12, 1.0f));
  CHECK(p[1].first == "beta");
  CHECK(p[1].second.shape() == nn::Shape{3, 4});
  nn::Generator gen(4);
  norm.gamma().copy_from(Tensor::uniform({3, 4}, 0.5f, 1.5f, gen));
  norm.beta().copy_from(Tensor::uniform({3, 4}, -1, 1, gen));
  Tensor x = Tensor::uniform({2, 3, 4}, -2, 2, gen);
  CHECK(norm(x).to_vector() == nn::layer_norm(x, {3, 4}, norm.gamma(), norm.beta(), 1e-3f).to_vector());
  // Each sample normalised on its own: with gamma 1 and beta 0 every row has mean 0 and variance 1/(1 + ε/σ²).
  nn::LayerNorm plain({.normalized_shape = {4}, .epsilon = 0.0f, .center = false, .scale = false});
  CHECK(plain.named_parameters().empty());
  Tensor y = plain(Tensor::from_data({2, 4}, {1, 2, 3, 4, -10, 0, 10, 20}));
  const float r1 = 1.0f / std::sqrt(1.25f), r2 = 1.0f / std::sqrt(125.0f);
  test::check_close(y, {-1.5f * r1, -0.5f * r1, 0.5f * r1, 1.5f * r1, -15 * r2, -5 * r2, 5 * r2, 15 * r2}, 1e-6, 1e-6,
                    "normalised rows");
  CHECK(norm.to_string() == "LayerNorm([3,4], epsilon=0.001)");
  CHECK_THROWS_WITH_AS(nn::LayerNorm({.normalized_shape = {}}),
                       "LayerNorm: expected a non-empty normalized_shape of positive extents, got []", nn::Error);
  CHECK_THROWS_WITH_AS(norm(Tensor::ones({2, 4, 3})),
                       "layer_norm: expected an input whose last axes are [3,4], got input [2,4,3]", nn::Error);
}

TEST_CASE("the activation layers are the ops of the same name") {
  nn::Generator gen(5);
  Tensor x = Tensor::uniform({3, 4}, -3, 3, gen);
  struct Case {
    std::shared_ptr<nn::Layer> layer;
    Tensor want;
    const char* config;
  };
  const std::vector<Case> cases = {
      {std::make_shared<nn::ReLU>(), nn::relu(x), "ReLU()"},
      {std::make_shared<nn::LeakyReLU>(0.2f), nn::leaky_relu(x, 0.2f), "LeakyReLU(negative_slope=0.2)"},
      {std::make_shared<nn::LeakyReLU>(), nn::leaky_relu(x, 0.01f), "LeakyReLU(negative_slope=0.01)"},
      {std::make_shared<nn::ELU>(0.5f), nn::elu(x, 0.5f), "ELU(alpha=0.5)"},
      {std::make_shared<nn::GELU>(), nn::gelu(x), "GELU()"},
      {std::make_shared<nn::SiLU>(), nn::silu(x), "SiLU()"},
      {std::make_shared<nn::Sigmoid>(), nn::sigmoid(x), "Sigmoid()"},
      {std::make_shared<nn::Tanh>(), nn::tanh(x), "Tanh()"},
      {std::make_shared<nn::Softmax>(), nn::softmax(x, -1), "Softmax(axis=-1)"},
      {std::make_shared<nn::Softmax>(0), nn::softmax(x, 0), "Softmax(axis=0)"},
  };
  for (const Case& c : cases) {
    INFO(c.config);
    CHECK((*c.layer)(x).to_vector() == c.want.to_vector());
    CHECK(c.layer->to_string() == c.config);
    CHECK(c.layer->num_parameters() == 0);
  }
  CHECK(nn::ReLU().type_name() == "ReLU");
}

TEST_CASE("Conv2DTranspose: Keras's kernel layout (KH,KW,OC,C), initialisers, and the op with its activation") {
  nn::Generator gen(6);
  nn::Conv2DTranspose layer({.in_channels = 4,
                             .filters = 3,
                             .strides = {2, 2},
                             .padding = nn::Padding::same,
                             .activation = nn::Activation::relu},
                            gen);
  nn::NamedTensors p = layer.named_parameters();
  REQUIRE(p.size() == 2);
  CHECK(p[0].first == "kernel");
  CHECK(p[0].second.shape() == nn::Shape{3, 3, 3, 4});
  CHECK(p[1].first == "bias");
  CHECK(p[1].second.to_vector() == std::vector<float>(3, 0.0f));
  const float limit = std::sqrt(6.0f / (9 * 3 + 9 * 4));  // glorot: fan_in 3·3·3, fan_out 3·3·4
  float largest = 0;
  for (float v : p[0].second.to_vector()) largest = std::max(largest, std::fabs(v));
  CHECK(largest <= limit);
  CHECK(largest > 0.9f * limit);
  layer.bias().fill(0.1f);
  Tensor x = Tensor::uniform({2, 5, 4, 4}, -1, 1, gen);
  Tensor y = layer(x);
  CHECK(y.shape() == nn::Shape{2, 10, 8, 3});
  Tensor want = nn::relu(
      nn::conv2d_transpose(x, layer.kernel(), layer.bias(), {.strides = {2, 2}, .padding = nn::Padding::same}));
  CHECK(y.to_vector() == want.to_vector());
  CHECK(layer.to_string() == "Conv2DTranspose(4->3, kernel=3x3, strides=2x2, padding=same, activation=relu)");
  nn::Conv2DTranspose padded({.in_channels = 1, .filters = 1, .strides = {2, 2}, .output_padding = {{1, 0}}});
  CHECK(padded(Tensor::ones({1, 3, 3, 1})).shape() == nn::Shape{1, 8, 7, 1});  // (3−1)·2 + 3 + 1, 3·2 + 1
  CHECK(padded.to_string() == "Conv2DTranspose(1->1, kernel=3x3, strides=2x2, padding=valid, output_padding=1x0)");
  CHECK_THROWS_WITH_AS(nn::Conv2DTranspose({.in_channels = 4, .filters = 0}),
                       "Conv2DTranspose: expected in_channels, filters and kernel_size > 0, got in_channels=4, "
                       "filters=0, kernel_size=3x3",
                       nn::Error);
}
