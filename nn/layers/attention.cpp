#include "nn/layers/attention.h"

#include <cstdio>

#include "nn/core/error.h"

namespace nn {

namespace {

const char* kWhere = "MultiHeadAttention";

// "0.1" rather than std::to_string's "0.100000".
std::string float_text(float v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", static_cast<double>(v));
  return buffer;
}

// The options with every 0 replaced by its default; throws for a size that cannot work.
MultiHeadAttentionOptions resolved(MultiHeadAttentionOptions o) {
  if (o.embed_dim <= 0 || o.num_heads <= 0) {
    fail_expected(kWhere, "embed_dim > 0 and num_heads > 0",
                  "embed_dim=" + std::to_string(o.embed_dim) + ", num_heads=" + std::to_string(o.num_heads));
  }
  if (o.key_dim == 0) {
    if (o.embed_dim % o.num_heads != 0) {
      fail_expected(kWhere, "embed_dim a multiple of num_heads (or an explicit key_dim)",
                    "embed_dim=" + std::to_string(o.embed_dim) + ", num_heads=" + std::to_string(o.num_heads));
    }
    o.key_dim = o.embed_dim / o.num_heads;
  }
  if (o.value_dim == 0) o.value_dim = o.key_dim;
  if (o.key_features == 0) o.key_features = o.embed_dim;
  if (o.value_features == 0) o.value_features = o.key_features;
  if (o.output_dim == 0) o.output_dim = o.embed_dim;
  if (!(o.dropout >= 0.0f && o.dropout < 1.0f)) fail_expected(kWhere, "a dropout in [0, 1)", float_text(o.dropout));
  if (o.key_dim < 0 || o.value_dim < 0 || o.key_features < 0 || o.value_features < 0 || o.output_dim < 0) {
    fail_expected(kWhere, "sizes ≥ 0 (0: the default)",
                  "key_dim=" + std::to_string(o.key_dim) + ", value_dim=" + std::to_string(o.value_dim) +
                      ", key_features=" + std::to_string(o.key_features) + ", value_features=" +
                      std::to_string(o.value_features) + ", output_dim=" + std::to_string(o.output_dim));
  }
  return o;
}

// x (N,T,features) must be rank 3 with `features` last and, when n ≥ 0, N = n; when t ≥ 0, T = t.
void check_input(const Tensor& x, const char* what, int64_t features, int64_t n, int64_t t, const Tensor& query) {
  bool ok =
      x.defined() && x.rank() == 3 && x.dim(2) == features && (n < 0 || x.dim(0) == n) && (t < 0 || x.dim(1) == t);
  if (!ok) {
    std::string expected = std::string("a ") + what + " of shape (" + (n < 0 ? "N" : std::to_string(n)) + "," +
                           (t < 0 ? "T" : std::to_string(t)) + "," + std::to_string(features) + ")";
    if (query.defined() && n >= 0) expected += " (query " + to_string(query.shape()) + ")";
    fail_expected(kWhere, expected, shape_text(x));
  }
}

// (N,T,H·D) → (N,H,T,D)
Tensor split_heads(const Tensor& x, int64_t heads) {
  return permute(x.reshape({x.dim(0), x.dim(1), heads, x.dim(2) / heads}), {0, 2, 1, 3});
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen)
    : options_(resolved(options)), gen_(options.seed) {
  const MultiHeadAttentionOptions& o = options_;
  const int64_t h = o.num_heads;
  query_ = register_module(
      "query", std::make_shared<Dense>(DenseOptions{.in = o.embed_dim, .out = h * o.key_dim, .bias = o.bias}, gen));
  key_ = register_module(
      "key", std::make_shared<Dense>(DenseOptions{.in = o.key_features, .out = h * o.key_dim, .bias = o.bias}, gen));
  value_ = register_module(
      "value",
      std::make_shared<Dense>(DenseOptions{.in = o.value_features, .out = h * o.value_dim, .bias = o.bias}, gen));
  output_ = register_module(
      "attention_output",
      std::make_shared<Dense>(DenseOptions{.in = h * o.value_dim, .out = o.output_dim, .bias = o.bias}, gen));
}

Tensor MultiHeadAttention::forward(const Tensor& x) {
  return forward(x, Tensor()).output;
}

AttentionResult MultiHeadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const AttentionMask& mask) {
  const MultiHeadAttentionOptions& o = options_;
  const Tensor& k_in = key.defined() ? key : query;
  const Tensor& v_in = value.defined() ? value : k_in;
  check_input(query, "query", o.embed_dim, -1, -1, Tensor());
  const int64_t n = query.dim(0), tq = query.dim(1);
  check_input(k_in, "key", o.key_features, n, -1, query);
  check_input(v_in, "value", o.value_features, n, k_in.dim(1), query);

  AttentionResult a = scaled_dot_product_attention(
      split_heads((*query_)(query), o.num_heads), split_heads((*key_)(k_in), o.num_heads),
      split_heads((*value_)(v_in), o.num_heads), mask, is_training() ? o.dropout : 0.0f, gen_);
  Tensor context = permute(a.output, {0, 2, 1, 3}).reshape({n, tq, o.num_heads * o.value_dim});  // heads joined
  return {(*output_)(context), a.weights};  // through operator(), so summary() shows the shapes
}

std::string MultiHeadAttention::to_string() const {
  const MultiHeadAttentionOptions& o = options_;
  std::string s = "MultiHeadAttention(embed_dim=" + std::to_string(o.embed_dim) +
                  ", num_heads=" + std::to_string(o.num_heads) + ", key_dim=" + std::to_string(o.key_dim);
  if (o.value_dim != o.key_dim) s += ", value_dim=" + std::to_string(o.value_dim);
  if (o.key_features != o.embed_dim) s += ", key_features=" + std::to_string(o.key_features);
  if (o.value_features != o.key_features) s += ", value_features=" + std::to_string(o.value_features);
  if (o.output_dim != o.embed_dim) s += ", output_dim=" + std::to_string(o.output_dim);
  if (!o.bias) s += ", bias=false";
  if (o.dropout > 0.0f) s += ", dropout=" + float_text(o.dropout);
  return s + ")";
}

}  // namespace nn
