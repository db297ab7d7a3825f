// Differentiable operations. Each takes and returns Tensors, checks its inputs (nn::Error with shapes) and records
// its backward when an input requires grad. Forward and backward of each live together in nn/ops/<name>.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "nn/core/padding.h"

#include "nn/core/random.h"
#include "nn/core/tensor.h"

namespace nn {

// ---- matmul.cpp ----
/// a (...,M,K) × b (...,K,N) → (...,M,N) on OpenBLAS sgemm, one product per batch index; the leading (batch)
/// dimensions broadcast as NumPy's (a (B,M,K) × b (K,N) → (B,M,N)); rank 2 each is the plain product.
/// transpose_a / transpose_b read a's last two axes as (K,M), b's as (N,K).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
/// x (M,K) · w (K,N) + bias (N): a Dense layer's product with the bias added in the GEMM's store (f32; other dtypes
/// take matmul and add). The backward: x and w's gradients by GEMM, the bias's summed over rows.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);

// ---- elementwise.cpp ----
/// a + b with NumPy broadcasting; gradients are summed back to each input's shape.
Tensor add(const Tensor& a, const Tensor& b);
/// a − b with NumPy broadcasting; gradients are summed back to each input's shape.
Tensor sub(const Tensor& a, const Tensor& b);
/// a · b (elementwise) with NumPy broadcasting; gradients are summed back to each input's shape.
Tensor mul(const Tensor& a, const Tensor& b);
/// a / b (elementwise) with NumPy broadcasting; gradients are summed back to each input's shape.
Tensor div(const Tensor& a, const Tensor& b);
/// a + s for every element.
Tensor add(const Tensor& a, float s);
/// a · s for every element.
Tensor mul(const Tensor& a, float s);
/// −a for every element.
Tensor neg(const Tensor& a);
/// The broadcast of `a` to `shape` (copied); its gradient sums back.
Tensor broadcast_to(const Tensor& a, const Shape& shape);

/// add(a, b).
inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
/// sub(a, b).
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
/// mul(a, b).
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
/// div(a, b).
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
/// add(a, s).
inline Tensor operator+(const Tensor& a, float s) {
  return add(a, s);
}
/// a − s: add(a, −s).
inline Tensor operator-(const Tensor& a, float s) {
  return add(a, -s);
}
/// mul(a, s).
inline Tensor operator*(const Tensor& a, float s) {
  return mul(a, s);
}
/// s · a: mul(a, s).
inline Tensor operator*(float s, const Tensor& a) {
  return mul(a, s);
}
/// a / s: mul(a, 1/s).
inline Tensor operator/(const Tensor& a, float s) {
  return mul(a, 1.0f / s);
}
/// neg(a).
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}
/// A scalar on the left: s + a, s − a, s · a (above), s / a. This one: s / a for every element.
Tensor div(float s, const Tensor& a);
/// s + a: add(a, s).
inline Tensor operator+(float s, const Tensor& a) {
  return add(a, s);
}
/// s − a: add(neg(a), s).
inline Tensor operator-(float s, const Tensor& a) {
  return add(neg(a), s);
}
/// s / a: div(s, a).
inline Tensor operator/(float s, const Tensor& a) {
  return div(s, a);
}

// ---- math.cpp ----
/// eˣ, pointwise: any shape → the same shape.
Tensor exp(const Tensor& x);
/// Natural logarithm, pointwise: any shape → the same shape.
Tensor log(const Tensor& x);
/// Square root, pointwise: any shape → the same shape.
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  ///< 1 / sqrt(x), pointwise
Tensor abs(const Tensor& x);    ///< its gradient is sign(x), 0 at 0 (as PyTorch)
/// x^exponent, pointwise: any shape → the same shape.
Tensor pow(const Tensor& x, float exponent);
/// x^e with broadcasting; the exponent's gradient x^e·log(x) is taken as 0 where x = 0 and e ≥ 0 (as PyTorch).
Tensor pow(const Tensor& x, const Tensor& exponent);
/// Elementwise min(max(x, low), high) (±infinity for a one-sided clamp); the gradient passes where low ≤ x ≤ high.
Tensor clamp(const Tensor& x, float low, float high);

// ---- compare.cpp ---- NumPy broadcasting
/// Elementwise minimum / maximum; NaN propagates; on ties each input gets half the gradient (as PyTorch).
Tensor minimum(const Tensor& a, const Tensor& b);
/// Elementwise maximum; as minimum.
Tensor maximum(const Tensor& a, const Tensor& b);
/// 0/1 masks of the broadcast shape; no gradient flows through a comparison. This one: a == b.
Tensor eq(const Tensor& a, const Tensor& b);
/// 0/1 mask of a ≠ b; no gradient.
Tensor ne(const Tensor& a, const Tensor& b);
/// 0/1 mask of a < b; no gradient.
Tensor lt(const Tensor& a, const Tensor& b);
/// 0/1 mask of a ≤ b; no gradient.
Tensor le(const Tensor& a, const Tensor& b);
/// 0/1 mask of a > b; no gradient.
Tensor gt(const Tensor& a, const Tensor& b);
/// 0/1 mask of a ≥ b; no gradient.
Tensor ge(const Tensor& a, const Tensor& b);
/// 0/1 mask of a == s; no gradient.
Tensor eq(const Tensor& a, float s);
/// 0/1 mask of a ≠ s; no gradient.
Tensor ne(const Tensor& a, float s);
/// 0/1 mask of a < s; no gradient.
Tensor lt(const Tensor& a, float s);
/// 0/1 mask of a ≤ s; no gradient.
Tensor le(const Tensor& a, float s);
/// 0/1 mask of a > s; no gradient.
Tensor gt(const Tensor& a, float s);
/// 0/1 mask of a ≥ s; no gradient.
Tensor ge(const Tensor& a, float s);
/// mask ≠ 0 ? a : b, all three broadcast together; the mask gets no gradient.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);

// ---- activations.cpp ----
/// max(x, 0), pointwise.
Tensor relu(const Tensor& x);
/// 1 / (1 + e⁻ˣ), pointwise.
Tensor sigmoid(const Tensor& x);
/// Keras 2.0–2.2's hard sigmoid: clip(0.2·x + 0.5, 0, 1).
Tensor hard_sigmoid(const Tensor& x);
/// Hyperbolic tangent, pointwise.
Tensor tanh(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float negative_slope = 0.01f);  ///< x < 0 ? slope·x : x
Tensor elu(const Tensor& x, float alpha = 1.0f);                   ///< x < 0 ? α(eˣ − 1) : x
Tensor gelu(const Tensor& x);  ///< x·Φ(x) with the exact erf form (PyTorch's default, not the tanh approximation)
Tensor silu(const Tensor& x);  ///< x·sigmoid(x)

/// A named activation, as layers take it (Keras's `activation=` argument).
/// The activations a layer takes by name (DenseOptions::activation …); leaky_relu and elu with their default slope.
enum class Activation { linear, relu, sigmoid, hard_sigmoid, tanh, softmax, leaky_relu, elu, gelu, silu };
/// Applies the named activation to x (linear: x itself; softmax over the last axis).
Tensor activate(const Tensor& x, Activation activation);
/// The activation's name, as Keras spells it (`relu`, `hard_sigmoid` …).
const char* to_string(Activation activation);

// ---- softmax.cpp ----
/// Softmax over `axis` (the last by default; another axis is moved last, computed, moved back); same shape as x.
Tensor softmax(const Tensor& x, int axis = -1);
/// log(softmax(x)) over `axis`, computed stably; same shape as x.
Tensor log_softmax(const Tensor& x, int axis = -1);

// ---- reduce.cpp ----
/// Sums over `axes` (negative axes count from the end; empty = all axes).
Tensor sum(const Tensor& x, std::vector<int> axes = {}, bool keepdim = false);
/// The mean over `axes` (negative axes count from the end; empty = all axes).
Tensor mean(const Tensor& x, std::vector<int> axes = {}, bool keepdim = false);

// ---- index.cpp ---- along one axis: x (..., D, ...) → (..., ...), or (..., 1, ...) with keepdim
/// The largest value along `axis`: x (..., D, ...) → (..., ...), or (..., 1, ...) with keepdim. NaN if any is
/// NaN (as PyTorch); the gradient goes to the first one on ties.
Tensor max(const Tensor& x, int axis, bool keepdim = false);
/// The smallest value along `axis`; as max.
Tensor min(const Tensor& x, int axis, bool keepdim = false);
/// The position of the first largest value (or first NaN) along `axis` as a whole-number float tensor (no
/// gradient): x (..., D, ...) → (..., ...), or (..., 1, ...) with keepdim.
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);
/// The position of the first smallest value (or first NaN); as argmax.
Tensor argmin(const Tensor& x, int axis, bool keepdim = false);

// ---- shape_ops.cpp ----
/// x viewed with `shape` (same element count).
Tensor reshape(const Tensor& x, const Shape& shape);
/// Joins tensors whose shapes agree except along `axis`.
Tensor concat(const std::vector<Tensor>& xs, int axis);
/// Elements [start, end) along `axis`: a view of x's storage (no copy; writes to one show in the other, as in
/// PyTorch) when they are one run of x's elements — `axis` 0, or every axis before it of extent 1 —, a copy
/// otherwise.
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);

// ---- layout.cpp ---- permute and transpose copy the data (libnn tensors are always contiguous); squeeze and
// unsqueeze are views (reshape).
/// x with axis i of the result taken from axis dims[i] of x (dims: a permutation of 0..rank−1, negatives allowed).
Tensor permute(const Tensor& x, const std::vector<int>& dims);
/// x with axes a and b swapped (a copy).
Tensor transpose(const Tensor& x, int a, int b);
/// Removes `axis`, whose extent must be 1.
Tensor squeeze(const Tensor& x, int axis);
/// Inserts an axis of extent 1 at `axis` of the result (−1: last).
Tensor unsqueeze(const Tensor& x, int axis);
/// Tensors of one shape S joined along a new axis: n × S → S with n inserted at `axis`.
Tensor stack(const std::vector<Tensor>& xs, int axis = 0);
/// Pieces of extents `sizes` along `axis` (copies); the sizes must add up to x's extent there.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis);

// ---- embedding.cpp ----
/// weight (V,E), ids of any shape S with values in [0,V) → S + [E].
Tensor embedding(const Tensor& weight, const Indices& ids);

// ---- dropout.cpp ----
/// Inverted dropout: in training zeroes each element with probability `rate` and scales the rest by 1/(1-rate);
/// otherwise returns x itself.
Tensor dropout(const Tensor& x, float rate, bool training, Generator& gen);

// ---- cross_entropy.cpp ----
/// Softmax cross-entropy fused with integer targets: logits (P..., V), targets (P...) in [0,V), optional mask (P...)
/// of per-position weights (1 keep, 0 ignore). Returns the scalar mean of -log softmax(logits)[target] over the
/// kept positions (Σ mask·loss / Σ mask); 0 when no position is kept.
Tensor softmax_cross_entropy(const Tensor& logits, const Indices& targets, const Tensor& mask = Tensor());

// ---- lstm.cpp ----
/// The activation of a recurrent layer's gates (Keras's `recurrent_activation=`).
enum class RecurrentActivation { sigmoid, hard_sigmoid };

/// An LSTM's parameters in Keras's layout.
struct LstmWeights {
  Tensor kernel;            ///< (E, 4U), gate blocks in Keras order i, f, c, o
  Tensor recurrent_kernel;  ///< (U, 4U)
  Tensor bias;              ///< (4U)
};

/// How lstm() runs.
struct LstmOptions {
  Tensor mask;       ///< (N, T): 1 runs the step, 0 carries (h, c) unchanged; undefined = every step runs
  Tensor initial_h;  ///< (N, U); undefined = zeros
  Tensor initial_c;  ///< (N, U); undefined = zeros
  /// The activation of the i, f and o gates.
  RecurrentActivation recurrent_activation = RecurrentActivation::sigmoid;
};

/// What lstm() returns.
struct LstmResult {
  Tensor outputs;  ///< (N, T, U): h after every step (a masked step repeats the previous h)
  Tensor h;        ///< (N, U): the last state
  Tensor c;        ///< (N, U): the last cell state
};

/// A masked LSTM over a whole sequence x (N, T, E), with Keras semantics (DESIGN.md item 7), fused forward and
/// backward.
LstmResult lstm(const Tensor& x, const LstmWeights& weights, const LstmOptions& options = {});

// ---- gru.cpp ----
/// The order of the three gate blocks along the 3U axis of a GRU's kernel, recurrent kernel and bias.
enum class GruGateOrder {
  keras,  ///< z (update), r (reset), h (candidate): Keras and TensorFlow
  torch,  ///< r (reset), z (update), n (candidate): PyTorch's weight_ih / weight_hh / b_ih / b_hh
};

/// A GRU's parameters in Keras's layout (torch's weights are the transposes; see gru_weights_from_torch).
struct GruWeights {
  Tensor kernel;            ///< (E, 3U), gate blocks in GruOptions::gate_order
  Tensor recurrent_kernel;  ///< (U, 3U)
  /// (2, 3U) with reset_after: row 0 the input bias, row 1 the recurrent bias (torch's b_ih, b_hh);
  /// (3U) without reset_after; undefined: no bias.
  Tensor bias;
};

/// How a GRU runs. Keras's TF2 default is {reset_after = true, gate_order = keras}; Keras 2.0's GRU is
/// {reset_after = false, recurrent_activation = hard_sigmoid}; PyTorch's nn.GRU is
/// {reset_after = true, gate_order = torch}.
struct GruOptions {
  Tensor mask;       ///< (N, T): 1 runs the step, 0 carries h unchanged; undefined = every step runs
  Tensor initial_h;  ///< (N, U); undefined = zeros
  /// true: the reset gate scales the recurrent product, h̃ = tanh(x·W_h + b_h + r ⊙ (h·R_h + b'_h)) (TF2, PyTorch);
  /// false: it scales h before the product, h̃ = tanh(x·W_h + b_h + (r ⊙ h)·R_h) (Keras 2.0).
  bool reset_after = true;
  /// The order of the gate blocks in the weights.
  GruGateOrder gate_order = GruGateOrder::keras;
  RecurrentActivation recurrent_activation = RecurrentActivation::sigmoid;  ///< of the z and r gates
};

/// What gru() returns.
struct GruResult {
  Tensor outputs;  ///< (N, T, U): h after every step (a masked step repeats the previous h)
  Tensor h;        ///< (N, U): the last state
};

/// A masked GRU over a whole sequence x (N, T, E): per step z = σ(x·W_z + h·R_z + b_z), r likewise,
/// h̃ as GruOptions::reset_after says, h_t = z ⊙ h_{t−1} + (1 − z) ⊙ h̃; a masked row keeps h_{t−1}.
/// Composed of differentiable ops step by step, so its gradient is theirs.
/// Throws nn::Error naming the tensor and both shapes when x is not (N,T,E) or a weight, the mask or the initial
/// state does not fit.
GruResult gru(const Tensor& x, const GruWeights& weights, const GruOptions& options = {});

/// PyTorch's GRU parameters — weight_ih (3U, E), weight_hh (3U, U), b_ih (3U), b_hh (3U), gate blocks r, z, n —
/// as GruWeights for reset_after = true in `order`: the weights transposed, the biases stacked into (2, 3U), the
/// blocks reordered to z, r, h for GruGateOrder::keras. Returns new tensors without autograd history.
/// Throws nn::Error with the shapes when they do not fit together.
GruWeights gru_weights_from_torch(const Tensor& weight_ih, const Tensor& weight_hh, const Tensor& b_ih,
                                  const Tensor& b_hh, GruGateOrder order = GruGateOrder::keras);

// ---- attention.cpp ----
/// Which keys each query may attend to. Every part is optional; a key is kept only where every given part keeps it.
struct AttentionMask {
  Tensor mask;          ///< (Tq, Tk) or (N, Tq, Tk): 1 keep, 0 drop
  Tensor key_padding;   ///< (N, Tk): 1 a real key, 0 padding
  bool causal = false;  ///< query i sees keys j ≤ i only (top-left aligned, as Keras's use_causal_mask)
};

/// What attention returns.
struct AttentionResult {
  Tensor output;   ///< scaled_dot_product_attention: (N, H, Tq, Dv); MultiHeadAttention: (N, Tq, output features)
  Tensor weights;  ///< (N, H, Tq, Tk): the softmax over keys, per head (zeros where a key is dropped)
};

/// softmax(q·kᵀ / √D, masked)·v for every batch index and head: q (N,H,Tq,D), k (N,H,Tk,D), v (N,H,Tk,Dv) →
/// output (N,H,Tq,Dv) and weights (N,H,Tq,Tk). Composed of matmul, where, softmax and mul, so is its gradient.
/// A query whose every key is dropped gets zero weights and a zero output, not NaN (PyTorch gives NaN there,
/// Keras uniform weights). With dropout_rate > 0 the weights that multiply v go through dropout(…, training =
/// true, gen) (pass 0 outside training, as torch's dropout_p); the returned weights are those before dropout, as
/// Keras returns them. Masks are 0/1 float tensors; throws nn::Error with the shapes when q, k, v or a mask do not
/// fit together.
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionMask& mask = {}, float dropout_rate = 0.0f,
                                             Generator& gen = default_generator());

// ---- conv2d.cpp ---- NHWC; TensorFlow's valid/same padding (nn/ops/window.h)
/// How conv2d, depthwise_conv2d and separable_conv2d slide: NHWC, TensorFlow's valid/same padding.
struct ConvOptions {
  std::array<int64_t, 2> strides = {1, 1};  ///< (height, width)
  /// valid: no padding; same: output extent ⌈in / stride⌉ (TensorFlow's split).
  Padding padding = Padding::valid;
  /// Convolve relu(x) instead of x. depthwise_conv2d (and so separable_conv2d) applies it as x is read when nothing
  /// is recorded, saving the pass relu(x) takes; with a gradient, and in conv2d, relu(x) is computed first.
  bool relu_input = false;
};

/// x (N,H,W,C), weight (KH,KW,C,OC) as Keras stores it, bias (OC) or undefined → (N,OH,OW,OC).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const ConvOptions& options = {});

// ---- depthwise_conv2d.cpp ----
/// x (N,H,W,C), weight (KH,KW,C,1) as Keras stores it (depth multiplier 1), bias (C) or undefined → (N,OH,OW,C).
Tensor depthwise_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvOptions& options = {});
/// Depthwise (KH,KW,C,1) then pointwise (1,1,C,OC) with bias (OC): composed of the two ops above, so is its gradient.
Tensor separable_conv2d(const Tensor& x, const Tensor& depthwise_weight, const Tensor& pointwise_weight,
                        const Tensor& bias = Tensor(), const ConvOptions& options = {});

// ---- pooling.cpp ----
/// How max_pool2d and avg_pool2d slide over x (N,H,W,C) → (N,OH,OW,C).
struct PoolOptions {
  /// Window (height, width).
  std::array<int64_t, 2> size = {2, 2};
  std::array<int64_t, 2> strides = {0, 0};  ///< 0: the pool size, as Keras
  /// valid or same, as TensorFlow.
  Padding padding = Padding::valid;
};
/// Padding never wins a max; the gradient goes to the arg-max (the first one in scan order on ties).
Tensor max_pool2d(const Tensor& x, const PoolOptions& options = {});
/// Averages over the real pixels of each window (padding excluded), as TensorFlow.
Tensor avg_pool2d(const Tensor& x, const PoolOptions& options = {});
/// x (N,H,W,C) → (N,C): the mean over H and W.
Tensor global_avg_pool2d(const Tensor& x);

// ---- batch_norm.cpp ----
/// A synchronised batch_norm's link to the other processes of a data-parallel job (nn::Trainer makes one from its
/// nn::Parallel with TrainerOptions::sync_batch_norm): in training, the statistics and the backward's sums are the
/// global batch's, so N processes normalise as one process on the whole batch. libnn makes no call to MPI itself.
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  /// values[i] ← Σ over the processes of values[i]; every process calls it at the same point of its forward and
  /// backward (the same model, the same batch norms in the same order).
  virtual void sum(std::vector<double>& values) = 0;
  /// This process's weight in the gradient average, items / Σ items (nn::Parallel::average_gradients): the
  /// backward's sums are weighted by it, as the gradients that reach them are those of this process's own loss.
  virtual double gradient_weight() const = 0;
};

/// How batch_norm runs.
struct BatchNormConfig {
  bool training = false;   ///< batch statistics (and update the moving ones) instead of the moving statistics
  float momentum = 0.99f;  ///< moving ← momentum·moving + (1 − momentum)·batch, as Keras
  float epsilon = 1e-3f;   ///< Keras's default
  /// In training: the statistics of every process's batch together (must outlive the backward); null: this batch's.
  BatchNormSync* sync = nullptr;
};
/// Normalises x (..., C) per channel (the last axis): y = γ·(x − μ)/sqrt(σ² + ε) + β. In training, μ and σ² are the
/// batch's (biased σ² to normalise; the unbiased one, as TensorFlow and PyTorch, updates moving_variance in place);
/// with config.sync, those of every process's batch together (and at least 2 values per channel in all).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                  Tensor& moving_variance, const BatchNormConfig& config = {});

// ---- layer_norm.cpp ----
/// Normalises x over its last k axes, k the rank of `normalized_shape`, which must equal x's last k extents (as
/// torch.nn.functional.layer_norm): per row, y = (x − μ)/sqrt(σ² + ε)·gamma + beta, μ and σ² (biased, as PyTorch and
/// Keras) over those k axes. gamma and beta have shape `normalized_shape`, or are undefined (1 and 0). Forward and
/// backward are fused; statistics accumulate in double. Throws nn::Error with the shapes when they do not fit, or
/// for ε < 0.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& gamma = Tensor(),
                  const Tensor& beta = Tensor(), float epsilon = 1e-5f);

// ---- conv2d_transpose.cpp ----
/// How conv2d_transpose slides (Keras's Conv2DTranspose arguments).
struct ConvTransposeOptions {
  std::array<int64_t, 2> strides = {1, 1};  ///< (height, width)
  /// valid or same, as conv2d.
  Padding padding = Padding::valid;
  /// Extra rows and columns of output (each below its stride), as Keras's output_padding; none: Keras's default.
  std::optional<std::array<int64_t, 2>> output_padding;
};

/// The transpose of conv2d (the gradient of conv2d with respect to its input, as TensorFlow's conv2d_transpose):
/// x (N,H,W,C), weight (KH,KW,OC,C) as Keras's Conv2DTranspose stores it, bias (OC) or undefined → (N,OH,OW,OC).
/// Output size per axis by Keras's rule (in, k, s; output padding p):
///   no output padding:  valid: in·s + max(k − s, 0);  same: in·s;
///   output padding p:   (in − 1)·s + k − 2·pad + p with pad 0 (valid) or ⌊k/2⌋ (same);
/// each input pixel (i, j) adds x·weight to the KH×KW window at (i·s − pad_top, j·s − pad_left), pad_top =
/// ⌊max((in − 1)·s + k − out, 0)/2⌋ (TensorFlow's "same" split: the odd pixel at the bottom/right). Its backward is
/// conv2d's forward and weight gradient on the same geometry. Throws nn::Error with the shapes for a weight or bias
/// that does not fit x, non-positive strides, or an output padding outside [0, stride).
Tensor conv2d_transpose(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvTransposeOptions& options = {});

}  // namespace nn
