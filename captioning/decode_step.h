/// @file
/// The decoder's inference step for a few rows at once — the beams of a search, or one greedy caption. Each weight
/// matrix (the LSTM's kernels, the merge and output Dense layers) is streamed from memory once per step for all
/// rows: a GEMM would first pack it into panels (reading the 7.8 MB output matrix at V = 7,579 once more and
/// writing it once), and one product per beam would read it once per beam. Decoding is bound by those reads.
///
/// Row r's numbers do not depend on which or how many rows run beside it (the same products, in the same order),
/// so a batched beam search gives exactly the numbers of a search that runs one beam at a time.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include <nn/layers/dense.h>
#include <nn/layers/lstm.h>

namespace captioning {

/// The most rows one call takes (the widest beam, kMaxBeam in generate.h).
inline constexpr int64_t kMaxStepRows = 16;

/// Whether the row path applies to these tensors: grad mode off, every one f32 (bf16 models take the ops' path),
/// and `rows` in [1, kMaxStepRows].
bool step_rows_apply(int64_t rows, std::initializer_list<nn::Tensor> tensors);

/// x (B, in) → activation(x · kernel + bias), (B, out), as dense.forward(x) computes it (to rounding).
nn::Tensor dense_rows(const nn::Dense& dense, const nn::Tensor& x);

/// A step's output layer as a search reads it: the logits, each row's log-normaliser, and where only some columns are
/// the f32 layer's, which.
struct StepScores {
  nn::Tensor logits;  ///< (B, V)
  /// (B): log Σⱼ e^logits[b][j] over all V columns; a word's log-probability is logits[b][w] − log_sum_exp[b].
  std::vector<float> log_sum_exp;
  /// The columns computed in f32, ascending, among which each row's best lie (OutputScreen::logits); empty where
  /// every column is.
  std::vector<int32_t> exact_ids;
};
/// logits (B, V), f32 → each row's log Σ e^x as nn's softmax rows compute it (float e^(x − max) summed in double).
std::vector<float> log_sum_exp_rows(const nn::Tensor& logits);
/// Logits (B, V) of any path that computes every column (the layers', dense_rows) as StepScores: their log-sum-exps by
/// log_sum_exp_rows, in f32 (a bf16 model's logits are bf16), and no exact ids (every column is).
StepScores step_scores(const nn::Tensor& logits);

/// One step of a Keras LSTM without mask: x (B, E) and the state h, c (B, U) — undefined for zeros — → the new
/// state, written into h and c (fresh tensors). The same as lstm_advance(lstm, lstm_input_gates(lstm, x), h, c).
void lstm_rows(const nn::LSTM& lstm, const nn::Tensor& x, nn::Tensor& h, nn::Tensor& c);
/// The step's first half, which depends on the input alone: x (B, E) → b + x·W, (B, 4U), a fresh tensor.
nn::Tensor lstm_input_gates(const nn::LSTM& lstm, const nn::Tensor& x);
/// The second half: gates (B, 4U) from lstm_input_gates — or rows of a table of them (DecodeCache) —, overwritten
/// with gates + h·R, then the cell → the new h and c. The numbers are lstm_rows's to the bit.
void lstm_advance(const nn::LSTM& lstm, nn::Tensor& gates, nn::Tensor& h, nn::Tensor& c);

/// c (M, N) += a (M, K) · b (K, N), M ≤ kMaxStepRows, rows packed: b is read once for all rows, in column blocks
/// spread over the threads. Each c[r][j] is accumulated over k in order, the same whatever M is.
void rows_gemm_add(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

}  // namespace captioning
