// GRU, Bidirectional and MultiHeadAttention: PyTorch reference values and gradients (fixtures written by
// tests/reference/make_recurrent_fixtures.py, agreement to 1e-5 relative), the finite-difference table, behaviour
// and error messages.
#include <cmath>
#include <map>

#include <nn/layers/attention.h>
#include <nn/layers/bidirectional.h>
#include <nn/layers/gru.h>

#include "support/check.h"
#include "support/fixtures.h"

using nn::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

constexpr double kRtol = 1e-5, kAtol = 1e-6;

void close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  test::check_close(actual, expected, kRtol, kAtol, what);
}

// Σ a ⊙ b: the objective whose gradient is `b`, the fixture's upstream gradient.
Tensor dot(const Tensor& a, const Tensor& b) {
  return nn::sum(nn::mul(a, b));
}

// outputs (N,T,F) with the positions where mask (N,T) is 0 zeroed: torch's packed sequences write zeros there.
Tensor kept(const Tensor& outputs, const Tensor& mask) {
  return nn::mul(outputs, mask.reshape({mask.dim(0), mask.dim(1), 1}));
}

// Copies the fixture's tensors PREFIX + name into the module's parameters of the same name.
void load(nn::Module& module, const test::Fixture& f, const std::string& prefix = "") {
  for (auto& [name, p] : module.named_parameters()) p.copy_from(f[prefix + name]);
}

// Every parameter's gradient against the fixture's PREFIX + "d_" + name.
void check_parameter_grads(const nn::Module& module, const test::Fixture& f, const std::string& prefix = "") {
  for (const auto& [name, p] : module.named_parameters()) close(p.grad(), f[prefix + "d_" + name], "grad " + name);
}

// Reads a fixture's GRU weights (kernel, recurrent_kernel, bias) as leaves.
nn::GruWeights gru_leaves(const test::Fixture& f) {
  return {f["kernel"].set_requires_grad(), f["recurrent_kernel"].set_requires_grad(), f["bias"].set_requires_grad()};
}

void check_gru_grads(const nn::GruWeights& w, const test::Fixture& f) {
  close(w.kernel.grad(), f["d_kernel"], "grad kernel");
  close(w.recurrent_kernel.grad(), f["d_recurrent_kernel"], "grad recurrent kernel");
  close(w.bias.grad(), f["d_bias"], "grad bias");
}

}  // namespace

// ---- GRU ----

TEST_CASE("gru matches torch.nn.GRU in torch's and Keras's gate order, loaded with gru_weights_from_torch") {
  test::Fixture f("recurrent_gru_torch.txt");
  for (nn::GruGateOrder order : {nn::GruGateOrder::torch, nn::GruGateOrder::keras}) {
    const bool torch_order = order == nn::GruGateOrder::torch;
    CAPTURE(torch_order);
    nn::GruWeights w = nn::gru_weights_from_torch(f["weight_ih"], f["weight_hh"], f["b_ih"], f["b_hh"], order);
    if (!torch_order) {  // the conversion against the script's own reordering of the blocks
      close(w.kernel, f["keras_kernel"], "converted kernel");
      close(w.recurrent_kernel, f["keras_recurrent_kernel"], "converted recurrent kernel");
      close(w.bias, f["keras_bias"], "converted bias");
    }
    for (Tensor* t : {&w.kernel, &w.recurrent_kernel, &w.bias}) t->set_requires_grad();
    Tensor x = f["x"].set_requires_grad(), h0 = f["h0"].set_requires_grad();
    nn::GruResult r = nn::gru(x, w, {.initial_h = h0, .gate_order = order});
    close(r.outputs, f["outputs"], "outputs");
    close(r.h, f["h"], "last h");
    nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.h, f["grad_h"])).backward();
    close(x.grad(), f["d_x"], "grad x");
    close(h0.grad(), f["d_h0"], "grad h0");
    close(w.kernel.grad(), torch_order ? f["d_kernel_torch"] : f["d_keras_kernel"], "grad kernel");
    close(w.recurrent_kernel.grad(), torch_order ? f["d_recurrent_kernel_torch"] : f["d_keras_recurrent_kernel"],
          "grad recurrent kernel");
    close(w.bias.grad(), torch_order ? f["d_bias_torch"] : f["d_keras_bias"], "grad bias");
  }
}

TEST_CASE("the masked GRU matches torch.nn.GRU over packed padded sequences, forward and all gradients") {
  test::Fixture f("recurrent_gru_packed.txt");
  nn::GruWeights w = gru_leaves(f);
  Tensor x = f["x"].set_requires_grad(), mask = f["mask"];
  nn::GruResult r = nn::gru(x, w, {.mask = mask});
  close(kept(r.outputs, mask), f["outputs"], "outputs at kept positions");
  close(r.h, f["h"], "last h (the state at each row's last valid step)");
  nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.h, f["grad_h"])).backward();
  close(x.grad(), f["d_x"], "grad x");
  check_gru_grads(w, f);
}

TEST_CASE("a GRU with masks anywhere carries h like a torch GRUCell loop, initial state and all gradients") {
  test::Fixture f("recurrent_gru_masked_loop.txt");
  nn::GruWeights w = gru_leaves(f);
  Tensor x = f["x"].set_requires_grad(), h0 = f["h0"].set_requires_grad();
  nn::GruResult r = nn::gru(x, w, {.mask = f["mask"], .initial_h = h0});
  close(r.outputs, f["outputs"], "outputs, masked steps repeating h");
  close(r.h, f["h"], "last h");
  nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.h, f["grad_h"])).backward();
  close(x.grad(), f["d_x"], "grad x");
  close(h0.grad(), f["d_h0"], "grad h0");
  check_gru_grads(w, f);
}

TEST_CASE("Keras 2.0's GRU (reset_after=false, hard_sigmoid, bias (3U)) matches its loop in torch, masked") {
  test::Fixture f("recurrent_gru_reset_before.txt");
  nn::GruWeights w = gru_leaves(f);
  Tensor x = f["x"].set_requires_grad(), h0 = f["h0"].set_requires_grad();
  nn::GruResult r = nn::gru(x, w,
                            {.mask = f["mask"],
                             .initial_h = h0,
                             .reset_after = false,
                             .recurrent_activation = nn::RecurrentActivation::hard_sigmoid});
  close(r.outputs, f["outputs"], "outputs");
  close(r.h, f["h"], "last h");
  nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.h, f["grad_h"])).backward();
  close(x.grad(), f["d_x"], "grad x");
  close(h0.grad(), f["d_h0"], "grad h0");
  check_gru_grads(w, f);
}

TEST_CASE("the GRU layer: Keras's parameter names and shapes, return_sequences, and torch's values") {
  nn::GRU keras({.input_size = 3, .units = 3});
  std::map<std::string, nn::Shape> shapes;
  for (const auto& [name, p] : keras.named_parameters()) shapes[name] = p.shape();
  CHECK(shapes == std::map<std::string, nn::Shape>{{"bias", {2, 9}}, {"kernel", {3, 9}}, {"recurrent_kernel", {3, 9}}});
  CHECK(nn::GRU({.input_size = 3, .units = 3, .reset_after = false}).bias().shape() == nn::Shape{9});
  CHECK_FALSE(nn::GRU({.input_size = 3, .units = 3, .bias = false}).bias().defined());
  CHECK(keras.to_string() == "GRU(input_size=3, units=3)");
  CHECK(nn::GRU({.input_size = 2, .units = 4, .return_sequences = true, .gate_order = nn::GruGateOrder::torch})
            .to_string() == "GRU(input_size=2, units=4, return_sequences=true, gate_order=torch)");

  test::Fixture f("recurrent_gru_torch.txt");
  nn::GruWeights w = nn::gru_weights_from_torch(f["weight_ih"], f["weight_hh"], f["b_ih"], f["b_hh"]);
  keras.kernel().copy_from(w.kernel);
  keras.recurrent_kernel().copy_from(w.recurrent_kernel);
  keras.bias().copy_from(w.bias);
  nn::GruResult r = keras.forward(f["x"], Tensor(), f["h0"]);
  close(r.outputs, f["outputs"], "layer outputs");
  // forward(x) starts from zeros: its last h equals the last of the sequence run from zeros.
  Tensor from_zeros = keras.forward(f["x"], Tensor()).h;
  close(keras(f["x"]), from_zeros, "forward(x) without return_sequences is the last h");
  nn::GRU sequences({.input_size = 3, .units = 3, .return_sequences = true});
  sequences.kernel().copy_from(w.kernel);
  sequences.recurrent_kernel().copy_from(w.recurrent_kernel);
  sequences.bias().copy_from(w.bias);
  close(sequences(f["x"]), keras.forward(f["x"], Tensor()).outputs, "return_sequences gives every step");
}

TEST_CASE("a GRU over zero steps returns its initial state") {
  nn::GRU layer({.input_size = 2, .units = 3});
  Tensor h0 = Tensor::full({2, 3}, 0.25f);
  nn::GruResult r = layer.forward(Tensor::zeros({2, 0, 2}), Tensor(), h0);
  CHECK(r.outputs.shape() == nn::Shape{2, 0, 3});
  close(r.h, h0, "h");
}

TEST_CASE("GRU errors name the tensor and the shapes") {
  Tensor x = Tensor::zeros({2, 4, 3});
  nn::GruWeights w{Tensor::zeros({3, 6}), Tensor::zeros({2, 6}), Tensor::zeros({2, 6})};
  CHECK_THROWS_WITH_AS(nn::gru(Tensor::zeros({2, 3}), w), "gru: expected an input of shape (N,T,E), got [2,3]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(Tensor::zeros({2, 4, 5}), w),
                       "gru: expected a kernel of shape [5,6] (input [2,4,5]), got [3,6]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(x, {w.kernel, Tensor::zeros({2, 8}), w.bias}),
                       "gru: expected a recurrent kernel of shape [2,6], got [2,8]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(x, w, {.reset_after = false}),
                       "gru: expected a bias of shape [6] (reset_after=false), got [2,6]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(x, {w.kernel, w.recurrent_kernel, Tensor::zeros({6})}),
                       "gru: expected a bias of shape [2,6] (reset_after: input and recurrent rows), got [6]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(x, w, {.mask = Tensor::ones({2, 5})}),
                       "gru: expected a mask of shape [2,4] (input [2,4,3]), got [2,5]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::gru(x, w, {.initial_h = Tensor::zeros({3, 2})}),
                       "gru: expected an initial h of shape [2,2], got [3,2]", nn::Error);
  CHECK_THROWS_WITH_AS(
      nn::gru_weights_from_torch(Tensor::zeros({6, 3}), Tensor::zeros({6, 3}), Tensor::zeros({6}), Tensor::zeros({6})),
      "gru_weights_from_torch: expected weight_hh of shape (3U,U), got [6,3]", nn::Error);
  CHECK_THROWS_WITH_AS(
      nn::gru_weights_from_torch(Tensor::zeros({9, 4}), Tensor::zeros({6, 2}), Tensor::zeros({6}), Tensor::zeros({6})),
      "gru_weights_from_torch: expected weight_ih of shape (3U,E) with U = 2 (weight_hh [6,2]), got "
      "[9,4]",
      nn::Error);
  CHECK_THROWS_WITH_AS(
      nn::gru_weights_from_torch(Tensor::zeros({6, 4}), Tensor::zeros({6, 2}), Tensor::zeros({6}), Tensor::zeros({5})),
      "gru_weights_from_torch: expected b_hh of shape [6], got [5]", nn::Error);
  CHECK_THROWS_WITH_AS(nn::GRU({.input_size = 3, .units = 0}),
                       "GRU: expected input_size > 0 and units > 0, got input_size=3, units=0", nn::Error);
}

// ---- Bidirectional ----

TEST_CASE("a bidirectional LSTM matches torch.nn.LSTM(bidirectional=True) over packed sequences, initial states") {
  test::Fixture f("recurrent_bilstm_packed.txt");
  nn::Bidirectional bi(nn::LSTMOptions{.input_size = 3, .units = 2, .return_sequences = true});
  load(bi, f);
  Tensor x = f["x"].set_requires_grad(), mask = f["mask"];
  std::vector<Tensor> forward_state{f["h0_forward"].set_requires_grad(), f["c0_forward"].set_requires_grad()};
  std::vector<Tensor> backward_state{f["h0_backward"].set_requires_grad(), f["c0_backward"].set_requires_grad()};
  nn::BidirectionalResult r = bi.forward(x, mask, forward_state, backward_state);
  close(kept(r.outputs, mask), f["outputs"], "concatenated outputs at valid positions");
  close(r.last, f["last"], "last states [forward, backward]");
  close(r.forward_state[0], f["h_forward"], "forward h");
  close(r.backward_state[0], f["h_backward"], "backward h");
  close(r.forward_state[1], f["c_forward"], "forward c");
  close(r.backward_state[1], f["c_backward"], "backward c");
  Tensor objective =
      nn::add(nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.last, f["grad_last"])),
              nn::add(dot(r.forward_state[1], f["grad_c_forward"]), dot(r.backward_state[1], f["grad_c_backward"])));
  objective.backward();
  close(x.grad(), f["d_x"], "grad x");
  close(forward_state[0].grad(), f["d_h0_forward"], "grad forward h0");
  close(forward_state[1].grad(), f["d_c0_forward"], "grad forward c0");
  close(backward_state[0].grad(), f["d_h0_backward"], "grad backward h0");
  close(backward_state[1].grad(), f["d_c0_backward"], "grad backward c0");
  check_parameter_grads(bi, f);
}

TEST_CASE("a bidirectional GRU matches torch.nn.GRU(bidirectional=True) over packed sequences, initial states") {
  test::Fixture f("recurrent_bigru_packed.txt");
  nn::Bidirectional bi(nn::GRUOptions{.input_size = 3, .units = 2, .return_sequences = true});
  load(bi, f);
  Tensor x = f["x"].set_requires_grad(), mask = f["mask"];
  Tensor h0_forward = f["h0_forward"].set_requires_grad(), h0_backward = f["h0_backward"].set_requires_grad();
  nn::BidirectionalResult r = bi.forward(x, mask, {h0_forward}, {h0_backward});
  close(kept(r.outputs, mask), f["outputs"], "concatenated outputs at valid positions");
  close(r.last, f["last"], "last states [forward, backward]");
  nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.last, f["grad_last"])).backward();
  close(x.grad(), f["d_x"], "grad x");
  close(h0_forward.grad(), f["d_h0_forward"], "grad forward h0");
  close(h0_backward.grad(), f["d_h0_backward"], "grad backward h0");
  check_parameter_grads(bi, f);
}

TEST_CASE("a bidirectional GRU over a mask with gaps follows Keras's go_backwards (a torch GRUCell loop)") {
  test::Fixture f("recurrent_bigru_gaps.txt");
  nn::Bidirectional bi(nn::GRUOptions{.input_size = 3, .units = 2, .return_sequences = true});
  load(bi, f);
  Tensor x = f["x"].set_requires_grad();
  nn::BidirectionalResult r = bi.forward(x, f["mask"]);
  close(r.outputs, f["outputs"], "outputs at every position");
  close(r.last, f["last"], "last states");
  nn::add(dot(r.outputs, f["grad_outputs"]), dot(r.last, f["grad_last"])).backward();
  close(x.grad(), f["d_x"], "grad x");
  check_parameter_grads(bi, f);
}

TEST_CASE("Bidirectional's sum, mul and ave merges match torch's two halves merged, values and grad x") {
  test::Fixture f("recurrent_bigru_merges.txt");
  for (nn::MergeMode mode : {nn::MergeMode::sum, nn::MergeMode::mul, nn::MergeMode::ave}) {
    const std::string name = nn::to_string(mode);
    CAPTURE(name);
    nn::Bidirectional bi(nn::GRUOptions{.input_size = 3, .units = 2}, {.merge_mode = mode});
    load(bi, f);
    Tensor x = f["x"].set_requires_grad();
    nn::BidirectionalResult r = bi.forward(x, Tensor());
    close(r.outputs, f[name + "_outputs"], name + " outputs");
    close(r.last, f[name + "_last"], name + " last");
    close(bi(x), f[name + "_last"], "forward(x) without return_sequences is the merged last state");
    nn::add(dot(r.outputs, f[name + "_grad_outputs"]), dot(r.last, f[name + "_grad_last"])).backward();
    close(x.grad(), f[name + "_d_x"], name + " grad x");
  }
}

TEST_CASE("Bidirectional: names, configuration and errors") {
  nn::Bidirectional bi(nn::LSTMOptions{.input_size = 3, .units = 2}, {.merge_mode = nn::MergeMode::ave});
  std::vector<std::string> names;
  for (const auto& [name, p] : bi.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"forward.kernel", "forward.recurrent_kernel", "forward.bias",
                                          "backward.kernel", "backward.recurrent_kernel", "backward.bias"});
  CHECK(bi.to_string() == "Bidirectional(LSTM(input_size=3, units=2), merge_mode=ave)");
  CHECK(std::dynamic_pointer_cast<nn::LSTM>(bi.backward_layer()) != nullptr);
  // The two copies start from different weights.
  CHECK(bi.forward_layer()->named_parameters()[0].second.to_vector() !=
        bi.backward_layer()->named_parameters()[0].second.to_vector());
  CHECK_THROWS_WITH_AS(bi(Tensor::zeros({2, 3})), "Bidirectional: expected an input of shape (N,T,E), got [2,3]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(bi.forward(Tensor::zeros({2, 4, 3}), Tensor::ones({4, 2})),
                       "Bidirectional: expected a mask of shape [2,4] (input [2,4,3]), got [4,2]", nn::Error);
  CHECK_THROWS_WITH_AS(bi(Tensor::zeros({2, 4, 5})), "lstm: expected a kernel of shape [5,8], got [3,8]", nn::Error);
  CHECK_THROWS_WITH_AS(bi.forward(Tensor::zeros({2, 4, 3}), Tensor(), {Tensor::zeros({2, 2})}, {}),
                       "Bidirectional: expected an initial forward state of 2 tensors {h, c} (LSTM), got 1 tensor",
                       nn::Error);
  nn::Bidirectional gru(nn::GRUOptions{.input_size = 3, .units = 2});
  CHECK_THROWS_WITH_AS(gru.forward(Tensor::zeros({2, 4, 3}), Tensor(), {}, {Tensor::zeros({2, 2}), Tensor()}),
                       "Bidirectional: expected an initial backward state of 1 tensor {h} (GRU), got 2 tensors",
                       nn::Error);
  CHECK_THROWS_WITH_AS(gru.forward(Tensor::zeros({2, 4, 3}), Tensor(), {Tensor::zeros({2, 3})}, {}),
                       "gru: expected an initial h of shape [2,2], got [2,3]", nn::Error);
}

// ---- MultiHeadAttention ----

namespace {

// Runs the fixture's case PREFIX through `mha` and checks output, weights and every gradient.
void check_attention_case(nn::MultiHeadAttention& mha, const test::Fixture& f, const std::string& prefix,
                          const nn::AttentionMask& mask, bool self) {
  load(mha, f, prefix + "_");  // self_query.kernel …
  Tensor query = f[prefix + "_query"].set_requires_grad();
  Tensor key = self ? query : f[prefix + "_key"].set_requires_grad();
  Tensor value = self ? query : f[prefix + "_value"].set_requires_grad();
  nn::AttentionResult r = mha.forward(query, key, value, mask);
  close(r.output, f[prefix + "_output"], prefix + " output");
  close(r.weights, f[prefix + "_weights"], prefix + " weights per head");
  nn::add(dot(r.output, f[prefix + "_grad_output"]), dot(r.weights, f[prefix + "_grad_weights"])).backward();
  close(query.grad(), f[prefix + "_d_query"], prefix + " grad query");  // all three paths when self
  if (!self) {
    close(key.grad(), f[prefix + "_d_key"], prefix + " grad key");
    close(value.grad(), f[prefix + "_d_value"], prefix + " grad value");
  }
  check_parameter_grads(mha, f, prefix + "_");
}

}  // namespace

TEST_CASE("MultiHeadAttention matches torch.nn.MultiheadAttention with an attention mask and key padding") {
  test::Fixture f("recurrent_attention.txt");
  nn::MultiHeadAttention mha({.embed_dim = 6, .num_heads = 2});
  check_attention_case(mha, f, "self", {.mask = f["self_mask"], .key_padding = f["self_key_padding"]}, true);
}

TEST_CASE("causal MultiHeadAttention matches torch with the upper triangle masked") {
  test::Fixture f("recurrent_attention.txt");
  nn::MultiHeadAttention mha({.embed_dim = 6, .num_heads = 2});
  check_attention_case(mha, f, "causal", {.causal = true}, true);
}

TEST_CASE("cross-attention with other key and value sizes and a per-batch mask matches torch (kdim, vdim)") {
  test::Fixture f("recurrent_attention.txt");
  nn::MultiHeadAttention mha({.embed_dim = 6, .num_heads = 3, .key_features = 5, .value_features = 4});
  CHECK(mha.to_string() == "MultiHeadAttention(embed_dim=6, num_heads=3, key_dim=2, key_features=5, value_features=4)");
  check_attention_case(mha, f, "cross", {.mask = f["cross_mask"]}, false);
}

TEST_CASE("a query with every key masked gets zero weights, the output bias as output, and finite gradients") {
  nn::Generator gen(5);
  nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2}, gen);
  mha.output_projection().bias().copy_from(Tensor::from_data({4}, {0.5f, -1.0f, 0.25f, 2.0f}));
  Tensor x = Tensor::uniform({1, 3, 4}, -1, 1, gen).set_requires_grad();
  // Query 1 keeps no key; queries 0 and 2 keep some.
  Tensor mask = Tensor::from_data({3, 3}, {1, 0, 1, /**/ 0, 0, 0, /**/ 1, 1, 0});
  nn::AttentionResult r = mha.forward(x, Tensor(), Tensor(), {.mask = mask});
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t j = 0; j < 3; ++j) CHECK(r.weights.at({0, h, 1, j}) == 0.0f);
    // The other rows are a softmax over their kept keys only.
    CHECK(r.weights.at({0, h, 0, 1}) == 0.0f);
    CHECK(r.weights.at({0, h, 0, 0}) + r.weights.at({0, h, 0, 2}) == doctest::Approx(1.0f));
    CHECK(r.weights.at({0, h, 2, 0}) + r.weights.at({0, h, 2, 1}) == doctest::Approx(1.0f));
  }
  for (int64_t c = 0; c < 4; ++c) CHECK(r.output.at({0, 1, c}) == mha.output_projection().bias().at({c}));
  nn::sum(r.output).backward();
  for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("MultiHeadAttention: key defaults to the query and value to the key") {
  nn::Generator gen(9);
  nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2}, gen);
  Tensor q = Tensor::uniform({2, 3, 4}, -1, 1, gen), k = Tensor::uniform({2, 5, 4}, -1, 1, gen);
  close(mha(q), mha.forward(q, q, q).output, "self-attention");
  close(mha.forward(q, k).output, mha.forward(q, k, k).output, "value = key");
  CHECK(mha.forward(q, k).weights.shape() == nn::Shape{2, 2, 3, 5});
}

TEST_CASE("MultiHeadAttention's dropout drops attention weights in training only, from its own seeded generator") {
  nn::Generator gen(4);
  nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dropout = 0.5f, .seed = 11}, gen);
  CHECK(mha.to_string() == "MultiHeadAttention(embed_dim=4, num_heads=2, key_dim=2, dropout=0.5)");
  Tensor x = Tensor::uniform({2, 3, 4}, -1, 1, gen);
  mha.eval();
  nn::AttentionResult plain = mha.forward(x, Tensor());
  mha.train();
  nn::AttentionResult dropped = mha.forward(x, Tensor());
  close(dropped.weights, plain.weights, "the returned weights are those before dropout");
  CHECK(dropped.output.to_vector() != plain.output.to_vector());
  // By hand: the value heads weighed by the weights through dropout with a generator seeded alike.
  nn::Generator same(11);
  Tensor v = nn::permute(mha.value_projection()(x).reshape({2, 3, 2, 2}), {0, 2, 1, 3});  // (N,H,T,Dv)
  Tensor context = nn::matmul(nn::dropout(plain.weights, 0.5f, true, same), v);
  Tensor expected = mha.output_projection()(nn::permute(context, {0, 2, 1, 3}).reshape({2, 3, 4}));
  close(dropped.output, expected, "output with the dropped weights");
  mha.reseed(11);
  close(mha.forward(x, Tensor()).output, dropped.output, "reseeded: the same masks again");
  CHECK_THROWS_WITH_AS(nn::MultiHeadAttention({.embed_dim = 4, .num_heads = 2, .dropout = 1.0f}),
                       "MultiHeadAttention: expected a dropout in [0, 1), got 1", nn::Error);
}

TEST_CASE("MultiHeadAttention's summary shows each projection's output shape and parameters") {
  nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .value_dim = 3});
  const std::string s = mha.summary({2, 5, 4});
  INFO(s);
  auto row = [&s](const std::string& start) {  // the summary's line that begins with `start`
    size_t at = s.find("\n" + start);
    return at == std::string::npos ? std::string() : s.substr(at + 1, s.find('\n', at + 1) - at - 1);
  };
  // Query and key: 2 heads of 2 from 4 features, 4·4 + 4 parameters; value: 2 heads of 3, 4·6 + 6; output 6·4 + 4.
  for (const char* name : {"query (Dense)", "key (Dense)"}) {
    CHECK(row(name).find("[2,5,4]") != std::string::npos);
    CHECK(row(name).find(" 20") != std::string::npos);
  }
  CHECK(row("value (Dense)").find("[2,5,6]") != std::string::npos);
  CHECK(row("value (Dense)").find(" 30") != std::string::npos);
  CHECK(row("attention_output (Dense)").find(" 28") != std::string::npos);
  CHECK(s.find("Total params: 98") != std::string::npos);
}

TEST_CASE("MultiHeadAttention errors name the input and the shapes") {
  CHECK_THROWS_WITH_AS(nn::MultiHeadAttention({.embed_dim = 6, .num_heads = 4}),
                       "MultiHeadAttention: expected embed_dim a multiple of num_heads (or an explicit key_dim), got "
                       "embed_dim=6, num_heads=4",
                       nn::Error);
  CHECK_THROWS_WITH_AS(nn::MultiHeadAttention({.embed_dim = 6}),
                       "MultiHeadAttention: expected embed_dim > 0 and num_heads > 0, got embed_dim=6, num_heads=0",
                       nn::Error);
  nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2});
  CHECK_THROWS_WITH_AS(mha(Tensor::zeros({2, 3, 5})),
                       "MultiHeadAttention: expected a query of shape (N,T,4), got [2,3,5]", nn::Error);
  CHECK_THROWS_WITH_AS(mha.forward(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 5, 4})),
                       "MultiHeadAttention: expected a key of shape (2,T,4) (query [2,3,4]), got [3,5,4]", nn::Error);
  CHECK_THROWS_WITH_AS(mha.forward(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 5, 4}), Tensor::zeros({2, 4, 4})),
                       "MultiHeadAttention: expected a value of shape (2,5,4) (query [2,3,4]), got [2,4,4]", nn::Error);
  CHECK_THROWS_WITH_AS(mha.forward(Tensor::zeros({2, 3, 4}), Tensor(), Tensor(), {.mask = Tensor::ones({3, 4})}),
                       "scaled_dot_product_attention: expected an attention mask of shape [3,3] or [2,3,3], got [3,4]",
                       nn::Error);
  CHECK_THROWS_WITH_AS(mha.forward(Tensor::zeros({2, 3, 4}), Tensor(), Tensor(), {.key_padding = Tensor::ones({2, 4})}),
                       "scaled_dot_product_attention: expected a key padding mask of shape [2,3], got [2,4]",
                       nn::Error);
}

// ---- all three ----

TEST_CASE("GRU, Bidirectional and MultiHeadAttention clone into equal, independent copies of their own type") {
  nn::Generator gen(3);
  Tensor x = Tensor::uniform({2, 3, 4}, -1, 1, gen);
  std::vector<std::shared_ptr<nn::Layer>> layers{
      std::make_shared<nn::GRU>(nn::GRUOptions{.input_size = 4, .units = 3, .reset_after = false}, gen),
      std::make_shared<nn::Bidirectional>(nn::GRUOptions{.input_size = 4, .units = 2, .return_sequences = true},
                                          nn::BidirectionalOptions{.merge_mode = nn::MergeMode::sum}, gen),
      std::make_shared<nn::Bidirectional>(nn::LSTMOptions{.input_size = 4, .units = 2}, nn::BidirectionalOptions{},
                                          gen),
      std::make_shared<nn::MultiHeadAttention>(nn::MultiHeadAttentionOptions{.embed_dim = 4, .num_heads = 2}, gen)};
  for (const auto& layer : layers) {
    CAPTURE(layer->to_string());
    auto copy = std::dynamic_pointer_cast<nn::Layer>(layer->clone());
    REQUIRE(copy != nullptr);
    CHECK(copy->type_name() == layer->type_name());
    CHECK(copy->to_string() == layer->to_string());
    close((*copy)(x), (*layer)(x), "the copy's output");
    copy->named_parameters()[0].second.fill(0.0f);
    CHECK(layer->named_parameters()[0].second.to_vector() != copy->named_parameters()[0].second.to_vector());
  }
}

TEST_CASE("the three layers move into a Sequential by value and compute there what they compute alone") {
  nn::Generator gen_a(8), gen_b(8);
  auto bi = [](nn::Generator& gen) {
    return nn::Bidirectional(nn::GRUOptions{.input_size = 4, .units = 3, .return_sequences = true}, {}, gen);
  };
  auto mha = [](nn::Generator& gen) { return nn::MultiHeadAttention({.embed_dim = 6, .num_heads = 2}, gen); };
  auto gru = [](nn::Generator& gen) { return nn::GRU({.input_size = 6, .units = 2}, gen); };
  nn::Sequential seq{bi(gen_a), mha(gen_a), gru(gen_a)};
  nn::Bidirectional alone_bi = bi(gen_b);
  nn::MultiHeadAttention alone_mha = mha(gen_b);
  nn::GRU alone_gru = gru(gen_b);
  Tensor x = Tensor::uniform({2, 5, 4}, -1, 1, gen_a);
  close(seq(x), alone_gru(alone_mha(alone_bi(x))), "through the Sequential");
  CHECK(seq.named_parameters()[0].first == "0.forward.kernel");
}

// ---- the finite-difference table ----

namespace {

// A fixed mask with masked steps at the start, in the middle and at the end of rows.
Tensor step_mask() {
  return Tensor::from_data({3, 4}, {1, 1, 0, 1, /**/ 0, 1, 1, 1, /**/ 1, 1, 1, 0});
}

Tensor flat_gru(const Inputs& in, nn::GruOptions options) {
  options.mask = step_mask();
  if (in.size() > 4) options.initial_h = in[4];
  nn::GruResult r = nn::gru(in[0], {in[1], in[2], in.size() > 3 ? in[3] : Tensor()}, options);
  return nn::concat({r.outputs.reshape({-1}), r.h.reshape({-1})}, 0);
}

Tensor flat_bidirectional(nn::Bidirectional& bi, const Tensor& x) {
  nn::BidirectionalResult r = bi.forward(x, Tensor::from_data({3, 4}, {1, 1, 1, 1, /**/ 1, 1, 0, 0, /**/ 1, 0, 0, 0}));
  std::vector<Tensor> parts{r.outputs.reshape({-1}), r.last.reshape({-1})};
  for (const Tensor& s : r.backward_state) parts.push_back(s.reshape({-1}));
  return nn::concat(parts, 0);
}

Tensor flat_attention(const nn::AttentionResult& r) {
  return nn::concat({r.output.reshape({-1}), r.weights.reshape({-1})}, 0);
}

std::vector<test::GradCase> table() {
  nn::Generator gen(21);
  // Layers whose inputs (not weights) are checked: their weights' gradients come from the ops' rows and torch.
  auto bi_lstm = std::make_shared<nn::Bidirectional>(nn::LSTMOptions{.input_size = 3, .units = 2},
                                                     nn::BidirectionalOptions{}, gen);
  auto bi_gru = std::make_shared<nn::Bidirectional>(nn::GRUOptions{.input_size = 3, .units = 2},
                                                    nn::BidirectionalOptions{.merge_mode = nn::MergeMode::mul}, gen);
  auto mha = std::make_shared<nn::MultiHeadAttention>(
      nn::MultiHeadAttentionOptions{.embed_dim = 4, .num_heads = 2, .key_features = 3}, gen);
  const Tensor keep = Tensor::from_data({2, 3, 4}, {1, 1, 0, 1, /**/ 0, 0, 0, 0, /**/ 1, 0, 1, 1,  // a row dropped
                                                    1, 1, 1, 1, /**/ 0, 1, 0, 0, /**/ 1, 1, 0, 1});
  const Tensor padding = Tensor::from_data({2, 4}, {1, 1, 1, 0, /**/ 1, 1, 0, 0});
  return {
      {"gru keras, reset_after, masked, initial state",
       {{3, 4, 3}, {3, 6}, {2, 6}, {2, 6}, {3, 2}},
       [](const Inputs& in) { return flat_gru(in, {}); }},
      {"gru keras 2.0, reset before the product, masked, initial state",
       {{3, 4, 3}, {3, 6}, {2, 6}, {6}, {3, 2}},
       [](const Inputs& in) { return flat_gru(in, {.reset_after = false}); }},
      {"gru torch order, masked",
       {{3, 4, 3}, {3, 6}, {2, 6}, {2, 6}},
       [](const Inputs& in) { return flat_gru(in, {.gate_order = nn::GruGateOrder::torch}); }},
      {"gru without bias, reset before, masked",
       {{3, 4, 3}, {3, 6}, {2, 6}},
       [](const Inputs& in) { return flat_gru(in, {.reset_after = false}); }},
      {"bidirectional lstm concat, trailing padding",
       {{3, 4, 3}},
       [bi_lstm](const Inputs& in) { return flat_bidirectional(*bi_lstm, in[0]); }},
      {"bidirectional gru mul, trailing padding",
       {{3, 4, 3}},
       [bi_gru](const Inputs& in) { return flat_bidirectional(*bi_gru, in[0]); }},
      {"attention op, per-batch mask with a row all dropped, key padding",
       {{2, 2, 3, 2}, {2, 2, 4, 2}, {2, 2, 4, 3}},
       [keep, padding](const Inputs& in) {
         return flat_attention(
             nn::scaled_dot_product_attention(in[0], in[1], in[2], {.mask = keep, .key_padding = padding}));
       }},
      {"attention op, causal",
       {{2, 1, 4, 3}, {2, 1, 4, 3}, {2, 1, 4, 2}},
       [](const Inputs& in) {
         return flat_attention(nn::scaled_dot_product_attention(in[0], in[1], in[2], {.causal = true}));
       }},
      {"MultiHeadAttention, cross, key padding",
       {{2, 3, 4}, {2, 4, 3}, {2, 4, 3}},
       [mha, padding](const Inputs& in) {
         return flat_attention(mha->forward(in[0], in[1], in[2], {.key_padding = padding}));
       }},
      {"MultiHeadAttention, causal self-attention",
       {{2, 4, 4}},
       [mha](const Inputs& in) {
         Tensor keys = nn::slice(in[0], 2, 0, 3);  // the layer takes 3 key features
         return flat_attention(mha->forward(in[0], keys, keys, {.causal = true}));
       }},
  };
}

}  // namespace

TEST_CASE("gradient check of GRU, Bidirectional and attention") {
  test::check_gradients(table());
}
