// The gradient-check table: every differentiable op of libnn against central finite differences.
#include "support/check.h"

using nn::Tensor;
using Inputs = std::vector<Tensor>;

namespace {

// A fixed mask with masked steps at the start, in the middle and at the end of rows.
Tensor lstm_mask() {
  return Tensor::from_data({3, 4}, {1, 1, 0, 1, /**/ 0, 1, 1, 1, /**/ 1, 1, 1, 0});
}

Tensor flat_lstm(const Inputs& in, nn::RecurrentActivation act, bool with_state) {
  nn::LstmOptions options{.mask = lstm_mask(), .recurrent_activation = act};
  if (with_state) {
    options.initial_h = in[4];
    options.initial_c = in[5];
  }
  nn::LstmResult r = nn::lstm(in[0], {in[1], in[2], in[3]}, options);
  return nn::concat({r.outputs.reshape({-1}), r.h.reshape({-1}), r.c.reshape({-1})}, 0);
}

// Well-separated values (a permutation of multiples of 0.1) added to small inputs, so that a finite-difference
// step never changes which element of a pooling window is the largest.
Tensor separated(const Tensor& small) {
  std::vector<float> values(small.numel());
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>((i * 7919) % values.size());
  return nn::add(small, Tensor::from_data(small.shape(), values));
}

Tensor batch_norm_of(const Inputs& in, bool training) {
  Tensor mean = Tensor::from_data({3}, {0.1f, -0.2f, 0.3f}), variance = Tensor::from_data({3}, {0.5f, 1.5f, 2.0f});
  return nn::batch_norm(in[0], in[1], in[2], mean, variance, {.training = training});
}

std::vector<test::GradCase> table() {
  const nn::Indices ids({2, 3}, {1, 0, 3, 3, 2, 1});
  const nn::Indices targets({2, 3}, {4, 0, 2, 1, 1, 3});
  const Tensor position_mask = Tensor::from_data({2, 3}, {1, 1, 0, 1, 0, 1});
  return {
      {"matmul", {{3, 4}, {4, 5}}, [](const Inputs& in) { return nn::matmul(in[0], in[1]); }},
      {"matmul aᵀ", {{4, 3}, {4, 5}}, [](const Inputs& in) { return nn::matmul(in[0], in[1], true, false); }},
      {"matmul bᵀ", {{3, 4}, {5, 4}}, [](const Inputs& in) { return nn::matmul(in[0], in[1], false, true); }},
      {"matmul aᵀbᵀ", {{4, 3}, {5, 4}}, [](const Inputs& in) { return nn::matmul(in[0], in[1], true, true); }},
      {"linear", {{3, 4}, {4, 5}, {5}}, [](const Inputs& in) { return nn::linear(in[0], in[1], in[2]); }},
      {"add (broadcast)", {{2, 3}, {3}}, [](const Inputs& in) { return nn::add(in[0], in[1]); }},
      {"sub (broadcast both)", {{2, 1, 3}, {4, 1}}, [](const Inputs& in) { return nn::sub(in[0], in[1]); }},
      {"mul (broadcast)", {{2, 3, 4}, {3, 1}}, [](const Inputs& in) { return nn::mul(in[0], in[1]); }},
      {"div (broadcast)", {{2, 3}, {2, 1}}, [](const Inputs& in) { return nn::div(in[0], nn::add(in[1], 2.0f)); }},
      {"add scalar", {{5}}, [](const Inputs& in) { return nn::add(in[0], 3.0f); }},
      {"mul scalar", {{5}}, [](const Inputs& in) { return nn::mul(in[0], -1.5f); }},
      {"neg", {{5}}, [](const Inputs& in) { return nn::neg(in[0]); }},
      {"broadcast_to",
       {{3, 1}},
       [](const Inputs& in) {
         return nn::broadcast_to(in[0], {2, 3, 4});
       }},
      {"relu", {{4, 5}}, [](const Inputs& in) { return nn::relu(in[0]); }, -1, 1, {0.0f}, 0.05f},
      {"sigmoid", {{4, 5}}, [](const Inputs& in) { return nn::sigmoid(in[0]); }, -4, 4},
      {"hard_sigmoid", {{4, 5}}, [](const Inputs& in) { return nn::hard_sigmoid(in[0]); }, -4, 4, {-2.5f, 2.5f}, 0.05f},
      {"tanh", {{4, 5}}, [](const Inputs& in) { return nn::tanh(in[0]); }, -2, 2},
      {"softmax", {{3, 5}}, [](const Inputs& in) { return nn::softmax(in[0]); }, -2, 2},
      {"log_softmax", {{3, 5}}, [](const Inputs& in) { return nn::log_softmax(in[0]); }, -2, 2},
      {"sum all", {{2, 3, 4}}, [](const Inputs& in) { return nn::sum(in[0]); }},
      {"sum axes",
       {{2, 3, 4}},
       [](const Inputs& in) {
         return nn::sum(in[0], {0, -1});
       }},
      {"mean keepdim", {{2, 3, 4}}, [](const Inputs& in) { return nn::mean(in[0], {1}, true); }},
      {"reshape",
       {{2, 6}},
       [](const Inputs& in) {
         return nn::mul(in[0].reshape({3, -1}), in[0].reshape({3, 4}));
       }},
      {"clone", {{2, 3}}, [](const Inputs& in) { return in[0].clone(); }},
      {"concat",
       {{2, 3}, {2, 2}},
       [](const Inputs& in) {
         return nn::concat({in[0], in[1], in[0]}, 1);
       }},
      {"slice", {{4, 3, 2}}, [](const Inputs& in) { return nn::slice(in[0], 1, 1, 3); }},
      {"embedding", {{5, 3}}, [ids](const Inputs& in) { return nn::embedding(in[0], ids); }},
      {"dropout",
       {{6, 5}},
       [](const Inputs& in) {
         nn::Generator gen(3);  // the same mask on every evaluation
         return nn::dropout(in[0], 0.4f, true, gen);
       }},
      {"softmax_cross_entropy",
       {{2, 3, 5}},
       [targets](const Inputs& in) { return nn::softmax_cross_entropy(in[0], targets); },
       -2,
       2},
      {"softmax_cross_entropy masked",
       {{2, 3, 5}},
       [targets, position_mask](const Inputs& in) { return nn::softmax_cross_entropy(in[0], targets, position_mask); },
       -2,
       2},
      {"lstm masked",
       {{3, 4, 3}, {3, 8}, {2, 8}, {8}},
       [](const Inputs& in) { return flat_lstm(in, nn::RecurrentActivation::sigmoid, false); }},
      {"lstm masked, initial state",
       {{3, 4, 3}, {3, 8}, {2, 8}, {8}, {3, 2}, {3, 2}},
       [](const Inputs& in) { return flat_lstm(in, nn::RecurrentActivation::sigmoid, true); }},
      {"lstm hard_sigmoid",
       {{3, 4, 3}, {3, 8}, {2, 8}, {8}, {3, 2}, {3, 2}},
       [](const Inputs& in) { return flat_lstm(in, nn::RecurrentActivation::hard_sigmoid, true); }},
      {"conv2d 3x3 valid, bias",
       {{2, 5, 6, 3}, {3, 3, 3, 4}, {4}},
       [](const Inputs& in) { return nn::conv2d(in[0], in[1], in[2]); }},
      {"conv2d 3x3 stride 2 same, even size",
       {{1, 6, 6, 2}, {3, 3, 2, 3}},
       [](const Inputs& in) {
         return nn::conv2d(in[0], in[1], {}, {.strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"conv2d 1x1 stride 2",
       {{2, 5, 4, 3}, {1, 1, 3, 2}},
       [](const Inputs& in) {
         return nn::conv2d(in[0], in[1], {}, {.strides = {2, 2}});
       }},
      {"conv2d 1x1 (pointwise GEMM)",
       {{2, 3, 3, 4}, {1, 1, 4, 5}, {5}},
       [](const Inputs& in) { return nn::conv2d(in[0], in[1], in[2]); }},
      {"depthwise 3x3 same, bias",
       {{2, 5, 4, 3}, {3, 3, 3, 1}, {3}},
       [](const Inputs& in) { return nn::depthwise_conv2d(in[0], in[1], in[2], {.padding = nn::Padding::same}); }},
      {"depthwise 3x3 stride 2 same, even size",
       {{1, 6, 6, 2}, {3, 3, 2, 1}},
       [](const Inputs& in) {
         return nn::depthwise_conv2d(in[0], in[1], {}, {.strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"separable 3x3 same",
       {{1, 4, 5, 3}, {3, 3, 3, 1}, {1, 1, 3, 2}, {2}},
       [](const Inputs& in) {
         return nn::separable_conv2d(in[0], in[1], in[2], in[3], {.padding = nn::Padding::same});
       }},
      {"max_pool2d 3x3 stride 2 same",
       {{2, 6, 5, 2}},
       [](const Inputs& in) {
         return nn::max_pool2d(separated(in[0]), {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
       },
       -0.01f,
       0.01f},
      {"avg_pool2d 3x3 stride 2 same",
       {{2, 6, 5, 2}},
       [](const Inputs& in) {
         return nn::avg_pool2d(in[0], {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"global_avg_pool2d", {{2, 3, 4, 5}}, [](const Inputs& in) { return nn::global_avg_pool2d(in[0]); }},
      {"batch_norm training", {{2, 3, 2, 3}, {3}, {3}}, [](const Inputs& in) { return batch_norm_of(in, true); }},
      {"batch_norm inference", {{2, 3, 2, 3}, {3}, {3}}, [](const Inputs& in) { return batch_norm_of(in, false); }},
      {"exp", {{3, 4}}, [](const Inputs& in) { return nn::exp(in[0]); }, -2, 2},
      {"log", {{3, 4}}, [](const Inputs& in) { return nn::log(in[0]); }, 0.5f, 3},
      {"sqrt", {{3, 4}}, [](const Inputs& in) { return nn::sqrt(in[0]); }, 0.5f, 3},
      {"rsqrt", {{3, 4}}, [](const Inputs& in) { return nn::rsqrt(in[0]); }, 0.5f, 3},
      {"abs", {{3, 4}}, [](const Inputs& in) { return nn::abs(in[0]); }, -1, 1, {0.0f}, 0.05f},
      {"pow scalar", {{3, 4}}, [](const Inputs& in) { return nn::pow(in[0], 2.5f); }, 0.5f, 2},
      {"pow tensor (broadcast exponent)",
       {{2, 3, 4}, {3, 1}},
       [](const Inputs& in) { return nn::pow(in[0], in[1]); },
       0.5f,
       2},
      {"clamp",
       {{4, 5}},
       [](const Inputs& in) { return nn::clamp(in[0], -0.5f, 0.25f); },
       -1,
       1,
       {-0.5f, 0.25f},
       0.05f},
      {"scalar − x", {{5}}, [](const Inputs& in) { return 1.0f - in[0]; }},
      {"scalar / x", {{5}}, [](const Inputs& in) { return 2.0f / in[0]; }, 0.5f, 2},
      {"minimum (broadcast)", {{2, 3}, {3}}, [](const Inputs& in) { return nn::minimum(in[0], in[1]); }},
      {"maximum (broadcast)", {{2, 3}, {2, 1}}, [](const Inputs& in) { return nn::maximum(in[0], in[1]); }},
      {"where (broadcast)",
       {{2, 3}, {3}},
       [](const Inputs& in) {
         return nn::where(Tensor::from_data({2, 1}, {1, 0}), in[0], in[1]);
       }},
      {"max along an axis", {{3, 4, 2}}, [](const Inputs& in) { return nn::max(separated(in[0]), 1); }, -0.01f, 0.01f},
      {"min along an axis, keepdim",
       {{3, 4, 2}},
       [](const Inputs& in) { return nn::min(separated(in[0]), -1, true); },
       -0.01f,
       0.01f},
      {"permute",
       {{2, 3, 4}},
       [](const Inputs& in) {
         return nn::permute(in[0], {1, 2, 0});
       }},
      {"transpose", {{2, 3, 4}}, [](const Inputs& in) { return nn::transpose(in[0], 0, -1); }},
      {"squeeze / unsqueeze", {{2, 1, 3}}, [](const Inputs& in) { return nn::unsqueeze(nn::squeeze(in[0], 1), 0); }},
      {"stack",
       {{2, 3}, {2, 3}},
       [](const Inputs& in) {
         return nn::stack({in[0], in[1], in[0]}, 1);
       }},
      {"split",
       {{2, 5}},
       [](const Inputs& in) {
         std::vector<Tensor> parts = nn::split(in[0], {2, 0, 3}, 1);
         return nn::concat({parts[2], parts[1], nn::mul(parts[0], parts[0])}, 1);
       }},
      {"matmul batched", {{2, 3, 4}, {2, 4, 5}}, [](const Inputs& in) { return nn::matmul(in[0], in[1]); }},
      {"matmul batched × matrix", {{2, 3, 4}, {4, 5}}, [](const Inputs& in) { return nn::matmul(in[0], in[1]); }},
      {"matmul 4-D broadcast", {{2, 1, 3, 4}, {3, 4, 2}}, [](const Inputs& in) { return nn::matmul(in[0], in[1]); }},
      {"matmul batched aᵀbᵀ",
       {{2, 4, 3}, {5, 4}},
       [](const Inputs& in) { return nn::matmul(in[0], in[1], true, true); }},
      {"leaky_relu", {{4, 5}}, [](const Inputs& in) { return nn::leaky_relu(in[0], 0.2f); }, -1, 1, {0.0f}, 0.05f},
      {"elu", {{4, 5}}, [](const Inputs& in) { return nn::elu(in[0], 0.7f); }, -2, 2, {0.0f}, 0.05f},
      {"gelu", {{4, 5}}, [](const Inputs& in) { return nn::gelu(in[0]); }, -3, 3},
      {"silu", {{4, 5}}, [](const Inputs& in) { return nn::silu(in[0]); }, -3, 3},
      {"log_softmax axis 0", {{3, 4, 2}}, [](const Inputs& in) { return nn::log_softmax(in[0], 0); }, -2, 2},
      {"softmax axis 1", {{3, 4, 2}}, [](const Inputs& in) { return nn::softmax(in[0], 1); }, -2, 2},
  };
}

}  // namespace

TEST_CASE("gradient check of every op") {
  test::check_gradients(table());
}

TEST_CASE("the gradient check can fail: a wrong backward is caught") {
  // relu's forward carrying sigmoid's gradient (y = relu(x) + s − stop_gradient(s), s = sigmoid(x)).
  test::GradCase wrong{"relu with a wrong backward", {{3, 3}}, [](const Inputs& in) {
                         Tensor s = nn::sigmoid(in[0]);
                         return nn::add(nn::sub(s, s.detach()), nn::relu(in[0]).detach());
                       }};
  CHECK_FALSE(test::gradcheck(wrong).ok);
}
