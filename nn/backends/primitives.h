/// @file
/// The arguments of the backend table's primitives (nn/backends/backend.h): geometries, the names of the elementwise
/// functions and reductions, and the constants of one optimiser step. Plain data, shared by every backend.
#pragma once

#include <cstdint>

#include "nn/core/dtype.h"

namespace nn::kernels {

/// C (M,N) = α·op(A)·op(B) + β·C, row-major, op(X) = X or Xᵀ.
struct GemmShape {
  int m = 0, n = 0, k = 0;
  bool transpose_a = false;       ///< A stored (K,M) instead of (M,K)
  bool transpose_b = false;       ///< B stored (N,K) instead of (K,N)
  int lda = 0, ldb = 0, ldc = 0;  ///< leading dimensions (row strides) as stored; 0 = packed. lda and ldb may be
                                  ///< shorter than a row (overlapping rows, as implicit GEMMs read an image)
};

/// A batch of GEMMs of one shape: product b reads A at a + b·stride_a elements, B at b + b·stride_b, writes C at
/// c + b·stride_c (a stride of 0 repeats one operand across the batch).
struct GemmCall {
  GemmShape shape;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  ///< in elements
  float alpha = 1.0f, beta = 0.0f;
  DType ab_type = DType::f32;  ///< A's and B's dtype: f32, or bf16 (products accumulated in f32)
  DType c_type = DType::f32;   ///< C's dtype: f32, or bf16 (rounded once, from the f32 sum; β must then be 0)
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  const float* bias = nullptr;  ///< (N) added to every row of C, or null; f32 products only (a Dense layer's bias in
                                ///< the GEMM's store instead of a pass of its own)
};

/// The geometry of a sliding 2-D window over an NHWC image: convolution, depthwise convolution and pooling all take
/// one of these. It is computed in exactly one place, nn::plan_window (nn/ops/window.h).
struct Window2D {
  int64_t n = 0, h = 0, w = 0, c = 0;  ///< input (N, H, W, C)
  int64_t kh = 1, kw = 1;              ///< window extent
  int64_t sh = 1, sw = 1;              ///< strides
  int64_t oh = 0, ow = 0;              ///< output extent
  int64_t pad_top = 0, pad_left = 0;   ///< padding before; the rest (bottom/right) is implied by oh, ow
  int64_t oc = 0;                      ///< output channels (conv2d); c for depthwise and pooling
  /// depthwise_forward only: x is read as max(x, 0) — a ReLU before the convolution fused into its read (NaN reads
  /// as 0, as relu gives). Every other primitive is given false.
  bool relu_input = false;

  int64_t input_size() const { return n * h * w * c; }
  int64_t output_size() const { return n * oh * ow * oc; }
  bool is_pointwise() const { return kh == 1 && kw == 1 && pad_top == 0 && pad_left == 0; }
};

/// Which pooling.
enum class Pool : uint8_t { max, average };

/// One LSTM step for a batch of rows, Keras gate order i, f, c, o (each U wide); the matrix products
/// (x·W + h·R + b) happen before it, in a GEMM.
struct LstmStep {
  int64_t rows = 0;           ///< N
  int64_t units = 0;          ///< U
  int64_t gate_stride = 0;    ///< floats between consecutive rows of `gates` (4U packed, T·4U inside (N,T,4U))
  int64_t state_stride = 0;   ///< row stride of this step's c and h (U packed, T·U inside (N,T,U))
  int64_t prev_stride = 0;    ///< row stride of the previous step's c_prev and h_prev
  bool hard_sigmoid = false;  ///< recurrent activation: Keras hard_sigmoid instead of the logistic sigmoid
};

/// Per channel: y = γ·(x − mean)·inv_std + β — batch norm's normalisation. Four vectors (C), f32.
struct ChannelAffine {
  const float* gamma;
  const float* beta;
  const float* mean;
  const float* inv_std;
};

/// Batch norm's backward over x (rows, C) with the forward's per-channel vectors (C, f32): x̂ = (x − mean)·inv_std.
struct BatchNormBackward {
  int64_t rows = 0;                ///< M
  int64_t channels = 0;            ///< C
  bool training = false;           ///< the statistics came from x (then dx has the terms through μ and σ²)
  const float* mean = nullptr;     ///< μ
  const float* inv_std = nullptr;  ///< r = 1/sqrt(σ² + ε)
  const float* gamma = nullptr;    ///< γ
};

/// The elementwise functions y = f(x) of the map primitives; p0 and p1 of UnaryCall are their parameters.
enum class Unary : uint8_t {
  neg,            ///< −x
  exp,            ///< eˣ
  log,            ///< ln x
  sqrt,           ///< √x
  rsqrt,          ///< 1/√x
  abs,            ///< |x|
  pow,            ///< x^p0
  clamp,          ///< min(max(x, p0), p1); NaN stays NaN
  add_scalar,     ///< x + p0
  mul_scalar,     ///< x·p0
  div_scalar_by,  ///< p0 / x
  relu,           ///< max(x, 0)
  sigmoid,        ///< 1/(1 + e⁻ˣ)
  hard_sigmoid,   ///< min(1, max(0, 0.2x + 0.5)) (Keras)
  tanh,           ///< tanh x
  leaky_relu,     ///< x, or p0·x below 0
  elu,            ///< x, or p0·(eˣ − 1) below 0
  gelu,           ///< x·Φ(x), the exact (erf) form
  silu,           ///< x·sigmoid(x)
};

/// Whether the derivative of `op` reads the input x; the others need only the output y (so an op's backward keeps x
/// alive only for these, and map_backward may be given a null x for the rest).
constexpr bool derivative_reads_x(Unary op) {
  switch (op) {
    case Unary::log:
    case Unary::abs:
    case Unary::pow:
    case Unary::clamp:
    case Unary::div_scalar_by:
    case Unary::leaky_relu:
    case Unary::elu:
    case Unary::gelu:
    case Unary::silu:
      return true;
    default:
      return false;
  }
}

/// A unary function and its parameters.
struct UnaryCall {
  Unary op = Unary::neg;
  float p0 = 0.0f, p1 = 0.0f;
};

/// The binary functions y = a ∘ b of zip. Comparisons give 1 or 0.
enum class Binary : uint8_t { add, sub, mul, div, pow, minimum, maximum, eq, ne, lt, le, gt, ge };

/// A broadcast of two operands onto y's shape (rank ≤ kMaxRank): the strides of a and b per axis of y, in elements,
/// 0 along a broadcast axis.
struct Broadcast {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride_a[kMaxRank] = {};
  int64_t stride_b[kMaxRank] = {};
};

/// The reductions of reduce.
enum class Reduce : uint8_t { sum, max, min };

/// What softmax_rows computes per row.
enum class RowSoftmax : uint8_t { softmax, log_softmax, logsumexp };

/// One group's Adam constants for step t (nn/optim/adam.cpp computes them).
struct AdamStep {
  float b1, b2, eps;
  float step_size;      ///< keras: lr·sqrt(1−β2ᵗ)/(1−β1ᵗ); pytorch: lr/(1−β1ᵗ)
  float sqrt_bc2;       ///< keras: 1 (ε meets the uncorrected sqrt(v)); pytorch: sqrt(1−β2ᵗ)
  float coupled_decay;  ///< λ of g ← g + λθ (Adam), else 0
  float shrink;         ///< 1 − lr·λ (AdamW), else 1
};

/// One group's SGD constants (nn/optim/sgd.cpp), g ← g + λθ first when λ ≠ 0. Keras's form: v ← μ·v − lr·g, then
/// θ ← θ + v (Nesterov: θ ← θ + μ·v − lr·g). PyTorch's (dampening 0): with μ ≠ 0, b ← μ·b + g and g ← b (Nesterov:
/// g ← g + μ·b); then θ ← θ − lr·g.
struct SgdStep {
  float lr = 0, momentum = 0, weight_decay = 0;
  bool nesterov = false;
  bool keras_form = false;  ///< Keras's velocity form, else PyTorch's
};

/// One group's RMSprop constants (nn/optim/rmsprop.cpp): g ← g + λθ; s ← α·s + (1−α)·g²; centered: a ← α·a + (1−α)·g
/// and d = sqrt(s − a²) + ε, else d = sqrt(s) + ε; with μ > 0, b ← μ·b + g/d and θ ← θ − lr·b, else θ ← θ − lr·g/d.
struct RmspropStep {
  float lr = 0, alpha = 0, eps = 0, weight_decay = 0, momentum = 0;
  bool centered = false;
};

/// One Adagrad step (nn/optim/adagrad.cpp): g ← g + λθ; s ← s + g²; θ ← θ − lr·g / (sqrt(s) + ε), lr already decayed
/// for this step.
struct AdagradStep {
  float lr = 0, eps = 0, weight_decay = 0;
};

/// The rows of a classification loss over logits (rows, classes): each row's target class and an optional weight.
struct TargetRows {
  int64_t rows = 0;                  ///< R
  int64_t classes = 0;               ///< C
  const int32_t* targets = nullptr;  ///< (R), each in [0, C)
  const float* weights = nullptr;    ///< (R), or null for 1
};

/// Which binary cross-entropy. logits: l = (1 − y)·x + (1 + (p − 1)·y)·softplus(−x) (stable), ∂l/∂x = (1 − y) −
/// (1 + (p − 1)·y)·σ(−x), ∂l/∂y = −x + (p − 1)·softplus(−x). probabilities: l = −(y·log x + (1 − y)·log(1 − x)) with
/// each log clamped at −100, ∂l/∂x = (x − y) / max(x·(1 − x), 1e-12), ∂l/∂y = log(1 − x) − log x (PyTorch's).
enum class BinaryLoss : uint8_t { logits, probabilities };

/// The rows of nll_loss and cross_entropy (nn/ops/losses.cpp) over x (rows, classes): the loss a·nll_i + b·smooth_i
/// with nll_i = −w[t_i]·log p_i[t_i] and smooth_i = W·lse_i − Σ_c w_c·x_ic (label smoothing).
struct ClassLoss {
  int64_t rows = 0;                      ///< R
  int64_t classes = 0;                   ///< C
  bool logits = false;                   ///< x are logits (each row's logsumexp taken), else log-probabilities
  const int32_t* targets = nullptr;      ///< (R); read only on rows not ignored
  const uint8_t* ignored = nullptr;      ///< (R): 1 where the target is ignore_index
  const float* target_weight = nullptr;  ///< (R): w[t_i]
  const float* class_weights = nullptr;  ///< (C), or null for 1
  double class_weight_sum = 0;           ///< W = Σ_c w_c
  double a = 1, b = 0;                   ///< 1 − ε and ε/C, both divided by Σ w[t_i] for a mean
};

/// Layer normalisation over the rows of x (rows, width): the affine vectors (width) are optional.
struct RowNorm {
  int64_t rows = 0;              ///< M
  int64_t width = 0;             ///< D, the normalised values per row
  float epsilon = 0;             ///< added to σ² before the square root
  const float* gamma = nullptr;  ///< γ (D), or null for 1
  const float* beta = nullptr;   ///< β (D), or null for 0
};

}  // namespace nn::kernels
