// The reference backend's bfloat16 primitives (ref.h): each element converted to float, the f32 reference's
// computation (sums in double), the output rounded to bf16 once.
#include <string>
#include <vector>

#include "nn/backends/ref/loops.h"
#include "nn/backends/ref/ref.h"
#include "nn/core/error.h"

namespace nn::ref {

using kernels::Window2D;

namespace {

// Element i of a float or bf16 array.
float read(DType type, const void* p, int64_t i) {
  return type == DType::bf16 ? to_float(static_cast<const bfloat16*>(p)[i]) : static_cast<const float*>(p)[i];
}

void write(DType type, void* p, int64_t i, float value) {
  if (type == DType::bf16) {
    static_cast<bfloat16*>(p)[i] = to_bfloat16(value);
  } else {
    static_cast<float*>(p)[i] = value;
  }
}

// n bf16 values widened to f32 (exact).
std::vector<float> widened(const void* p, int64_t n) {
  const auto* values = static_cast<const bfloat16*>(p);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = to_float(values[i]);
  return out;
}

// `values` rounded to bf16 into y.
void round_into(const std::vector<float>& values, void* y) {
  auto* out = static_cast<bfloat16*>(y);
  for (size_t i = 0; i < values.size(); ++i) out[i] = to_bfloat16(values[i]);
}

}  // namespace

void cast(int64_t n, DType from, const void* x, DType to, void* y) {
  for (int64_t i = 0; i < n; ++i) {
    float value;
    if (from == DType::f32) {
      value = static_cast<const float*>(x)[i];
    } else if (from == DType::bf16) {
      value = to_float(static_cast<const bfloat16*>(x)[i]);
    } else {
      throw Error(std::string("ref backend: cast from ") + dtype_name(from) + " is not supported");
    }
    if (to == DType::f32) {
      static_cast<float*>(y)[i] = value;
    } else if (to == DType::bf16) {
      static_cast<bfloat16*>(y)[i] = to_bfloat16(value);
    } else {
      throw Error(std::string("ref backend: cast to ") + dtype_name(to) + " is not supported");
    }
  }
}

// gemm_ref's loop (loops.cpp) on A, B of ab_type and C of c_type, each element widened as read.
void gemm_bf16(const kernels::GemmCall& call) {
  for (DType t : {call.ab_type, call.c_type}) {
    if (t != DType::f32 && t != DType::bf16) {
      throw Error(std::string("ref backend: gemm has no ") + dtype_name(t) + " kernel");
    }
  }
  const kernels::GemmShape& s = call.shape;
  const int64_t lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k);
  const int64_t ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  const int64_t ldc = s.ldc ? s.ldc : s.n;
  for (int64_t batch = 0; batch < call.batch; ++batch) {
    const int64_t a0 = batch * call.stride_a, b0 = batch * call.stride_b, c0 = batch * call.stride_c;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < s.k; ++p) {
          const float av = read(call.ab_type, call.a, a0 + (s.transpose_a ? p * lda + i : i * lda + p));
          const float bv = read(call.ab_type, call.b, b0 + (s.transpose_b ? j * ldb + p : p * ldb + j));
          acc += static_cast<double>(av) * bv;
        }
        const int64_t at = c0 + i * ldc + j;
        const double old = call.beta == 0.0f ? 0.0 : call.beta * static_cast<double>(read(call.c_type, call.c, at));
        write(call.c_type, call.c, at, static_cast<float>(call.alpha * acc + old));
      }
  }
}

int64_t conv2d_workspace_bf16(const Window2D&) {
  return 0;
}

// The convolution, pooling and affine primitives in bf16: the inputs widened to f32 (exact), the frozen f32
// reference loop (loops.h), the output rounded to bf16 once.
void conv2d_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y, void*) {
  std::vector<float> out(static_cast<size_t>(g.output_size()));
  kernels::conv2d_forward_ref(g, widened(x, g.input_size()).data(), widened(w, g.kh * g.kw * g.c * g.oc).data(), bias,
                              out.data());
  round_into(out, y);
}

void depthwise_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y) {
  std::vector<float> out(static_cast<size_t>(g.output_size()));
  kernels::depthwise_forward_ref(g, widened(x, g.input_size()).data(), widened(w, g.kh * g.kw * g.c).data(), bias,
                                 out.data());
  round_into(out, y);
}

void pool_forward_bf16(kernels::Pool kind, const Window2D& g, const void* x, void* y) {
  std::vector<float> out(static_cast<size_t>(g.output_size()));
  const std::vector<float> in = widened(x, g.input_size());
  if (kind == kernels::Pool::max) {
    kernels::max_pool_forward_ref(g, in.data(), out.data());
  } else {
    kernels::avg_pool_forward_ref(g, in.data(), out.data());
  }
  round_into(out, y);
}

void channel_affine_bf16(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, const void* x, void* y) {
  std::vector<float> out(static_cast<size_t>(rows * channels));
  kernels::channel_affine_ref(rows, channels, p, widened(x, rows * channels).data(), out.data());
  round_into(out, y);
}

}  // namespace nn::ref
