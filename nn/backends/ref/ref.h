// The reference backend's naive loops beyond the frozen *_ref kernels kept beside their fast twins in
// nn/backends/cpu/: each is one entry of the table (nn/backends/backend.h has every entry's contract), written for
// clarity, sums in double. ref_backend.cpp assembles the table.
#pragma once

#include <cmath>
#include <cstdint>

#include "nn/backends/primitives.h"
#include "nn/core/dtype.h"

namespace nn::ref {

// The logistic function 1 / (1 + e^−v), in a form whose exponential never overflows (the sigmoid of map, the
// binary cross-entropy's gradient).
inline double logistic(double v) {
  return v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v));
}

// ---- memory and elementwise (elementwise.cpp) ----
void fill(DType dtype, int64_t n, float value, void* y);
void copy(DType dtype, int64_t n, const void* x, void* y);
void axpy(int64_t n, float alpha, const float* x, float* y);
void map(const kernels::UnaryCall& f, DType dtype, int64_t n, const void* x, void* y);
void map_backward(const kernels::UnaryCall& f, int64_t n, const float* x, const float* y, const float* g, float* gx);
void zip(kernels::Binary op, DType dtype, const kernels::Broadcast& shape, const void* a, const void* b, void* y);
void select(int64_t n, const float* mask, const float* a, const float* b, float* y);
void reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y);
void arg_reduce(kernels::Reduce op, int64_t outer, int64_t extent, int64_t inner, const float* x, int64_t* index);
void softmax_rows(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y);
void softmax_rows_backward(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* y, const float* g,
                           float* gx);

// ---- statistics, indexing, optimiser (rows.cpp) ----
void channel_moments(int64_t rows, int64_t channels, const float* x, double* mean, double* variance);
void gather_rows(int64_t count, const int32_t* ids, int64_t width, const float* table, float* out);
void scatter_add_rows(int64_t count, const int32_t* ids, int64_t width, const float* g, float* table_grad);
void adam_update(const kernels::AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g);
void sgd_update(const kernels::SgdStep& s, int64_t n, float* theta, float* buffer, const float* g);
void rmsprop_update(const kernels::RmspropStep& s, int64_t n, float* theta, float* square_avg, float* grad_avg,
                    float* buffer, const float* g);
void adagrad_update(const kernels::AdagradStep& s, int64_t n, float* theta, float* sum, const float* g);
void sum_squares(int64_t n, const float* x, double* total);
void all_finite(int64_t n, const float* x, bool* finite);
void cross_entropy_rows(const kernels::TargetRows& r, const float* x, float* lse, double* sums);
void cross_entropy_rows_backward(const kernels::TargetRows& r, float scale, const float* x, const float* lse,
                                 float* gx);
void binary_cross_entropy(kernels::BinaryLoss kind, int64_t n, const float* x, const float* y, const float* pos_weight,
                          float* loss);
void binary_cross_entropy_backward(kernels::BinaryLoss kind, int64_t n, const float* g, const float* x, const float* y,
                                   const float* pos_weight, float* gx, float* gy);
void class_loss_rows(const kernels::ClassLoss& p, const float* x, float* lse, double* per_row);
void class_loss_rows_backward(const kernels::ClassLoss& p, const float* g, int64_t g_stride, const float* x,
                              const float* lse, float* gx);
void layer_norm_rows(const kernels::RowNorm& p, const float* x, float* y, double* mean, double* inv_std);
void layer_norm_rows_backward(const kernels::RowNorm& p, const float* x, const float* dy, const double* mean,
                              const double* inv_std, float* dx, double* sum_dy_x_hat, double* sum_dy);

// ---- recurrent and pooling loops the cpu backend has no frozen twin of (ref_backend.cpp, rows.cpp) ----
void lstm_step_forward(const kernels::LstmStep& s, const float* mask, float* gates, const float* c_prev,
                       const float* h_prev, float* c, float* h);
void lstm_step_backward(const kernels::LstmStep& s, const float* mask, const float* gates, const float* c,
                        const float* c_prev, float* dh, float* dc, float* d_gates);
void avg_pool_backward(const kernels::Window2D& g, const float* dy, float* dx);
void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db);

// ---- bfloat16 (bf16.cpp: each element converted to float, computed by the f32 reference, rounded once) ----
void cast(int64_t n, DType from, const void* x, DType to, void* y);
void gemm_bf16(const kernels::GemmCall& call);
int64_t conv2d_workspace_bf16(const kernels::Window2D& g);
void conv2d_forward_bf16(const kernels::Window2D& g, const void* x, const void* w, const float* bias, void* y,
                         void* workspace);
void depthwise_forward_bf16(const kernels::Window2D& g, const void* x, const void* w, const float* bias, void* y);
void pool_forward_bf16(kernels::Pool kind, const kernels::Window2D& g, const void* x, void* y);
void channel_affine_bf16(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, const void* x, void* y);

// ---- batch norm's backward (batch_norm.cpp) ----
void batch_norm_backward(const kernels::BatchNormBackward& p, const float* x, const float* dy, float* dx, float* dgamma,
                         float* dbeta);

}  // namespace nn::ref
