#include <array>

#include "support/check.h"

using nn::Tensor;

TEST_CASE("Dense registers kernel and bias by name, Keras's initialisers, and computes x·W + b") {
  nn::Generator gen(1);
  nn::Dense dense({.in = 300, .out = 200}, gen);
  nn::NamedTensors params = dense.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "kernel");
  CHECK(params[0].second.shape() == nn::Shape{300, 200});
  CHECK(params[1].first == "bias");
  CHECK(params[1].second.to_vector() == std::vector<float>(200, 0.0f));
  float limit = std::sqrt(6.0f / 500.0f);
  float largest = 0;
  for (float v : params[0].second.to_vector()) largest = std::max(largest, std::fabs(v));
  CHECK(largest <= limit);
  CHECK(largest > 0.95f * limit);  // uniform over the whole ±limit range
  CHECK(dense.num_parameters() == 300 * 200 + 200);

  nn::Dense small({.in = 2, .out = 1, .activation = nn::Activation::relu}, gen);
  small.kernel().copy_from(Tensor::from_data({2, 1}, {1, -1}));
  small.bias().copy_from(Tensor::from_data({1}, {0.5f}));
  Tensor y = small(Tensor::from_data({3, 2}, {1, 2, 3, 1, 0, 4}));
  CHECK(y.to_vector() == std::vector<float>{0, 2.5f, 0});
  CHECK(small.to_string() == "Dense(in=2, out=1, activation=relu)");
}

TEST_CASE("linear (the bias in the GEMM's store) equals matmul then add, values and gradients, and names bad shapes") {
  // Sizes past the AVX-512 kernel's threshold, with partial tiles on both sides (37 rows = 2·14 + 9, 45 columns =
  // 32 + 13), so that the bias goes through the masked store; matmul and add are checked against PyTorch elsewhere.
  nn::Generator gen(4);
  for (auto [m, k, n] : {std::array<int64_t, 3>{37, 64, 45}, std::array<int64_t, 3>{3, 5, 2}}) {
    Tensor x = Tensor::uniform({m, k}, -1, 1, gen), w = Tensor::uniform({k, n}, -1, 1, gen),
           b = Tensor::uniform({n}, -1, 1, gen);
    x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad();
    const Tensor g = Tensor::uniform({m, n}, -1, 1, gen);
    Tensor fused = nn::linear(x, w, b);
    fused.backward(g);
    const Tensor gx = x.grad().clone(), gw = w.grad().clone(), gb = b.grad().clone();
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor plain = nn::add(nn::matmul(x, w), b);
    plain.backward(g);
    test::check_close(fused, plain, 1e-6, 1e-6, "linear's values");
    test::check_close(gx, x.grad(), 1e-6, 1e-6, "x's gradient");
    test::check_close(gw, w.grad(), 1e-6, 1e-6, "w's gradient");
    test::check_close(gb, b.grad(), 1e-6, 1e-6, "the bias's gradient");
  }
  // Depth 0: no products, every row the bias (the GEMM is not asked for a product of depth 0).
  const Tensor bias = Tensor::from_data({3}, {1, -2, 0.5f});
  CHECK(nn::linear(Tensor::empty({2, 0}), Tensor::empty({0, 3}), bias).to_vector() ==
        std::vector<float>{1, -2, 0.5f, 1, -2, 0.5f});
  CHECK_THROWS_WITH_AS(nn::linear(Tensor::ones({2, 3}), Tensor::ones({3, 5}), Tensor()),
                       "linear: expected x, w and bias all defined, got an undefined bias", nn::Error);
  CHECK_THROWS_WITH_AS(nn::linear(Tensor::ones({2, 3}), Tensor::ones({4, 5}), Tensor::ones({5})),
                       "linear: expected x (M,K) and w (K,N), got x [2,3] and w [4,5]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::linear(Tensor::ones({2, 3}), Tensor::ones({3, 5}), Tensor::ones({4})),
                       "linear: expected a bias of shape [5], got [4]", nn::Error);
}

TEST_CASE("Dense applies to the last axis of any rank and names shapes in its errors") {
  nn::Dense dense({.in = 3, .out = 2});
  CHECK(dense(Tensor::ones({4, 5, 3})).shape() == nn::Shape{4, 5, 2});
  CHECK_THROWS_WITH_AS(dense(Tensor::ones({4, 7})), "Dense: expected input features 3 (kernel [3,2]), got input [4,7]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::Dense({.in = 0, .out = 2}), "Dense: expected in > 0 and out > 0, got in=0, out=2",
                       nn::Error);
}

TEST_CASE("Embedding looks rows up, masks id 0 with mask_zero, and rejects ids out of range") {
  nn::Generator gen(2);
  nn::Embedding emb({.vocab = 10, .dim = 4, .mask_zero = true}, gen);
  CHECK(emb.named_parameters()[0].first == "embeddings");
  for (float v : emb.weight().to_vector()) CHECK(std::fabs(v) <= 0.05f);
  nn::Indices ids({2, 3}, {3, 1, 0, 9, 0, 0});
  Tensor e = emb(ids);
  CHECK(e.shape() == nn::Shape{2, 3, 4});
  CHECK(e.at({1, 0, 2}) == emb.weight().at({9, 2}));
  CHECK(emb.mask(ids).to_vector() == std::vector<float>{1, 1, 0, 1, 0, 0});
  CHECK_THROWS_WITH_AS(emb(nn::Indices({1}, {10})),
                       "embedding: expected ids in [0,10) (weight [10,4]), got 10 at flat position 0", nn::Error);
}

TEST_CASE("LSTM has Keras's parameter names, shapes and initialisers") {
  nn::Generator gen(3);
  nn::LSTM lstm({.input_size = 5, .units = 4}, gen);
  nn::NamedTensors p = lstm.named_parameters();
  REQUIRE(p.size() == 3);
  CHECK(p[0].first == "kernel");
  CHECK(p[0].second.shape() == nn::Shape{5, 16});
  CHECK(p[1].first == "recurrent_kernel");
  CHECK(p[2].first == "bias");
  // Forget-gate block (units 4..7) of the bias starts at 1, the rest at 0.
  std::vector<float> bias = p[2].second.to_vector();
  for (int j = 0; j < 16; ++j) CHECK(bias[j] == ((j >= 4 && j < 8) ? 1.0f : 0.0f));
  // The recurrent kernel (4, 16) has orthonormal rows: R·Rᵀ = I.
  Tensor rrt = nn::matmul(p[1].second, p[1].second, false, true);
  test::check_close(rrt, nn::Tensor::from_data({4, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), 0, 1e-5,
                    "R·Rᵀ");
  CHECK(lstm.num_parameters() == 5 * 16 + 4 * 16 + 16);
}

TEST_CASE("LSTM: masked steps carry the state, return_sequences picks the output") {
  nn::Generator gen(4);
  nn::LSTM seq({.input_size = 3, .units = 2, .return_sequences = true}, gen);
  Tensor x = Tensor::uniform({2, 4, 3}, -1, 1, gen);
  Tensor mask = Tensor::from_data({2, 4}, {1, 1, 0, 0, 1, 0, 1, 1});
  nn::LstmResult r = seq.forward(x, mask);
  // Row 0 stops after step 1: its outputs and last state repeat step 1's h.
  for (int j = 0; j < 2; ++j) {
    CHECK(r.outputs.at({0, 2, j}) == r.outputs.at({0, 1, j}));
    CHECK(r.outputs.at({0, 3, j}) == r.outputs.at({0, 1, j}));
    CHECK(r.h.at({0, j}) == r.outputs.at({0, 1, j}));
    CHECK(r.outputs.at({1, 1, j}) == r.outputs.at({1, 0, j}));  // a masked step in the middle
  }
  // Masking a step is the same as leaving it out.
  Tensor short_x = nn::slice(x, 1, 0, 2);
  nn::LstmResult s = seq.forward(nn::slice(short_x, 0, 0, 1), Tensor());
  for (int j = 0; j < 2; ++j) CHECK(s.h.at({0, j}) == doctest::Approx(r.h.at({0, j})).epsilon(1e-6));
  CHECK(seq(x).shape() == nn::Shape{2, 4, 2});
  nn::LSTM last({.input_size = 3, .units = 2}, gen);
  CHECK(last(x).shape() == nn::Shape{2, 2});
  CHECK_THROWS_WITH_AS(seq.forward(x, Tensor::ones({2, 5})), "lstm: expected a mask of shape [2,4], got [2,5]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(seq(Tensor::ones({2, 4, 7})), "lstm: expected a kernel of shape [7,8], got [3,8]", nn::Error);
}

TEST_CASE("Dropout is active in train mode only, scales kept values, and is reproducible from its seed") {
  nn::Dropout drop({.rate = 0.5f, .seed = 9});
  Tensor x = Tensor::ones({10000});
  Tensor y = drop(x);
  int zeros = 0;
  for (float v : y.to_vector()) {
    CHECK((v == 0.0f || v == 2.0f));
    zeros += v == 0.0f;
  }
  CHECK(zeros > 4700);
  CHECK(zeros < 5300);
  nn::Dropout again({.rate = 0.5f, .seed = 9});
  CHECK(again(x).to_vector() == y.to_vector());
  drop.eval();
  CHECK(drop(x).data() == x.data());
  CHECK_THROWS_WITH_AS(nn::Dropout({.rate = 1.0f}), "Dropout: expected a rate in [0, 1), got 1.000000", nn::Error);
}

TEST_CASE("Sequential chains layers, names children by position and switches their mode") {
  nn::Generator gen(5);
  auto drop = std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.5f});
  nn::Sequential model{std::make_shared<nn::Dense>(nn::DenseOptions{.in = 4, .out = 3}, gen), drop,
                       std::make_shared<nn::Dense>(nn::DenseOptions{.in = 3, .out = 2}, gen)};
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.kernel", "0.bias", "2.kernel", "2.bias"});
  model.eval();
  CHECK_FALSE(drop->is_training());
  Tensor x = Tensor::uniform({5, 4}, -1, 1, gen);
  CHECK(model(x).shape() == nn::Shape{5, 2});
  CHECK(model.summary() ==
        "Sequential(3 layers)\n  0: Dense(in=4, out=3, activation=linear)\n  1: Dropout(rate=0.5)\n"
        "  2: Dense(in=3, out=2, activation=linear)\n");
}

namespace layers_test {
// A module of one's own, with no to_string of its own.
struct TwoLayerNet : nn::Module {
  std::shared_ptr<nn::Dense> hidden, out;
  TwoLayerNet() {
    hidden = register_module("hidden", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 3, .out = 4}));
    out = register_module("out", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 4, .out = 1}));
  }
};
}  // namespace layers_test

TEST_CASE("a module of one's own needs no to_string: its type name is the default") {
  layers_test::TwoLayerNet net;
  CHECK(net.to_string() == "layers_test::TwoLayerNet");
  CHECK(net.summary().rfind("layers_test::TwoLayerNet\n", 0) == 0);
  CHECK(net.summary().find("hidden: Dense(") != std::string::npos);
}

TEST_CASE("Dense takes the newer activations by name, and they are the ops of the same name") {
  nn::Generator gen(5);
  const nn::Tensor x = nn::Tensor::uniform({2, 3}, -2, 2, gen);
  for (nn::Activation a :
       {nn::Activation::leaky_relu, nn::Activation::elu, nn::Activation::gelu, nn::Activation::silu}) {
    INFO(nn::to_string(a));
    nn::Dense layer({.in = 3, .out = 5, .activation = a});
    const nn::Tensor z = nn::add(nn::matmul(x, layer.kernel()), layer.bias());
    const nn::Tensor want = a == nn::Activation::leaky_relu ? nn::leaky_relu(z)
                            : a == nn::Activation::elu      ? nn::elu(z)
                            : a == nn::Activation::gelu     ? nn::gelu(z)
                                                            : nn::silu(z);
    test::check_close(layer(x), want, 1e-6, 1e-6, nn::to_string(a));
  }
  CHECK(std::string(nn::to_string(nn::Activation::gelu)) == "gelu");
}
