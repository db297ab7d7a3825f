// The op-test harness: every public op of nn/ops/ops.h and nn/ops/losses.h, under every backend (all_backends())
// and dtype, forward and backward, against the ref backend in f32 (tests/support/op_harness.h says how). Adding an
// op is adding a row to table(): a name, its inputs drawn for the extents of a variant, and the call.
#include "support/op_harness.h"

using nn::Tensor;
using test::Dims;
using test::OpArgs;
using test::OpInputs;
using Gen = nn::Generator;

namespace {

/// Several results as one: each converted to f32 and flattened, then joined (for ops with more than one output).
Tensor flat(const std::vector<Tensor>& parts) {
  std::vector<Tensor> flattened;
  for (const Tensor& p : parts) flattened.push_back(p.to(nn::DType::f32).reshape({-1}));
  return nn::concat(flattened, 0);
}

Tensor batch_norm_of(const OpInputs& x, bool training) {
  Tensor mean = x[3].clone(), variance = x[4].clone();  // updated in place in training: compared too
  Tensor y = nn::batch_norm(x[0], x[1], x[2], mean, variance, {.training = training});
  return training ? flat({y, mean, variance}) : y;
}

Tensor lstm_of(const OpInputs& x, nn::RecurrentActivation activation) {
  nn::LstmResult r = nn::lstm(x[0], {x[1], x[2], x[3]},
                              {.mask = x[6], .initial_h = x[4], .initial_c = x[5], .recurrent_activation = activation});
  return flat({r.outputs, r.h, r.c});
}

Tensor gru_of(const OpInputs& x, const nn::GruOptions& options) {
  nn::GruOptions o = options;
  o.initial_h = x[4];
  o.mask = x[5];
  nn::GruResult r = nn::gru(x[0], {x[1], x[2], x[3]}, o);
  return flat({r.outputs, r.h});
}

/// ±1/√fan_in, as layers initialise weights: larger ones saturate the gates and make a long recurrence chaotic, so
/// that float rounding differences grow step after step.
float limit(int64_t fan_in) {
  return 1.0f / std::sqrt(static_cast<float>(fan_in));
}

// x (N,T,E), kernel (E,GU), recurrent kernel (U,GU), bias, initial state(s) (N,U), mask (N,T): T = a, E = c, U = b.
OpArgs recurrent_args(Gen& g, const Dims& d, int gates, const nn::Shape& bias, int states) {
  OpArgs args(g);
  args.x({d.n, d.a, d.c}).x({d.c, gates * d.b}, -limit(d.c), limit(d.c)).x({d.b, gates * d.b}, -limit(d.b), limit(d.b));
  args.x(bias);
  for (int s = 0; s < states; ++s) args.x({d.n, d.b});
  return args.mask({d.n, d.a});
}

nn::AttentionResult attention_of(const OpInputs& x, bool causal) {
  return nn::scaled_dot_product_attention(x[0], x[1], x[2], {.key_padding = x[3], .causal = causal});
}

nn::ClassificationLossOptions weighted(const OpInputs& x, nn::Reduction reduction, float smoothing = 0.0f) {
  return {.reduction = reduction, .weight = x[1], .ignore_index = -100, .label_smoothing = smoothing};
}

/// The inputs most rows take: x (N, C), x (N, A, C) or an image (N, A, B, C), uniform in [low, high); or an input and
/// a target (N, A, C) in [−1, 1).
test::MakeInputs rows(float low = -1, float high = 1) {
  return [=](Gen& g, const Dims& d) { return OpArgs(g).x({d.n, d.c}, low, high); };
}
/// x (N, 4,500) in [−3, 3): a few rows wider than the cpu kernels' sum blocks of 2,048, as a decoder's vocabulary.
test::MakeInputs few_wide_rows() {
  return [](Gen& g, const Dims& d) { return OpArgs(g).x({d.n, 4500}, -3, 3); };
}
test::MakeInputs cube(float low = -1, float high = 1) {
  return [=](Gen& g, const Dims& d) { return OpArgs(g).x({d.n, d.a, d.c}, low, high); };
}
test::MakeInputs image() {
  return [](Gen& g, const Dims& d) { return OpArgs(g).x({d.n, d.a, d.b, d.c}); };
}
test::MakeInputs pair() {
  return [](Gen& g, const Dims& d) { return OpArgs(g).x({d.n, d.a, d.c}).x({d.n, d.a, d.c}); };
}

const nn::ConvOptions same2 = {.strides = {2, 2}, .padding = nn::Padding::same};

std::vector<test::OpCase> table() {
  using In = const OpInputs&;
  using R = nn::Reduction;
  return {
      // ---- matmul ----
      {"matmul",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.c, d.b});
       },
       [](In x) { return nn::matmul(x[0], x[1]); }},
      {"matmul aᵀbᵀ",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.c, d.n}).x({d.b, d.c});
       },
       [](In x) { return nn::matmul(x[0], x[1], true, true); }},
      {"linear (the bias in the GEMM's store)",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n * d.a, d.c}).x({d.c, d.b}).x({d.b});
       },
       [](In x) { return nn::linear(x[0], x[1], x[2]); }},
      {"matmul batched × matrix, bᵀ",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}).x({d.b, d.c});
       },
       [](In x) { return nn::matmul(x[0], x[1], false, true); }},
      {"matmul 4-D broadcast, aᵀ",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 1, d.c, d.a}).x({2, d.c, d.b});
       },
       [](In x) { return nn::matmul(x[0], x[1], true, false); }},
      // ---- elementwise ----
      {"add broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}).x({d.c});
       },
       [](In x) { return nn::add(x[0], x[1]); }},
      {"sub broadcast both",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 1, d.c}).x({d.a, 1});
       },
       [](In x) { return nn::sub(x[0], x[1]); }},
      {"mul broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}).x({d.a, 1});
       },
       [](In x) { return nn::mul(x[0], x[1]); }},
      {"div broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.n, 1}, 0.5f, 2.0f);
       },
       [](In x) { return nn::div(x[0], x[1]); }},
      {"add, mul scalar; neg", rows(), [](In x) { return nn::neg(nn::mul(nn::add(x[0], 3.0f), -1.5f)); }},
      {"scalar / x", rows(0.5f, 2.0f), [](In x) { return nn::div(2.0f, x[0]); }},
      {"broadcast_to",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.a, 1});
       },
       [](In x) {
         return nn::broadcast_to(x[0], {2, x[0].dim(0), 3});
       }},
      {"clone", cube(), [](In x) { return x[0].clone(); }},
      {"to bf16", cube(), [](In x) { return x[0].to(nn::DType::bf16); }},
      // ---- math ----
      {"exp", rows(-2, 2), [](In x) { return nn::exp(x[0]); }},
      {"log", rows(0.5f, 3), [](In x) { return nn::log(x[0]); }},
      {"sqrt", rows(0.5f, 3), [](In x) { return nn::sqrt(x[0]); }},
      {"rsqrt", rows(0.5f, 3), [](In x) { return nn::rsqrt(x[0]); }},
      {"abs", rows(), [](In x) { return nn::abs(x[0]); }},
      {"pow scalar", rows(0.5f, 2), [](In x) { return nn::pow(x[0], 2.5f); }},
      {"pow tensor broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}, 0.5f, 2).x({d.a, 1});
       },
       [](In x) { return nn::pow(x[0], x[1]); }},
      {"clamp", rows(), [](In x) { return nn::clamp(x[0], -0.5f, 0.25f); }},
      // ---- compare ----
      {"minimum broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.c});
       },
       [](In x) { return nn::minimum(x[0], x[1]); }},
      {"maximum broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.n, 1});
       },
       [](In x) { return nn::maximum(x[0], x[1]); }},
      {"eq ne lt le gt ge",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).ints({d.n, d.c}, -1, 1).ints({d.c}, -1, 1);
       },
       [](In x) {
         return flat({nn::eq(x[0], x[1]), nn::ne(x[0], x[1]), nn::lt(x[0], x[1]), nn::le(x[0], x[1]),
                      nn::gt(x[0], x[1]), nn::ge(x[0], x[1])});
       }},
      {"eq ne lt le gt ge scalar",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).ints({d.n, d.c}, -1, 1);
       },
       [](In x) {
         return flat({nn::eq(x[0], 0.0f), nn::ne(x[0], 0.0f), nn::lt(x[0], 0.0f), nn::le(x[0], 0.0f),
                      nn::gt(x[0], 0.0f), nn::ge(x[0], 0.0f)});
       }},
      {"where broadcast",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.c}).mask({d.n, 1}, 0.5f);
       },
       [](In x) { return nn::where(x[2], x[0], x[1]); }},
      // ---- activations ----
      {"relu", rows(), [](In x) { return nn::relu(x[0]); }},
      {"sigmoid", rows(-4, 4), [](In x) { return nn::sigmoid(x[0]); }},
      {"hard_sigmoid", rows(-4, 4), [](In x) { return nn::hard_sigmoid(x[0]); }},
      {"tanh", rows(-2, 2), [](In x) { return nn::tanh(x[0]); }},
      {"leaky_relu", rows(), [](In x) { return nn::leaky_relu(x[0], 0.2f); }},
      {"elu", rows(-2, 2), [](In x) { return nn::elu(x[0], 0.7f); }},
      {"gelu", rows(-3, 3), [](In x) { return nn::gelu(x[0]); }},
      {"silu", rows(-3, 3), [](In x) { return nn::silu(x[0]); }},
      {"activate softmax", rows(-2, 2), [](In x) { return nn::activate(x[0], nn::Activation::softmax); }},
      // ---- softmax ----
      {"softmax last axis", cube(-3, 3), [](In x) { return nn::softmax(x[0]); }},
      {"softmax axis 1", cube(-3, 3), [](In x) { return nn::softmax(x[0], 1); }},
      {"log_softmax last axis", cube(-3, 3), [](In x) { return nn::log_softmax(x[0]); }},
      {"log_softmax axis 0",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.a, d.n, d.c}, -3, 3);
       },
       [](In x) { return nn::log_softmax(x[0], 0); }},
      // ---- reductions ----
      {"sum all", cube(), [](In x) { return nn::sum(x[0]); }},
      {"sum axes 0, −1", cube(),
       [](In x) {
         return nn::sum(x[0], {0, -1});
       }},
      {"mean axis 1 keepdim", cube(), [](In x) { return nn::mean(x[0], {1}, true); }},
      {"mean all",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.a, d.n, d.c});
       },
       [](In x) { return nn::mean(x[0]); }},
      {"max axis 1", cube(), [](In x) { return nn::max(x[0], 1); }},
      {"min last axis keepdim", cube(), [](In x) { return nn::min(x[0], -1, true); }},
      {"argmax, argmin", cube(),
       [](In x) {
         return flat({nn::argmax(x[0], 1), nn::argmin(x[0], -1, true)});
       }},
      // ---- shapes ----
      {"reshape", cube(),
       [](In x) {
         return nn::reshape(x[0], {x[0].dim(0), x[0].dim(1) * x[0].dim(2)});
       }},
      {"concat axis 1",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}).x({d.n, 2, d.c});
       },
       [](In x) {
         return nn::concat({x[0], x[1], x[0]}, 1);
       }},
      {"slice axis 0 (view)",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.a + 2, d.c});
       },
       [](In x) { return nn::slice(x[0], 0, 1, x[0].dim(0) - 1); }},
      {"slice axis 1 (copy)",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 1, d.c});
       },
       [](In x) { return nn::slice(x[0], 1, 1, x[0].dim(1)); }},
      {"permute", cube(),
       [](In x) {
         return nn::permute(x[0], {1, 2, 0});
       }},
      {"transpose", cube(), [](In x) { return nn::transpose(x[0], 0, -1); }},
      {"squeeze, unsqueeze",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 1, d.c});
       },
       [](In x) { return nn::unsqueeze(nn::squeeze(x[0], 1), -1); }},
      {"stack axis 1",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c}).x({d.n, d.c});
       },
       [](In x) {
         return nn::stack({x[0], x[1], x[0]}, 1);
       }},
      {"split",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c + 3});
       },
       [](In x) {
         std::vector<Tensor> parts = nn::split(x[0], {2, 0, x[0].dim(1) - 2}, 1);
         return flat({parts[2], parts[1], parts[0]});
       }},
      // ---- embedding, dropout, softmax_cross_entropy ----
      {"embedding",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.a + 1, d.c}).ids({d.n, d.b}, d.a + 1);
       },
       [](In x) { return nn::embedding(x[0], x.ids[0]); }},
      {"dropout training (seed 3 every run)", rows(),
       [](In x) {
         nn::Generator gen(3);
         return nn::dropout(x[0], 0.4f, true, gen);
       }},
      {"dropout inference", rows(),
       [](In x) {
         nn::Generator gen(3);
         return nn::dropout(x[0], 0.4f, false, gen);
       }},
      {"softmax_cross_entropy masked",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c + 1}, -2, 2).mask({d.n, d.a}).ids({d.n, d.a}, d.c + 1);
       },
       [](In x) { return nn::softmax_cross_entropy(x[0], x.ids[0], x[1]); }},
      // ---- recurrent ----
      {"lstm masked, initial state", [](Gen& g, const Dims& d) { return recurrent_args(g, d, 4, {4 * d.b}, 2); },
       [](In x) { return lstm_of(x, nn::RecurrentActivation::sigmoid); }},
      {"lstm hard_sigmoid", [](Gen& g, const Dims& d) { return recurrent_args(g, d, 4, {4 * d.b}, 2); },
       [](In x) { return lstm_of(x, nn::RecurrentActivation::hard_sigmoid); }},
      // gru is composed of ops that each round to bf16: T steps of about ten roundings each, which reached 1.6× the
      // plain bf16 tolerance (random 11, T = 5); hence 3× for its rows.
      {"gru reset_after keras",
       [](Gen& g, const Dims& d) {
         return recurrent_args(g, d, 3, {2, 3 * d.b}, 1);
       },
       [](In x) { return gru_of(x, {}); }, 3.0},
      {"gru reset_after torch order",
       [](Gen& g, const Dims& d) {
         return recurrent_args(g, d, 3, {2, 3 * d.b}, 1);
       },
       [](In x) { return gru_of(x, {.gate_order = nn::GruGateOrder::torch}); }, 3.0},
      {"gru Keras 2.0 (reset before, hard_sigmoid)",
       [](Gen& g, const Dims& d) { return recurrent_args(g, d, 3, {3 * d.b}, 1); },
       [](In x) {
         return gru_of(x, {.reset_after = false, .recurrent_activation = nn::RecurrentActivation::hard_sigmoid});
       },
       3.0},
      {"gru from torch weights",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.c})
             .x({3 * d.b, d.c}, -limit(d.c), limit(d.c))
             .x({3 * d.b, d.b}, -limit(d.b), limit(d.b))
             .x({3 * d.b})
             .x({3 * d.b});
       },
       [](In x) { return nn::gru(x[0], nn::gru_weights_from_torch(x[1], x[2], x[3], x[4])).outputs; }, 3.0},
      // ---- attention: q (N,H,Tq,D), k (N,H,Tk,D), v (N,H,Tk,Dv), key padding (N,Tk) ----
      {"attention, key padding",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 2, d.a, d.c}).x({d.n, 2, d.b, d.c}).x({d.n, 2, d.b, 3}).mask({d.n, d.b});
       },
       [](In x) {
         nn::AttentionResult r = attention_of(x, false);
         return flat({r.output, r.weights});
       }},
      {"attention causal",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 1, d.a, d.c}).x({d.n, 1, d.a, d.c}).x({d.n, 1, d.a, 2}).mask({d.n, d.a}, 1.0f);
       },
       [](In x) {
         nn::AttentionResult r = attention_of(x, true);
         return flat({r.output, r.weights});
       }},
      {"attention, dropout 0.3 (seed 5 every run)",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, 1, d.a, d.c}).x({d.n, 1, d.b, d.c}).x({d.n, 1, d.b, 2});
       },
       [](In x) {
         nn::Generator gen(5);
         return nn::scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.3f, gen).output;
       }},
      // ---- convolution: x (N,H,W,C) with H = a + 2, W = b + 2 ----
      {"conv2d 3x3 valid, bias",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 2, d.b + 2, d.c}).x({3, 3, d.c, 4}).x({4});
       },
       [](In x) { return nn::conv2d(x[0], x[1], x[2]); }},
      {"conv2d 3x3 stride 2 same",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 2, d.b + 2, d.c}).x({3, 3, d.c, 3});
       },
       [](In x) { return nn::conv2d(x[0], x[1], {}, same2); }},
      {"conv2d 1x1 stride 2, bias",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({1, 1, d.c, 5}).x({5});
       },
       [](In x) {
         return nn::conv2d(x[0], x[1], x[2], {.strides = {2, 2}});
       }},
      {"conv2d 1x1 (pointwise)",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({1, 1, d.c, 3});
       },
       [](In x) { return nn::conv2d(x[0], x[1]); }},
      {"depthwise 3x3 same, bias",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({3, 3, d.c, 1}).x({d.c});
       },
       [](In x) { return nn::depthwise_conv2d(x[0], x[1], x[2], {.padding = nn::Padding::same}); }},
      {"depthwise 3x3 stride 2 same",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 2, d.b + 2, d.c}).x({3, 3, d.c, 1});
       },
       [](In x) { return nn::depthwise_conv2d(x[0], x[1], {}, same2); }},
      {"separable 3x3 valid, bias",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 2, d.b + 2, d.c}).x({3, 3, d.c, 1}).x({1, 1, d.c, 4}).x({4});
       },
       [](In x) { return nn::separable_conv2d(x[0], x[1], x[2], x[3]); }},
      {"conv2d_transpose 3x3 stride 2 same, bias",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({3, 3, 4, d.c}).x({4});
       },
       [](In x) {
         return nn::conv2d_transpose(x[0], x[1], x[2], {.strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"conv2d_transpose 2x3 valid",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({2, 3, 3, d.c});
       },
       [](In x) { return nn::conv2d_transpose(x[0], x[1]); }},
      {"conv2d_transpose 3x3 stride 2, output padding 1",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.b, d.c}).x({3, 3, 2, d.c});
       },
       [](In x) {
         return nn::conv2d_transpose(x[0], x[1], {},
                                     {.strides = {2, 2}, .output_padding = std::array<int64_t, 2>{1, 1}});
       }},
      // ---- pooling ----
      {"max_pool2d 2x2",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 1, d.b + 1, d.c});
       },
       [](In x) { return nn::max_pool2d(x[0]); }},
      {"max_pool2d 3x3 stride 2 same", image(),
       [](In x) {
         return nn::max_pool2d(x[0], {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"avg_pool2d 3x3 stride 2 same", image(),
       [](In x) {
         return nn::avg_pool2d(x[0], {.size = {3, 3}, .strides = {2, 2}, .padding = nn::Padding::same});
       }},
      {"avg_pool2d 2x2 valid",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a + 1, d.b + 1, d.c});
       },
       [](In x) { return nn::avg_pool2d(x[0]); }},
      {"global_avg_pool2d", image(), [](In x) { return nn::global_avg_pool2d(x[0]); }},
      // ---- normalisation: x (N,H,W,C), γ, β (C), moving mean and variance (C) ----
      {"batch_norm training",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.b, d.c}, -1, 2)
             .x({d.c})
             .x({d.c})
             .fixed(nn::Tensor::zeros({d.c}))
             .fixed(nn::Tensor::ones({d.c}));
       },
       [](In x) { return batch_norm_of(x, true); }},
      {"batch_norm inference",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.b, d.c})
             .x({d.c})
             .x({d.c})
             .fixed(nn::Tensor::uniform({d.c}, -0.5f, 0.5f, g))
             .fixed(nn::Tensor::uniform({d.c}, 0.5f, 2.0f, g));
       },
       [](In x) { return batch_norm_of(x, false); }},
      {"layer_norm last axis, γ β",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}, -1, 2).x({d.c}).x({d.c});
       },
       [](In x) { return nn::layer_norm(x[0], {x[0].dim(-1)}, x[1], x[2]); }},
      {"layer_norm last two axes", cube(-1, 2),
       [](In x) {
         return nn::layer_norm(x[0], {x[0].dim(1), x[0].dim(2)});
       }},
      // ---- losses: input and target (N, A, C), classes on the last axis ----
      {"mse_loss mean", pair(), [](In x) { return nn::mse_loss(x[0], x[1]); }},
      {"l1_loss none", pair(), [](In x) { return nn::l1_loss(x[0], x[1], R::none); }},
      {"huber_loss sum, δ 0.5", pair(), [](In x) { return nn::huber_loss(x[0], x[1], R::sum, 0.5f); }},
      {"smooth_l1_loss mean, β 0.5", pair(), [](In x) { return nn::smooth_l1_loss(x[0], x[1], R::mean, 0.5f); }},
      {"smooth_l1_loss none, β 0", pair(), [](In x) { return nn::smooth_l1_loss(x[0], x[1], R::none, 0.0f); }},
      {"binary_cross_entropy_with_logits, weight, pos_weight",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.c}, -3, 3)
             .x({d.n, d.a, d.c}, 0, 1)
             .fixed(nn::Tensor::uniform({d.a, 1}, 0, 2, g))
             .fixed(nn::Tensor::uniform({d.c}, 0.5f, 3, g));
       },
       [](In x) { return nn::binary_cross_entropy_with_logits(x[0], x[1], {.weight = x[2], .pos_weight = x[3]}); }},
      {"binary_cross_entropy none",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.a, d.c}, 0.05f, 0.95f).x({d.n, d.a, d.c}, 0, 1);
       },
       [](In x) { return nn::binary_cross_entropy(x[0], x[1], {.reduction = R::none}); }},
      {"nll_loss mean, class weights, ignore_index",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.c + 1}, -3, 0)
             .fixed(nn::Tensor::uniform({d.c + 1}, 0.5f, 2, g))
             .ids({d.n, d.a}, d.c + 1, -100);
       },
       [](In x) { return nn::nll_loss(x[0], x.ids[0], weighted(x, R::mean)); }},
      {"cross_entropy sum, weights, smoothing 0.1",
       [](Gen& g, const Dims& d) {
         return OpArgs(g)
             .x({d.n, d.a, d.c + 1}, -2, 2)
             .fixed(nn::Tensor::uniform({d.c + 1}, 0.5f, 2, g))
             .ids({d.n, d.a}, d.c + 1, -100);
       },
       [](In x) { return nn::cross_entropy(x[0], x.ids[0], weighted(x, R::sum, 0.1f)); }},
      {"cross_entropy none",
       [](Gen& g, const Dims& d) {
         return OpArgs(g).x({d.n, d.c + 1}, -2, 2).ids({d.n}, d.c + 1);
       },
       [](In x) { return nn::cross_entropy(x[0], x.ids[0], {.reduction = R::none}); }},
      // (Rows appended here keep the earlier cases' seeds, 1000·(index + 1) + variant.)
      // A few rows wider than the kernels' sum blocks of 2,048 (a decoder's vocabulary): the threads share the blocks.
      {"softmax few wide rows", few_wide_rows(), [](In x) { return nn::softmax(x[0]); }},
      {"log_softmax few wide rows", few_wide_rows(), [](In x) { return nn::log_softmax(x[0]); }},
  };
}

/// The extents every case runs with: an empty batch, all ones, odd sizes, three random draws, a larger size, and offset
/// views.
std::vector<test::Variant> variants() {
  std::vector<test::Variant> out = {
      {"empty (n = 0)", {0, 3, 2, 4}},
      {"size 1", {1, 1, 1, 1}},
      {"odd sizes", {3, 7, 5, 33}},
  };
  for (uint64_t seed : {11, 12, 13}) {
    nn::Generator g(seed);
    auto draw = [&](int64_t high) { return 1 + static_cast<int64_t>(g.below(high)); };
    Dims d{draw(3), draw(5), draw(5), draw(6)};
    out.push_back({"random " + std::to_string(seed), d});
  }
  // Large enough that the cpu kernels leave their small-size paths (im2col GEMMs of many rows, full vectors).
  out.push_back({"larger", {2, 40, 36, 9}});
  out.push_back({"offset views", {3, 4, 3, 5}, true});
  out.push_back({"offset views, odd sizes", {1, 7, 1, 33}, true});
  return out;
}

std::vector<const nn::Backend*> backends() {
  int count = 0;
  const nn::Backend* const* all = nn::all_backends(&count);
  return {all, all + count};
}

void run_all(nn::DType dtype) {
  std::vector<test::OpCase> cases = table();
  std::vector<test::Variant> vs = variants();
  test::HarnessReport report = test::run_op_cases(cases, vs, backends(), dtype);
  test::report_to_doctest(report, std::string("backend ops, ") + nn::dtype_name(dtype), cases.size(), vs.size());
}

}  // namespace

TEST_CASE("every op on every backend in f32 matches the ref backend") {
  run_all(nn::DType::f32);
}

TEST_CASE("every op on every backend in bf16 matches the ref backend in f32") {
  run_all(nn::DType::bf16);
}

// ---- the harness can fail ----

namespace {

/// The cpu backend with `copy` moving the last element of every f32 copy by 1 (Tensor::clone calls copy).
nn::Backend wrong_copy_backend() {
  nn::Backend b = nn::cpu_backend();
  b.name = "wrong-copy";
  b.copy = [](nn::DType dtype, int64_t n, const void* x, void* y) {
    nn::cpu_backend().copy(dtype, n, x, y);
    if (dtype == nn::DType::f32 && n > 0) static_cast<float*>(y)[n - 1] += 1.0f;
  };
  return b;
}

/// The cpu backend with a bias gradient 1e-3 off in its first channel (conv2d's backward calls bias_backward).
nn::Backend wrong_bias_gradient_backend() {
  nn::Backend b = nn::cpu_backend();
  b.name = "wrong-bias-gradient";
  b.bias_backward = [](int64_t rows, int64_t channels, const float* dy, float* db) {
    nn::cpu_backend().bias_backward(rows, channels, dy, db);
    if (channels > 0) db[0] += 1e-3f;
  };
  return b;
}

/// The cpu backend with a relu that returns x.
nn::Backend wrong_relu_backend() {
  nn::Backend b = nn::cpu_backend();
  b.name = "wrong-relu";
  b.map = [](const nn::kernels::UnaryCall& f, nn::DType dtype, int64_t n, const void* x, void* y) {
    if (f.op == nn::kernels::Unary::relu) {
      if (n > 0) std::memcpy(y, x, static_cast<size_t>(n) * nn::dtype_size(dtype));  // empty tensors: null pointers
    } else {
      nn::cpu_backend().map(f, dtype, n, x, y);
    }
  };
  return b;
}

/// The cpu backend whose map throws: tells whether an op calls the backend's map at all.
nn::Backend map_probe_backend() {
  nn::Backend b = nn::cpu_backend();
  b.name = "map-probe";
  b.map = [](const nn::kernels::UnaryCall&, nn::DType, int64_t, const void*, void*) {
    throw nn::Error("map-probe: map called");
  };
  return b;
}

/// The cpu backend with a `copy` that is still a stub.
nn::Backend stub_copy_backend() {
  nn::Backend b = nn::cpu_backend();
  b.name = "stub-copy";
  b.copy = [](nn::DType, int64_t, const void*, void*) {
    throw nn::Error("stub-copy backend: copy is not written yet");
  };
  return b;
}

std::vector<test::OpCase> cases_named(const std::set<std::string>& names) {
  std::vector<test::OpCase> out;
  for (test::OpCase& c : table()) {
    if (names.count(c.name)) out.push_back(std::move(c));
  }
  REQUIRE(out.size() == names.size());
  return out;
}

}  // namespace

TEST_CASE("the comparison finds the worst element, and NaN only matches NaN") {
  Tensor expected = Tensor::from_data({2, 3}, {1, -2, 4, 0, 0.5f, NAN});
  test::Worst same = test::compare_tensors(expected, expected, 1e-5);
  CHECK_FALSE(same.fails);
  // Element 4 off by 0.01: beyond 1e-3·(0.5 + 4); element 0 off by 1e-4 is within 1e-3·(1 + 4).
  Tensor got = Tensor::from_data({2, 3}, {1.0001f, -2, 4, 0, 0.51f, NAN});
  test::Worst w = test::compare_tensors(got, expected, 1e-3);
  CHECK(w.fails);
  CHECK(w.index == 4);
  CHECK(test::index_text({2, 3}, w.index) == "[1,1]");
  CHECK(w.expected == doctest::Approx(0.5));
  CHECK(w.tolerance == doctest::Approx(1e-3 * 4.5));
  CHECK(test::compare_tensors(Tensor::from_data({2, 3}, {1, -2, 4, 0, 0.5f, 7}), expected, 1e-3).index == 5);
}

TEST_CASE("the harness reports an op that a wrong backend computes wrongly") {
  const std::vector<test::Variant> vs = variants();
  std::vector<test::OpCase> cases = cases_named({"clone", "add broadcast"});
  const nn::Backend wrong = wrong_copy_backend();
  test::HarnessReport report = test::run_op_cases(cases, vs, {&wrong}, nn::DType::f32);
  CHECK(report.failing_ops("wrong-copy").count("clone") == 1);
  std::string line;
  for (const test::OpFailure& f : report.failures) {
    if (f.op == "clone" && f.what == "output") line = f.line();
  }
  INFO(line);
  CHECK(line.find("clone | backend wrong-copy | f32 | ") == 0);
  CHECK(line.find("| output: worst element ") != std::string::npos);
  // The cpu backend itself passes the same cases: the failure is the wrong copy's.
  CHECK(test::run_op_cases(cases, vs, {&nn::cpu_backend()}, nn::DType::f32).failures.empty());
}

TEST_CASE("the harness reports a backward primitive 1e-3 off") {
  const nn::Backend wrong = wrong_bias_gradient_backend();
  test::HarnessReport report =
      test::run_op_cases(cases_named({"conv2d 3x3 valid, bias"}), variants(), {&wrong}, nn::DType::f32);
  std::set<std::string> what;
  for (const test::OpFailure& f : report.failures) what.insert(f.what);
  CHECK(what == std::set<std::string>{"gradient of input 2"});  // the bias's; the output and the other two agree
}

TEST_CASE("a stub's 'not written yet' is counted as skipped, never passed") {
  const std::vector<test::Variant> vs = variants();
  const nn::Backend stub = stub_copy_backend();
  test::HarnessReport report = test::run_op_cases(cases_named({"clone"}), vs, {&stub}, nn::DType::f32);
  CHECK(report.failures.empty());
  CHECK(report.skipped.size() == vs.size());
  CHECK(report.comparisons == 0);
  REQUIRE_FALSE(report.skipped.empty());
  CHECK(report.skipped.front().message == "stub-copy backend: copy is not written yet");
}

TEST_CASE("the views variant hands the op offset views into larger storage, in every dtype") {
  static std::vector<std::pair<int64_t, size_t>> seen;  // (offset, storage elements) of each run's input
  seen.clear();
  test::OpCase probe{"probe", rows(), [](const OpInputs& x) {
                       seen.emplace_back(x[0].impl()->offset, x[0].impl()->storage->count);
                       return nn::relu(x[0]);
                     }};
  const test::Variant views{"views", {3, 1, 1, 5}, true};
  for (nn::DType dtype : {nn::DType::f32, nn::DType::bf16}) {
    test::run_op_cases({probe}, {views}, {&nn::cpu_backend()}, dtype);
  }
  REQUIRE(seen.size() == 4);  // the oracle and the cpu run, per dtype
  for (auto [offset, count] : seen) {
    CHECK(offset == 5);      // one row of 5 in
    CHECK(count == 5 * 5u);  // two rows more than the 3 viewed
  }
}

TEST_CASE("the harness reports a relu that returns x, once relu runs on the backend") {
  std::vector<test::OpCase> cases = cases_named({"relu"});
  const nn::Backend probe = map_probe_backend();
  bool on_backend = false;
  try {
    nn::BackendScope scope(probe);
    nn::relu(Tensor::from_data({2}, {-1, 1}));
  } catch (const nn::Error& e) {
    on_backend = std::string(e.what()).find("map-probe") != std::string::npos;
  }
  if (!on_backend) {
    MESSAGE("skipped for now: relu does not call the backend's map yet, so a wrong map cannot change it");
    return;
  }
  const nn::Backend wrong = wrong_relu_backend();
  test::HarnessReport report = test::run_op_cases(cases, variants(), {&wrong}, nn::DType::f32);
  CHECK(report.failing_ops("wrong-relu").count("relu") == 1);
}
