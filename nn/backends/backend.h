/// @file
/// The backend table: every loop libnn runs on tensor data, as about twenty primitives behind one struct of
/// function pointers (docs/backends.md). Ops check their arguments, pick the backend of their inputs' device with
/// backend_for(), call its primitives and record their backward; they hold no arithmetic loops of their own.
///
/// Two backends exist, both on Device::cpu:
///   - "cpu" (nn/backends/cpu/): the fast kernels — AVX-512 versus AVX2 versus OpenBLAS stays a choice inside it
///     (nn/backends/cpu/isa.h), bf16 on AVX512_BF16 where the processor has it;
///   - "ref" (nn/backends/ref/): the frozen naive loops, in double where a sum is long, the oracle that the op-test
///     harness (tests/test_backend_ops.cpp) compares every other backend against.
/// The cpu backend answers unless a BackendScope names another for the calling thread (as the harness does).
///
/// Conventions for every primitive: pointers are to contiguous, row-major elements of the dtype named by the call
/// (float unless a DType says otherwise; bf16 data as nn::bfloat16); outputs are overwritten unless the comment says
/// "adds"; nothing allocates, throws or keeps a pointer. Sums and statistics are computed in float32 (or wider)
/// whatever the storage dtype.
#pragma once

#include <cstdint>

#include "nn/backends/primitives.h"
#include "nn/core/dtype.h"

namespace nn {

class Tensor;

/// One backend: a name, the device it computes on, and its primitives.
struct Backend {
  const char* name = nullptr;   ///< "cpu", "ref"
  Device device = Device::cpu;  ///< where the data it takes lives

  // ---- memory: fill, copy, cast ----
  /// y (n elements of `dtype`) = value (rounded to the dtype).
  void (*fill)(DType dtype, int64_t n, float value, void* y) = nullptr;
  /// y = x, n elements of `dtype`; the ranges may overlap (views of one storage): y gets x's values as they were.
  void (*copy)(DType dtype, int64_t n, const void* x, void* y) = nullptr;
  /// y (n elements of `to`) = x (n elements of `from`) converted; float32 → bfloat16 rounds to nearest even.
  void (*cast)(int64_t n, DType from, const void* x, DType to, void* y) = nullptr;

  // ---- dense algebra ----
  /// The batched GEMM (primitives.h, GemmCall): C_b = α·op(A_b)·op(B_b) + β·C_b for every b of the batch; A and B
  /// f32 or both bf16 (then accumulated in f32), C f32 or bf16.
  void (*gemm)(const kernels::GemmCall& call) = nullptr;
  /// y (n) += α·x (n): gradient accumulation and SGD.
  void (*axpy)(int64_t n, float alpha, const float* x, float* y) = nullptr;

  // ---- convolution, NHWC images, HWIO filters (Window2D: the geometry) ----
  /// Floats of workspace conv2d_forward / conv2d_backward_* need for this geometry and dtype.
  int64_t (*conv2d_workspace)(const kernels::Window2D& g, DType dtype) = nullptr;
  /// y (N,OH,OW,OC) = conv(x (N,H,W,C), w (KH,KW,C,OC)) + bias (OC, f32, may be null); x, w and y of `dtype`.
  void (*conv2d_forward)(const kernels::Window2D& g, DType dtype, const void* x, const void* w, const float* bias,
                         void* y, void* workspace) = nullptr;
  /// dx (N,H,W,C) = the input gradient of conv2d for dy (N,OH,OW,OC); f32.
  void (*conv2d_backward_input)(const kernels::Window2D& g, const float* dy, const float* w, float* dx,
                                float* workspace) = nullptr;
  /// dw (KH,KW,C,OC) = Σ x ⊗ dy; f32.
  void (*conv2d_backward_weight)(const kernels::Window2D& g, const float* x, const float* dy, float* dw,
                                 float* workspace) = nullptr;
  /// db (channels) = Σ over rows of dy (rows, channels): the bias gradient of conv2d and dense; f32.
  void (*bias_backward)(int64_t rows, int64_t channels, const float* dy, float* db) = nullptr;
  /// Floats of workspace the depthwise backward primitives need.
  int64_t (*depthwise_workspace)(const kernels::Window2D& g) = nullptr;
  /// y (N,OH,OW,C) = each channel of x (N,H,W,C) convolved with its own filter of w (KH,KW,C) + bias (C, f32, may be
  /// null); x, w and y of `dtype`.
  void (*depthwise_forward)(const kernels::Window2D& g, DType dtype, const void* x, const void* w, const float* bias,
                            void* y) = nullptr;
  /// dx = the depthwise input gradient; f32.
  void (*depthwise_backward_input)(const kernels::Window2D& g, const float* dy, const float* w, float* dx,
                                   float* workspace) = nullptr;
  /// dw (KH,KW,C) = the depthwise filter gradient; f32.
  void (*depthwise_backward_weight)(const kernels::Window2D& g, const float* x, const float* dy, float* dw,
                                    float* workspace) = nullptr;
  /// y (N,OH,OW,C) = max or average over each window of x (padding never takes part); x and y of `dtype`.
  void (*pool_forward)(kernels::Pool kind, const kernels::Window2D& g, DType dtype, const void* x, void* y) = nullptr;
  /// dx (N,H,W,C) = the pooling input gradient for dy given the forward's x and y (max: the first element of each
  /// window equal to its output takes the gradient); f32.
  void (*pool_backward)(kernels::Pool kind, const kernels::Window2D& g, const float* x, const float* y, const float* dy,
                        float* dx) = nullptr;

  // ---- recurrent ----
  /// One LSTM step after its matrix products (primitives.h, LstmStep); f32.
  void (*lstm_step_forward)(const kernels::LstmStep& s, const float* mask, float* gates, const float* c_prev,
                            const float* h_prev, float* c, float* h) = nullptr;
  /// Its backward.
  void (*lstm_step_backward)(const kernels::LstmStep& s, const float* mask, const float* gates, const float* c,
                             const float* c_prev, float* dh, float* dc, float* d_gates) = nullptr;

  // ---- elementwise and broadcast ----
  /// y (n) = f(x) for the unary function `f` (primitives.h, Unary); y may be x; x and y f32, or both bf16 (each
  /// element widened, f computed as for f32, the result rounded once: the conversion path's numbers).
  void (*map)(const kernels::UnaryCall& f, DType dtype, int64_t n, const void* x, void* y) = nullptr;
  /// gx (n) = g·f′ at (x, y = f(x)); f32. x may be null for functions whose derivative needs only y.
  void (*map_backward)(const kernels::UnaryCall& f, int64_t n, const float* x, const float* y, const float* g,
                       float* gx) = nullptr;
  /// y = a ∘ b over a broadcast (primitives.h, Broadcast: y's shape and a's and b's strides onto it); a, b and y f32,
  /// or all three bf16 (computed in f32 and rounded once, as map).
  void (*zip)(kernels::Binary op, DType dtype, const kernels::Broadcast& shape, const void* a, const void* b,
              void* y) = nullptr;
  /// y (n) = mask ≠ 0 ? a : b elementwise: `where`, and gradients that pick between two values; y may be a or b; f32.
  void (*select)(int64_t n, const float* mask, const float* a, const float* b, float* y) = nullptr;

  // ---- reductions and normalisations ----
  /// y (outer, inner) = reduce x (outer, extent, inner) over its middle axis; f32. A sum runs in element order in
  /// float on the cpu backend (the numbers libnn's reductions have always given), in double on the ref backend.
  void (*reduce)(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y) = nullptr;
  /// index (outer, inner) = the position along the middle axis of x (outer, extent ≥ 1, inner) of the first largest
  /// (Reduce::max) or smallest (Reduce::min) value, or of the first NaN: argmax/argmin and max/min along an axis; f32.
  void (*arg_reduce)(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x,
                     int64_t* index) = nullptr;
  /// Per row of x (rows, width): softmax, log-softmax (both into y (rows, width)) or logsumexp (into y (rows)),
  /// stable (the row's maximum subtracted); f32.
  void (*softmax_rows)(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) = nullptr;
  /// gx (rows, width) from g and the forward's output y: softmax gx = y⊙(g − Σg⊙y); log-softmax gx = g − eʸ·Σg.
  void (*softmax_rows_backward)(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* y, const float* g,
                                float* gx) = nullptr;
  /// mean (C) and biased variance (C) of x (rows, C, f32) per channel, accumulated and returned in double: batch
  /// norm's statistics (its 1/√(σ² + ε) and moving variance are computed from the double variance).
  void (*channel_moments)(int64_t rows, int64_t channels, const float* x, double* mean, double* variance) = nullptr;
  /// y = γ·(x − mean)·inv_std + β per channel of x (rows, C) (primitives.h, ChannelAffine; its four vectors f32);
  /// x and y of `dtype`.
  void (*channel_affine)(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, DType dtype, const void* x,
                         void* y) = nullptr;

  /// Batch norm's backward (primitives.h, BatchNormBackward) for x and dy (rows, C): dbeta (C) = Σ dy and dgamma (C)
  /// = Σ dy·x̂, both summed in double; then, when dx is not null, dx (rows, C) = γ·r·dy in inference, and
  /// γ·r·(dy − (dbeta + x̂·dgamma)/rows) in training; f32.
  void (*batch_norm_backward)(const kernels::BatchNormBackward& p, const float* x, const float* dy, float* dx,
                              float* dgamma, float* dbeta) = nullptr;

  // ---- indexing ----
  /// out (count, width) = rows ids[i] of table (·, width): embedding lookup; ids already checked; f32.
  void (*gather_rows)(int64_t count, const int32_t* ids, int64_t width, const float* table, float* out) = nullptr;
  /// table_grad (·, width) adds row i of g (count, width) at row ids[i]: the embedding's gradient; f32.
  void (*scatter_add_rows)(int64_t count, const int32_t* ids, int64_t width, const float* g,
                           float* table_grad) = nullptr;

  // ---- optimiser ----
  /// One Adam/AdamW step over n elements of θ, m, v from gradient g (primitives.h, AdamStep); f32.
  void (*adam_update)(const kernels::AdamStep& s, int64_t n, float* theta, float* m, float* v,
                      const float* g) = nullptr;
  /// One SGD step (with momentum, Nesterov, coupled weight decay; Keras's or PyTorch's form: primitives.h, SgdStep)
  /// over n elements of θ and its momentum buffer (read only with momentum; may be null without) from g; f32.
  void (*sgd_update)(const kernels::SgdStep& s, int64_t n, float* theta, float* buffer, const float* g) = nullptr;
  /// One RMSprop step (primitives.h, RmspropStep) over n elements of θ and its running mean of g²; grad_avg (the
  /// running mean of g) is read only when centered, buffer only with momentum (either may be null otherwise); f32.
  void (*rmsprop_update)(const kernels::RmspropStep& s, int64_t n, float* theta, float* square_avg, float* grad_avg,
                         float* buffer, const float* g) = nullptr;
  /// One Adagrad step (primitives.h, AdagradStep) over n elements of θ and its sum of g²; f32.
  void (*adagrad_update)(const kernels::AdagradStep& s, int64_t n, float* theta, float* sum, const float* g) = nullptr;
  /// *total += Σ x² over x (n), accumulated in double: the gradient norm of clip_grad_norm; f32.
  void (*sum_squares)(int64_t n, const float* x, double* total) = nullptr;
  /// *finite = whether every element of x (n) is finite (no NaN, no ±∞): the trainer's check before a step; f32.
  void (*all_finite)(int64_t n, const float* x, bool* finite) = nullptr;

  // ---- classification losses ----
  /// The softmax cross-entropy's forward over the rows of x (rows, classes) (primitives.h, TargetRows; w_r the row's
  /// weight, 1 without weights): lse (rows) = each row's logsumexp (as softmax_rows); sums[0] = Σ w_r·(lse_r −
  /// x_r[t_r]) and sums[1] = Σ w_r, both in double; f32.
  void (*cross_entropy_rows)(const kernels::TargetRows& r, const float* x, float* lse, double* sums) = nullptr;
  /// Its backward: gx (rows, classes) = s_r·(exp(x_r − lse_r) − onehot(t_r)) with s_r = scale·w_r; f32.
  void (*cross_entropy_rows_backward)(const kernels::TargetRows& r, float scale, const float* x, const float* lse,
                                      float* gx) = nullptr;
  /// loss (n) = the binary cross-entropy of each element of x (logits or probabilities: primitives.h, BinaryLoss)
  /// against y (n), pos_weight p (n, logits only; null = 1), computed in double and rounded once; f32.
  void (*binary_cross_entropy)(kernels::BinaryLoss kind, int64_t n, const float* x, const float* y,
                               const float* pos_weight, float* loss) = nullptr;
  /// Its backward for the upstream g (n): gx (n), and gy (n) when not null (BinaryLoss has the derivatives); f32.
  void (*binary_cross_entropy_backward)(kernels::BinaryLoss kind, int64_t n, const float* g, const float* x,
                                        const float* y, const float* pos_weight, float* gx, float* gy) = nullptr;
  /// nll_loss's and cross_entropy's rows (primitives.h, ClassLoss) of x (rows, classes): per_row (rows, double) = 0 on
  /// ignored rows, else −a·w[t]·(x_t − lse) + b·(W·lse − Σ_c w_c·x_c), lse the row's logsumexp (into lse (rows)) for
  /// logits and 0 for log-probabilities (lse may then be null).
  void (*class_loss_rows)(const kernels::ClassLoss& p, const float* x, float* lse, double* per_row) = nullptr;
  /// Its backward, gx (rows, classes) overwritten, g_i = g[i·g_stride] (g_stride 0: one upstream value for every row):
  /// logits: g_i·(a·w[t]·(p_c − [c = t]) + b·(W·p_c − w_c)) with p = exp(x − lse); log-probabilities: −g_i·a·w[t] at
  /// c = t, 0 elsewhere; 0 on ignored rows; f32.
  void (*class_loss_rows_backward)(const kernels::ClassLoss& p, const float* g, int64_t g_stride, const float* x,
                                   const float* lse, float* gx) = nullptr;

  // ---- layer normalisation ----
  /// Per row of x (rows, width) (primitives.h, RowNorm): μ and the biased σ² in double, r = 1/sqrt(σ² + ε) into
  /// mean and inv_std (rows, double), y (rows, width) = (x − μ)·r·γ + β (γ, β optional); f32.
  void (*layer_norm_rows)(const kernels::RowNorm& p, const float* x, float* y, double* mean, double* inv_std) = nullptr;
  /// Its backward from dy (rows, width) and the forward's mean and inv_std: when dx is not null, dx = r·(g − mean(g) −
  /// x̂·mean(g·x̂)) with g = dy·γ and means over the row; when sum_dy_x_hat and sum_dy (width, double) are not null,
  /// Σ_rows dy·x̂ and Σ_rows dy (the gradients of γ and β); f32.
  void (*layer_norm_rows_backward)(const kernels::RowNorm& p, const float* x, const float* dy, const double* mean,
                                   const double* inv_std, float* dx, double* sum_dy_x_hat, double* sum_dy) = nullptr;
};

/// The fast kernels (nn/backends/cpu/).
const Backend& cpu_backend();
/// The naive reference loops (nn/backends/ref/).
const Backend& ref_backend();
/// Every backend built in, cpu first: what the op-test harness iterates over.
const Backend* const* all_backends(int* count);

/// The backend that computes on `device` for the calling thread: the one a BackendScope set, else the device's own
/// (cpu_backend() for Device::cpu).
const Backend& backend_for(Device device);
/// backend_for(t.device()).
const Backend& backend_for(const Tensor& t);

/// While alive, ops on the calling thread run on `backend` for its device (the op-test harness runs every op under
/// each backend this way). Scopes nest; each restores the previous choice.
class BackendScope {
 public:
  explicit BackendScope(const Backend& backend);
  ~BackendScope();
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;

 private:
  const Backend* previous_;
};

}  // namespace nn
