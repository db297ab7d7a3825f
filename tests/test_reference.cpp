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
