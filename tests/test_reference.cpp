// libnn against PyTorch: fixtures written by tests/reference/make_fixtures.py, agreement to 1e-5 relative.
#include "support/check.h"
#include "support/fixtures.h"

using nn::Tensor;

namespace {
constexpr double kRtol = 1e-5, kAtol = 1e-6;

void close(const Tensor& actual, const Tensor& expected, const std::string& what) {
  test::check_close(actual, expected, kRtol, kAtol, what);
}
}  // namespace

TEST_CASE("matmul and its gradients match PyTorch") {
  test::Fixture f("matmul.txt");
  Tensor a = f["a"].set_requires_grad(), b = f["b"].set_requires_grad();
  Tensor c = nn::matmul(a, b);
  close(c, f["c"], "a·b");
  c.backward(f["upstream"]);
  close(a.grad(), f["grad_a"], "grad a");
  close(b.grad(), f["grad_b"], "grad b");
}

TEST_CASE("softmax and log_softmax and their gradients match PyTorch") {
  test::Fixture f("softmax.txt");
  Tensor x = f["x"].set_requires_grad();
  Tensor s = nn::softmax(x);
  close(s, f["softmax"], "softmax");
  s.backward(f["upstream"]);
  close(x.grad(), f["grad_softmax"], "grad softmax");
  x.zero_grad();
  Tensor ls = nn::log_softmax(x);
  close(ls, f["log_softmax"], "log_softmax");
  ls.backward(f["upstream"]);
  close(x.grad(), f["grad_log_softmax"], "grad log_softmax");
}

TEST_CASE("masked softmax cross-entropy matches PyTorch's cross_entropy averaged over kept positions") {
  test::Fixture f("cross_entropy.txt");
  Tensor logits = f["logits"].set_requires_grad();
  Tensor loss = nn::softmax_cross_entropy(logits, f.indices("targets"), f["mask"]);
  close(loss, f["loss"], "loss");
  loss.backward();
  close(logits.grad(), f["grad_logits"], "grad logits");
}

TEST_CASE("embedding lookup and its scatter-add gradient match PyTorch") {
  test::Fixture f("embedding.txt");
  Tensor w = f["weight"].set_requires_grad();
  Tensor out = nn::embedding(w, f.indices("ids"));
  close(out, f["out"], "lookup");
  out.backward(f["upstream"]);
  close(w.grad(), f["grad_weight"], "grad weight");
}

namespace {
void check_lstm_against(const test::Fixture& f, nn::LstmOptions options, bool initial_state) {
  Tensor x = f["x"].set_requires_grad();
  Tensor k = f["kernel"].set_requires_grad(), r = f["recurrent_kernel"].set_requires_grad();
  Tensor b = f["bias"].set_requires_grad();
  Tensor h0, c0;
  options.mask = f["mask"];
  if (initial_state) {
    h0 = f["h0"].set_requires_grad();
    c0 = f["c0"].set_requires_grad();
    options.initial_h = h0;
    options.initial_c = c0;
  }
  nn::LstmResult out = nn::lstm(x, {k, r, b}, options);
  // Compare outputs at kept positions only: torch's packed LSTM writes zeros at padded ones, ours repeats h.
  Tensor kept = nn::mul(out.outputs, f["mask"].reshape({f["mask"].dim(0), f["mask"].dim(1), 1}));
  Tensor expected_kept = nn::mul(f["outputs"], f["mask"].reshape({f["mask"].dim(0), f["mask"].dim(1), 1}));
  close(kept, expected_kept, "outputs");
  close(out.h, f["h"], "last h");
  close(out.c, f["c"], "last c");
  Tensor objective =
      nn::add(nn::add(nn::sum(nn::mul(out.outputs, f["grad_outputs"])), nn::sum(nn::mul(out.h, f["grad_h"]))),
              nn::sum(nn::mul(out.c, f["grad_c"])));
  objective.backward();
  close(x.grad(), f["grad_x"], "grad x");
  close(k.grad(), f["grad_kernel"], "grad kernel");
  close(r.grad(), f["grad_recurrent_kernel"], "grad recurrent kernel");
  close(b.grad(), f["grad_bias"], "grad bias");
  if (initial_state) {
    close(h0.grad(), f["grad_h0"], "grad h0");
    close(c0.grad(), f["grad_c0"], "grad c0");
  }
}
}  // namespace

TEST_CASE("the masked LSTM matches torch.nn.LSTM over packed padded sequences, forward and all gradients") {
  check_lstm_against(test::Fixture("lstm_packed.txt"), {}, false);
}

TEST_CASE("the masked LSTM with masks anywhere, an initial state and hard_sigmoid matches torch's autograd") {
  check_lstm_against(test::Fixture("lstm_masked_loop.txt"),
                     {.recurrent_activation = nn::RecurrentActivation::hard_sigmoid}, true);
}

TEST_CASE("five Adam steps with Keras's epsilon match the reference") {
  test::Fixture f("adam_keras.txt");
  Tensor w = f["w0"].set_requires_grad();
  nn::Adam adam({{"w", w}}, {.lr = 0.01f});
  for (int step = 1; step <= 5; ++step) {
    adam.zero_grad();
    Tensor diff = nn::sub(nn::matmul(f["x"], w), f["y"]);
    Tensor loss = nn::mean(nn::mul(diff, diff));
    close(loss, f[std::string("loss") + std::to_string(step)], "loss at step " + std::to_string(step));
    loss.backward();
    adam.step();
    close(w, f[std::string("w") + std::to_string(step)], "weights after step " + std::to_string(step));
  }
}

// ---- the everyday ops ----

namespace {
// One pointwise case of a fixture: NAME_x, NAME_y, NAME_upstream, NAME_grad_x.
void check_pointwise(const test::Fixture& f, const std::string& name, const std::function<Tensor(const Tensor&)>& fn) {
  Tensor x = f[name + "_x"].set_requires_grad();
  Tensor y = fn(x);
  close(y, f[name + "_y"], name);
  y.backward(f[name + "_upstream"]);
  close(x.grad(), f[name + "_grad_x"], "grad " + name);
}
}  // namespace

TEST_CASE("exp, log, sqrt, rsqrt, abs, pow, clamp and scalar-left arithmetic match PyTorch, values and gradients") {
  test::Fixture f("math.txt");
  check_pointwise(f, "exp", [](const Tensor& x) { return nn::exp(x); });
  check_pointwise(f, "log", [](const Tensor& x) { return nn::log(x); });
  check_pointwise(f, "sqrt", [](const Tensor& x) { return nn::sqrt(x); });
  check_pointwise(f, "rsqrt", [](const Tensor& x) { return nn::rsqrt(x); });
  check_pointwise(f, "abs", [](const Tensor& x) { return nn::abs(x); });
  check_pointwise(f, "pow_scalar", [](const Tensor& x) { return nn::pow(x, 2.5f); });
  check_pointwise(f, "clamp", [](const Tensor& x) { return nn::clamp(x, -0.5f, 0.25f); });
  check_pointwise(f, "rsub", [](const Tensor& x) { return 1.0f - x; });
  check_pointwise(f, "rdiv", [](const Tensor& x) { return 2.0f / x; });
  Tensor base = f["pow_base"].set_requires_grad(), exponent = f["pow_exponent"].set_requires_grad();
  Tensor y = nn::pow(base, exponent);
  close(y, f["pow_y"], "pow (broadcast exponent)");
  y.backward(f["pow_upstream"]);
  close(base.grad(), f["pow_grad_base"], "pow grad base");
  close(exponent.grad(), f["pow_grad_exponent"], "pow grad exponent");
}

TEST_CASE("leaky_relu, elu, gelu, silu and softmax / log_softmax along other axes match PyTorch") {
  test::Fixture f("activations.txt");
  check_pointwise(f, "leaky_relu", [](const Tensor& x) { return nn::leaky_relu(x, 0.2f); });
  check_pointwise(f, "elu", [](const Tensor& x) { return nn::elu(x, 0.7f); });
  check_pointwise(f, "gelu", [](const Tensor& x) { return nn::gelu(x); });
  check_pointwise(f, "silu", [](const Tensor& x) { return nn::silu(x); });
  check_pointwise(f, "log_softmax_axis1", [](const Tensor& x) { return nn::log_softmax(x, 1); });
  check_pointwise(f, "softmax_axis0", [](const Tensor& x) { return nn::softmax(x, 0); });
}

TEST_CASE("comparisons, minimum / maximum (ties split the gradient) and where match PyTorch") {
  test::Fixture f("compare.txt");
  Tensor a0 = f["a"], b0 = f["b"];
  close(nn::eq(a0, b0), f["eq"], "eq");
  close(nn::ne(a0, b0), f["ne"], "ne");
  close(nn::lt(a0, b0), f["lt"], "lt");
  close(nn::le(a0, b0), f["le"], "le");
  close(nn::gt(a0, b0), f["gt"], "gt");
  close(nn::ge(a0, b0), f["ge"], "ge");
  for (const char* name : {"minimum", "maximum"}) {
    Tensor a = f["a"].set_requires_grad(), b = f["b"].set_requires_grad();
    Tensor y = std::string(name) == "minimum" ? nn::minimum(a, b) : nn::maximum(a, b);
    close(y, f[name], name);
    y.backward(f["upstream"]);
    close(a.grad(), f[std::string("grad_a_") + name], std::string("grad a ") + name);
    close(b.grad(), f[std::string("grad_b_") + name], std::string("grad b ") + name);
  }
  Tensor a = f["a"].set_requires_grad(), c = f["c"].set_requires_grad();
  Tensor y = nn::where(f["mask"], a, c);
  close(y, f["where"], "where");
  y.backward(f["upstream"]);
  close(a.grad(), f["grad_a_where"], "grad a where");
  close(c.grad(), f["grad_c_where"], "grad c where");
}

TEST_CASE("max / min along an axis and argmax / argmin match PyTorch") {
  test::Fixture f("index.txt");
  Tensor x = f["x"].set_requires_grad();
  Tensor m = nn::max(x, 1, true);
  close(m, f["max_axis1_keepdim"], "max keepdim");
  m.backward(f["upstream_max"]);
  close(x.grad(), f["grad_max"], "grad max");
  x.zero_grad();
  Tensor n = nn::min(x, 0);
  close(n, f["min_axis0"], "min");
  n.backward(f["upstream_min"]);
  close(x.grad(), f["grad_min"], "grad min");
  close(nn::argmax(x, 2), f["argmax_axis2"], "argmax");
  close(nn::argmin(x, -2, true), f["argmin_axis1_keepdim"], "argmin keepdim");
}

TEST_CASE("permute, transpose, squeeze / unsqueeze, split and stack match PyTorch") {
  test::Fixture f("layout.txt");
  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"permute",
       [](const Tensor& t) {
         return nn::permute(t, {2, 0, 1});
       }},
      {"transpose", [](const Tensor& t) { return nn::transpose(t, 0, -1); }},
      {"squeeze_unsqueeze", [](const Tensor& t) { return nn::squeeze(nn::unsqueeze(nn::unsqueeze(t, 1), -1), 1); }},
      {"split1",
       [](const Tensor& t) {
         return nn::split(t, {1, 3}, 2)[1];
       }},
  };
  for (const auto& [name, fn] : cases) {
    Tensor x = f["x"].set_requires_grad();
    Tensor y = fn(x);
    close(y, f[name], name);
    y.backward(f[name + "_upstream"]);
    close(x.grad(), f[name + "_grad_x"], "grad " + name);
  }
  Tensor x = f["x"].set_requires_grad(), z = f["z"].set_requires_grad();
  Tensor y = nn::stack({x, z}, 2);
  close(y, f["stack"], "stack");
  y.backward(f["stack_upstream"]);
  close(x.grad(), f["stack_grad_x"], "stack grad x");
  close(z.grad(), f["stack_grad_z"], "stack grad z");
}

TEST_CASE("batched matmul with broadcast batch dimensions matches torch.matmul, values and gradients") {
  test::Fixture f("batched_matmul.txt");
  for (const char* name : {"bmm", "shared_b", "4d", "shared_a"}) {
    std::string n = name;
    Tensor a = f[n + "_a"].set_requires_grad(), b = f[n + "_b"].set_requires_grad();
    Tensor c = nn::matmul(a, b);
    close(c, f[n + "_c"], n);
    c.backward(f[n + "_upstream"]);
    close(a.grad(), f[n + "_grad_a"], n + " grad a");
    close(b.grad(), f[n + "_grad_b"], n + " grad b");
  }
}
