// Decoding from a DecodeCache (decode_cache.h): the int8 products against an integer loop, the output screen's exact
// words and logits against the f32 layer (also where int8 estimates cannot tell the words apart), the gate table's
// state against the layers' to the bit, searches with and without the cache, and a stale cache refused.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <captioning/decode_cache.h>
#include <captioning/decode_step.h>
#include <captioning/describer.h>
#include <captioning/generate.h>
#include <captioning/output_screen.h>
#include <captioning/output_screen_kernels.h>
#include <nn/backends/cpu/isa.h>
#include <nn/core/threads.h>
#include <nn/ops/ops.h>

#include "support/check.h"
#include "support/files.h"

using captioning::CaptionModel;
using captioning::DecodeCache;
using captioning::OutputScreen;
using captioning::Tokenizer;
using nn::Tensor;

namespace {

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

// The ids of row r's `keep` largest values among [first, V), largest first, ties to the lower id.
std::vector<int32_t> best_of(const Tensor& logits, int64_t r, int keep, int32_t first) {
  const int64_t v = logits.dim(1);
  const float* row = logits.data() + r * v;
  std::vector<int32_t> ids;
  for (int32_t j = first; j < v; ++j) ids.push_back(j);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  ids.resize(static_cast<size_t>(keep));
  return ids;
}

// log Σ e^x over row r of logits, in double from the values as given.
double log_sum_exp_of(const Tensor& logits, int64_t r) {
  const int64_t v = logits.dim(1);
  const float* row = logits.data() + r * v;
  const double top = *std::max_element(row, row + v);
  double total = 0;
  for (int64_t j = 0; j < v; ++j) total += std::exp(row[j] - top);
  return top + std::log(total);
}

// Screened logits against dense_rows: each row's `keep` best ids and their values to the bit, every other value of
// [first, V) below the keep-th best; the exact ids ascending, holding each row's best, their values dense_rows's; each
// row's log-sum-exp that of the logits returned, to float rounding.
void check_screened(const nn::Dense& layer, const OutputScreen& screen, const Tensor& x, int keep, int32_t first,
                    const std::string& what) {
  const captioning::StepScores scores = screen.logits(x, keep, first);
  const Tensor exact = captioning::dense_rows(layer, x), screened = scores.logits;
  const std::vector<int32_t>& ids = scores.exact_ids;
  CHECK_MESSAGE(std::is_sorted(ids.begin(), ids.end()), what);
  CHECK_MESSAGE(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), what);
  REQUIRE(scores.log_sum_exp.size() == static_cast<size_t>(x.dim(0)));
  for (int64_t r = 0; r < x.dim(0); ++r) {
    const std::vector<int32_t> want = best_of(exact, r, keep, first), got = best_of(screened, r, keep, first);
    CHECK_MESSAGE(got == want, (what + ", row " + std::to_string(r)));
    const int64_t v = exact.dim(1);
    for (int32_t id : want) {
      CHECK_MESSAGE(same_bits(screened.data()[r * v + id], exact.data()[r * v + id]),
                    (what + ", id " + std::to_string(id)));
      CHECK_MESSAGE(std::binary_search(ids.begin(), ids.end(), id), (what + ", exact id " + std::to_string(id)));
    }
    for (int32_t id : ids) {
      CHECK_MESSAGE(same_bits(screened.data()[r * v + id], exact.data()[r * v + id]),
                    (what + ", exact id " + std::to_string(id)));
    }
    const float last = exact.data()[r * v + want.back()];
    for (int32_t j = first; j < v; ++j) {
      if (std::find(want.begin(), want.end(), j) == want.end()) {
        CHECK_MESSAGE(screened.data()[r * v + j] < last, (what + ", id " + std::to_string(j)));
      }
    }
    const double lse = log_sum_exp_of(screened, r);
    if (std::isfinite(lse)) {
      CHECK_MESSAGE(std::fabs(scores.log_sum_exp[r] - lse) <= 1e-6 * (1 + std::fabs(lse)),
                    (what + ", row " + std::to_string(r) + ": log-sum-exp " + std::to_string(scores.log_sum_exp[r]) +
                     " against " + std::to_string(lse)));
    }
  }
}

// A vocabulary of V ids: pad, start, end, unknown and the words w4 … w(V−1).
Tokenizer numbered_words(int vocab) {
  std::string text = "libnn-tokenizer 1 min_count=1\n";
  for (int w = 4; w < vocab; ++w) text.append("w").append(std::to_string(w)).append("\n");
  return Tokenizer::deserialize(text, "test");
}

// Biases start at zero; the screen's bias terms need others.
void random_bias(nn::Dense& layer, nn::Generator& gen, float spread) {
  for (int64_t j = 0; j < layer.options().out; ++j)
    layer.bias().data()[j] = static_cast<float>(gen.uniform(-spread, spread));
}

}  // namespace

namespace {

// screen_products(m, …) against a loop in int64, for each m in `rows`.
void check_screen_products(int64_t tiles, int64_t quads, const std::vector<int8_t>& q,
                           const std::function<uint8_t()>& u_byte, const std::vector<int64_t>& rows,
                           const std::string& what) {
  const int64_t width = tiles * captioning::kScreenTile, depth = 4 * quads;
  for (int64_t m : rows) {
    std::vector<uint8_t> u(static_cast<size_t>(m * depth));
    for (auto& b : u) b = u_byte();
    std::vector<int32_t> acc(static_cast<size_t>(m * width), -1);
    captioning::screen_products(m, tiles, quads, u.data(), q.data(), acc.data());
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < width; ++j) {
        int64_t sum = 0;  // element (k, j) of q lives at [tile][k / 4][column in tile][k % 4]
        for (int64_t k = 0; k < depth; ++k) {
          const int64_t t = j / captioning::kScreenTile, c = j % captioning::kScreenTile;
          sum += int64_t{u[r * depth + k]} * q[((t * quads + k / 4) * captioning::kScreenTile + c) * 4 + k % 4];
        }
        REQUIRE_MESSAGE(acc[r * width + j] == sum, (what + ": m=" + std::to_string(m) + " j=" + std::to_string(j)));
      }
  }
}

}  // namespace

TEST_CASE("screen_products gives the exact integer sums for 1 to 32 rows and several tiles") {
  nn::Generator gen(5);
  auto kind = [](int64_t rows) {
    return std::string(captioning::screen_products_name(captioning::screen_products_kind(rows)));
  };
  MESSAGE("the products of 2 rows run on " << kind(2) << ", of 8 on " << kind(8));
  if (nn::kernels::cpu_supports_amx_int8()) {  // AMX for 7 to 16 rows, vpdpbusd around them
    CHECK(captioning::screen_products_kind(6) == captioning::ScreenProducts::vnni);
    CHECK(captioning::screen_products_kind(7) == captioning::ScreenProducts::amx);
    CHECK(captioning::screen_products_kind(16) == captioning::ScreenProducts::amx);
    CHECK(captioning::screen_products_kind(17) == captioning::ScreenProducts::vnni);
  } else if (nn::kernels::cpu_supports_vnni()) {  // without AMX (NN_AMX=0, or a processor without it): vpdpbusd
    CHECK(captioning::screen_products_kind(8) == captioning::ScreenProducts::vnni);
  }
  // Rows: AVX2's pairs (2, 6) and a row alone after them (1, 3, 5); vpdpbusd's groups of up to six (1 to 6, and 17
  // and 32: whole groups and one of 5 or 2 after them). AMX takes 7 to 16 rows, 16 quads a step (quads 19: one step
  // and three quads after it, 32: two steps, fewer than 16: none).
  for (int64_t quads : {1, 8, 7, 19, 32}) {
    const int64_t tiles = 3;
    std::vector<int8_t> q(static_cast<size_t>(tiles * captioning::kScreenTile * 4 * quads));
    for (auto& b : q) b = static_cast<int8_t>(static_cast<int>(gen.below(255)) - 127);
    check_screen_products(
        tiles, quads, q, [&] { return static_cast<uint8_t>(gen.below(captioning::kScreenByteMax + 1)); },
        {1, 2, 3, 4, 5, 6, 7, 9, 16, 17, 32}, "random, " + std::to_string(quads) + " quads");
  }
  // The extremes: every byte of u kScreenByteMax, each column's weights all -127 or all 127, so that AVX2's u8 × s8
  // pairs sum to ±32,258 in int16, next to its limit (bytes of 130 would saturate it: this case then fails).
  const int64_t tiles = 2, quads = 19;
  std::vector<int8_t> q(static_cast<size_t>(tiles * captioning::kScreenTile * 4 * quads));
  for (size_t i = 0; i < q.size(); ++i) q[i] = (i / 4) % captioning::kScreenTile % 3 == 0 ? int8_t{-127} : int8_t{127};
  check_screen_products(
      tiles, quads, q, [] { return uint8_t{captioning::kScreenByteMax}; }, {1, 2, 3, 8}, "extremes");
}

TEST_CASE("the output screen gives each row's best words and their f32 logits to the bit") {
  nn::Generator gen(21);
  // K not a multiple of 4, V not of 64: the padded quads and columns hold zeros.
  nn::Dense layer(nn::DenseOptions{.in = 37, .out = 301}, gen);
  random_bias(layer, gen, 2);
  layer.bias().data()[0] = layer.bias().data()[1] = 50;  // ids below `first` hold the largest logits: not chosen
  const OutputScreen screen(layer);
  for (int64_t rows : {1, 3, 5}) {
    for (int keep : {1, 2, 4}) {
      Tensor x = Tensor::uniform({rows, 37}, -2, 2, gen);
      check_screened(layer, screen, x, keep, 2, "rows " + std::to_string(rows) + ", keep " + std::to_string(keep));
    }
  }
  // Non-negative rows, as the merge layer's ReLU gives them, and rows of zeros (a zero scale).
  check_screened(layer, screen, Tensor::uniform({2, 37}, 0, 1, gen), 3, 2, "non-negative");
  check_screened(layer, screen, Tensor::zeros({1, 37}), 1, 2, "zeros");
  // Rows at the edges of the bytes' ranges: all negative (zero point 127), constant, subnormal (a subnormal scale),
  // smaller still (a scale that rounds to 0: every value left to the bound), and one value that dwarfs the others
  // (the rest round to the zero point).
  Tensor edges = Tensor::empty({5, 37});
  for (int64_t p = 0; p < 37; ++p) {
    edges.data()[p] = -0.5f - 0.01f * static_cast<float>(p);
    edges.data()[37 + p] = 0.75f;
    edges.data()[74 + p] = 1e-40f * static_cast<float>(p % 5);
    edges.data()[111 + p] = 0x1p-149f * static_cast<float>(p % 3);
    edges.data()[148 + p] = p == 3 ? 1e6f : 1e-3f * static_cast<float>(p);
  }
  check_screened(layer, screen, edges, 2, 2, "edge rows");
  // Rows of a large norm: bounds of tens to thousands, where exact logits can lie far above the largest estimate (e^x
  // would saturate) or far below it (the sums would cancel) — summed again from the row, the log-sum-exp still right.
  for (float scale : {1e2f, 1e3f, 1e4f, 1e5f, 1e6f}) {
    Tensor large = Tensor::uniform({3, 37}, -1, 1, gen);
    for (int64_t i = 0; i < large.numel(); ++i) large.data()[i] *= scale;
    check_screened(layer, screen, large, 2, 2, "scale " + std::to_string(scale));
  }
  // K = 76: 19 quads, on AMX (7 to 16 rows, where the processor has it) one step of 16 and three quads after it.
  nn::Dense wider(nn::DenseOptions{.in = 76, .out = 301}, gen);
  random_bias(wider, gen, 2);
  const OutputScreen wider_screen(wider);
  for (int64_t rows : {4, 7, 16})
    check_screened(wider, wider_screen, Tensor::uniform({rows, 76}, -2, 2, gen), 3, 2,
                   "K = 76, rows " + std::to_string(rows));
  CHECK(screen.rows_screened() > 0);
  CHECK(screen.exact_columns() < screen.rows_screened() * 301 / 4);  // it screened: most columns stayed int8
  // More words asked for than there are from `first` on: all of them exact.
  Tensor x = Tensor::uniform({2, 37}, -1, 1, gen);
  const Tensor exact = captioning::dense_rows(layer, x), screened = screen.logits(x, 9, 295).logits;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t j = 295; j < 301; ++j) CHECK(same_bits(screened.data()[r * 301 + j], exact.data()[r * 301 + j]));
}

TEST_CASE(
    "the output screen's parallel pass gives the same words on 1, 2 and 8 threads, and with more threads than "
    "tiles") {
  nn::Generator gen(31);
  // K = 256, V = 4,100: 1 MiB of int8, the size from which the pass splits its 65 tiles over the threads.
  nn::Dense layer(nn::DenseOptions{.in = 256, .out = 4100}, gen);
  random_bias(layer, gen, 1);
  const OutputScreen screen(layer);
  // K = 16,384, V = 100: two tiles of 1 MiB each, so 8 threads leave six with nothing to screen.
  nn::Dense deep(nn::DenseOptions{.in = 16384, .out = 100}, gen);
  random_bias(deep, gen, 1);
  const OutputScreen deep_screen(deep);
  for (int threads : {1, 2, 8}) {
    nn::ThreadCountScope scope(threads);
    for (int keep : {1, 3}) {
      const std::string what = std::to_string(threads) + " threads, keep " + std::to_string(keep);
      for (int64_t rows : {3, 6, 7, 16})  // 3 and 6 rows on vpdpbusd, 7 and 16 on AMX where the processor has it
        check_screened(layer, screen, Tensor::uniform({rows, 256}, 0, 1, gen), keep, 2,
                       what + ", rows " + std::to_string(rows));
      check_screened(deep, deep_screen, Tensor::uniform({2, 16384}, -1, 1, gen), keep, 2, "deep, " + what);
    }
  }
  // The same numbers on any thread count: logits, log-sum-exps (summed in blocks of fixed columns) and ids.
  const Tensor x = Tensor::uniform({3, 256}, 0, 1, gen);
  auto scores_on = [&](int threads) {
    nn::ThreadCountScope scope(threads);
    return screen.logits(x, 3, 2);
  };
  const captioning::StepScores one = scores_on(1);
  for (int threads : {2, 3, 8}) {
    const captioning::StepScores many = scores_on(threads);
    const std::string what = std::to_string(threads) + " threads";
    test::check_same_bits(many.logits.to_vector(), one.logits.to_vector(), what + ": logits");
    test::check_same_bits(many.log_sum_exp, one.log_sum_exp, what + ": log-sum-exp");
    CHECK_MESSAGE(many.exact_ids == one.exact_ids, what);
  }
}

TEST_CASE("where int8 cannot tell the words apart, the screen computes them in f32 and still picks the f32 best") {
  // 200 columns that differ by ~1e-4 around a common column: int8's rounding (~1 % of a weight) is far larger, so the
  // estimates' order is noise, and only the bound keeps every close word a candidate.
  nn::Generator gen(8);
  nn::Dense layer(nn::DenseOptions{.in = 64, .out = 200}, gen);
  Tensor kernel = layer.kernel();
  for (int64_t p = 0; p < 64; ++p) {
    const float base = kernel.data()[p * 200];
    for (int64_t j = 0; j < 200; ++j)
      kernel.data()[p * 200 + j] = base * (1 + 1e-4f * static_cast<float>(gen.uniform(-1, 1)));
  }
  const OutputScreen screen(layer);
  for (int trial = 0; trial < 10; ++trial) {
    // Rows of multiples of 2⁻⁷ up to 127·2⁻⁷, which x's 7-bit bytes hold exactly (a step of 2⁻⁷): only the weights'
    // int8 (~1 %) errs.
    Tensor x = Tensor::empty({2, 64});
    for (int64_t i = 0; i < 128; ++i) x.data()[i] = static_cast<float>(i % 64 == 0 ? 127 : gen.below(128)) * 0x1p-7f;
    check_screened(layer, screen, x, 1 + trial % 3, 0, "trial " + std::to_string(trial));
  }
  CHECK(screen.exact_columns() > screen.rows_screened() * 50);  // the bound kept many columns for f32
}

TEST_CASE("where x's 7-bit bytes round coarsely and the words lie close, the screen still picks the f32 best") {
  // Weights int8 represents exactly (multiples of 2⁻⁷, each column's largest 127·2⁻⁷ at entry 0), so only x's
  // rounding errs. x[0] = 1 sets the step of its bytes to 1/127; the other entries, in [0, 1/63], round to 0, 1 or 2
  // steps, leaving up to 1/254 each; 2,000 columns, a base plus ±40·2⁻⁷ here and there, lie close. (The bound's
  // term for x's rounding, ‖x − x̂‖·‖s·q‖, is what keeps the f32 best a candidate here: without it this test fails.)
  nn::Generator gen(12);
  const int64_t k = 16, v = 2000;
  nn::Dense layer(nn::DenseOptions{.in = k, .out = v}, gen);
  Tensor kernel = layer.kernel();
  std::vector<int> base(k);
  for (int64_t p = 0; p < k; ++p) base[p] = p == 0 ? 127 : static_cast<int>(gen.below(81)) - 40;
  for (int64_t j = 0; j < v; ++j)
    for (int64_t p = 0; p < k; ++p) {
      const int step = p == 0 ? 0 : 40 * (static_cast<int>(gen.below(3)) - 1);
      kernel.data()[p * v + j] = static_cast<float>(base[p] + step) * 0x1p-7f;
    }
  const OutputScreen screen(layer);
  for (int trial = 0; trial < 10; ++trial) {
    Tensor x = Tensor::uniform({1, k}, 0, 1.0f / 63, gen);
    x.data()[0] = 1;
    check_screened(layer, screen, x, 1 + trial % 2, 0, "trial " + std::to_string(trial));
  }
}

TEST_CASE("where the exact logits lie far below the estimates, the log-sum-exp is summed again, not left to rounding") {
  // x = (1000, 1): x's 7-bit bytes step by 1000/127 and take 1 to 0. Column 0 weighs (0, −40): its estimate 0, its
  // f32 logit −40, its bound ~40; columns 1–3 weigh (−0.03…, 0): −30 to −32 either way. Every column is a candidate,
  // and the estimates' sum (≈ 1, column 0's) less theirs leaves only its rounding beside the f32 terms' ~1e-13.
  nn::Generator gen(3);
  nn::Dense layer(nn::DenseOptions{.in = 2, .out = 4}, gen);
  layer.bias().fill(0.0f);
  const float weights[2][4] = {{0.0f, -0.030f, -0.031f, -0.032f}, {-40.0f, 0.0f, 0.0f, 0.0f}};
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t j = 0; j < 4; ++j) layer.kernel().data()[p * 4 + j] = weights[p][j];
  const OutputScreen screen(layer);
  Tensor x = Tensor::empty({1, 2});
  x.data()[0] = 1000;
  x.data()[1] = 1;
  check_screened(layer, screen, x, 1, 0, "far below");
}

TEST_CASE("log_sum_exp_rows names what it takes") {
  CHECK(test::error_of([] {
          captioning::log_sum_exp_rows(Tensor::zeros({2, 3, 4}));
        }) == "log_sum_exp_rows: expected f32 logits (B, V), got [2,3,4] f32");
  CHECK(test::error_of([] {
          captioning::log_sum_exp_rows(Tensor::zeros({2, 3}).to(nn::bf16));
        }) == "log_sum_exp_rows: expected f32 logits (B, V), got [2,3] bf16");
}

TEST_CASE("the output screen computes every column in f32 for rows with an infinite or NaN value") {
  nn::Generator gen(3);
  nn::Dense layer(nn::DenseOptions{.in = 8, .out = 70}, gen);
  const OutputScreen screen(layer);
  Tensor x = Tensor::uniform({2, 8}, 0, 1, gen);
  x.data()[3] = std::numeric_limits<float>::infinity();
  x.data()[8 + 5] = std::numeric_limits<float>::quiet_NaN();
  const captioning::StepScores scores = screen.logits(x, 1, 2);
  const Tensor exact = captioning::dense_rows(layer, x), screened = scores.logits;
  CHECK(std::memcmp(exact.data(), screened.data(), sizeof(float) * 2 * 70) == 0);
  const std::vector<float> want = captioning::log_sum_exp_rows(exact);  // summed again from the row, as nn sums it
  for (int64_t r = 0; r < 2; ++r) {
    const float got = scores.log_sum_exp[r];
    CHECK((std::isnan(want[r]) ? std::isnan(got) : same_bits(got, want[r])));
  }
}

TEST_CASE("a column with an infinite weight is always computed in f32, and wins where the layer says so") {
  nn::Generator gen(4);
  nn::Dense layer(nn::DenseOptions{.in = 8, .out = 70}, gen);
  random_bias(layer, gen, 1);
  layer.kernel().data()[3 * 70 + 40] = std::numeric_limits<float>::infinity();  // column 40, input 3
  const OutputScreen screen(layer);
  Tensor x = Tensor::uniform({2, 8}, 0.1f, 1, gen);  // x[3] > 0: column 40's logit is +∞ in f32
  const captioning::StepScores scores = screen.logits(x, 1, 2);
  // Its log-sum-exp summed again from the row, as nn sums it (which gives NaN for a row holding +∞).
  const std::vector<float> want = captioning::log_sum_exp_rows(captioning::dense_rows(layer, x));
  for (int64_t r = 0; r < 2; ++r) {
    CHECK(scores.logits.data()[r * 70 + 40] == std::numeric_limits<float>::infinity());
    CHECK((std::isnan(want[r]) ? std::isnan(scores.log_sum_exp[r]) : same_bits(scores.log_sum_exp[r], want[r])));
  }
  check_screened(layer, screen, x, 2, 2, "infinite weight");
}

TEST_CASE("an output screen refuses layers and arguments it cannot screen, naming them") {
  nn::Generator gen(1);
  nn::Dense relu(nn::DenseOptions{.in = 4, .out = 9, .activation = nn::Activation::relu}, gen);
  CHECK(test::error_of([&] { OutputScreen s(relu); }) ==
        "OutputScreen: expected a Dense layer with f32 weights and no activation, got f32 weights, activation relu");
  nn::Dense layer(nn::DenseOptions{.in = 4, .out = 9}, gen);
  const OutputScreen screen(layer);
  CHECK(test::error_of([&] {
          screen.logits(Tensor::zeros({1, 5}), 1, 0);
        }) == "OutputScreen: expected x of shape (B,4), f32, 1 ≤ B ≤ 16, got [1,5] f32");
  CHECK(test::error_of([&] {
          screen.logits(Tensor::zeros({1, 4}), 0, 0);
        }) == "OutputScreen: expected exact in [1,16] and first in [0,9), got exact=0, first=0");
  CHECK(test::error_of([&] {
          screen.logits(Tensor::zeros({1, 4}), 1, 9);
        }) == "OutputScreen: expected exact in [1,16] and first in [0,9), got exact=1, first=9");
}

TEST_CASE("steps from a DecodeCache give the layers' LSTM state to the bit and the same best words") {
  CaptionModel model({.vocab = 57, .feature_dim = 6, .units = 24, .seed = 4});
  model.eval();
  const DecodeCache cache(model);
  nn::Generator gen(6);
  nn::NoGradGuard no_grad;
  const Tensor image = model.image(Tensor::uniform({3, 6}, 0, 1, gen));
  Tensor h, c, hc, cc;
  const std::vector<std::vector<int32_t>> words{{1, 1, 1}, {5, 56, 2}, {9, 3, 40}, {7, 7, 12}};
  for (size_t t = 0; t < words.size(); ++t) {
    const captioning::StepScores plain_scores = model.step(image, words[t], h, c),
                                 cached_scores =
                                     model.step(image, words[t], hc, cc, {.cache = &cache, .exact = 2, .first = 2});
    const Tensor plain = plain_scores.logits, cached = cached_scores.logits;
    CHECK(plain_scores.exact_ids.empty());  // the layers' logits: every column exact
    for (int64_t r = 0; r < 3; ++r) {
      const double lse = log_sum_exp_of(plain, r);
      CHECK(std::fabs(plain_scores.log_sum_exp[r] - lse) <= 1e-6 * (1 + std::fabs(lse)));
      // The screen's, over its estimates: within the bound's reach of the layers'.
      CHECK(std::fabs(cached_scores.log_sum_exp[r] - lse) <= 1e-2);
    }
    CHECK(std::memcmp(h.data(), hc.data(), sizeof(float) * h.numel()) == 0);
    CHECK(std::memcmp(c.data(), cc.data(), sizeof(float) * c.numel()) == 0);
    for (int64_t r = 0; r < 3; ++r) CHECK(best_of(cached, r, 2, 2) == best_of(plain, r, 2, 2));
  }
  CHECK(test::error_of([&] {
          cache.word_gates({3, 57});
        }) == "DecodeCache: expected word ids in [0,57), got 57 at row 1");
}

TEST_CASE("a step screens its output layer where the level's int8 products pay: VNNI and AVX2, not plain loops") {
  CaptionModel model({.vocab = 57, .feature_dim = 6, .units = 24, .seed = 4});
  model.eval();
  const DecodeCache cache(model);
  nn::Generator gen(7);
  nn::NoGradGuard no_grad;
  const bool expected = nn::kernels::cpu_supports_vnni() || nn::kernels::active_isa() != nn::kernels::Isa::scalar;
  CHECK(cache.screens_output() == expected);
  for (int64_t rows : {1, 3}) {
    const Tensor image = model.image(Tensor::uniform({rows, 6}, 0, 1, gen));
    Tensor h, c;
    const int64_t screened = cache.screen().rows_screened();
    model.step(image, std::vector<int32_t>(static_cast<size_t>(rows), 1), h, c, {.cache = &cache, .exact = 2});
    CHECK_MESSAGE(cache.screen().rows_screened() - screened == (expected ? rows : 0),
                  ("rows " + std::to_string(rows) + " at " + nn::kernels::isa_name(nn::kernels::active_isa())));
  }
}

TEST_CASE("greedy and beam search with a DecodeCache find the captions of the layers, their log-probabilities close") {
  const Tokenizer tokenizer = numbered_words(300);
  double worst = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 6, .units = 32, .seed = seed});
    for (auto& [name, p] : model.named_parameters())
      if (name == "output.bias") p.data()[Tokenizer::kEnd] = 1.0f;
    const DecodeCache cache(model);
    nn::Generator gen(seed + 10);
    const Tensor features = Tensor::uniform({1, 6}, 0, 1, gen);
    const captioning::Caption plain = captioning::greedy_caption(model, tokenizer, features, 12),
                              cached = captioning::greedy_caption(model, tokenizer, features, 12, &cache);
    CHECK(cached.ids == plain.ids);
    worst = std::max(worst, std::fabs(cached.log_prob - plain.log_prob));
    for (int beam : {2, 3, 5}) {
      const auto a = captioning::beam_search(model, tokenizer, features, {.beam = beam, .max_length = 12}),
                 b = captioning::beam_search(model, tokenizer, features,
                                             {.beam = beam, .max_length = 12, .cache = &cache});
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        CHECK(b[i].ids == a[i].ids);
        worst = std::max(worst, std::fabs(b[i].log_prob - a[i].log_prob));
      }
    }
  }
  MESSAGE("largest log-probability difference: " << worst);
  CHECK(worst < 1e-3);
}

TEST_CASE("an attention decoder searches with a DecodeCache as without") {
  const Tokenizer tokenizer = numbered_words(60);
  CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 6, .units = 16, .seed = 5, .positions = 4});
  const DecodeCache cache(model);
  nn::Generator gen(9);
  const Tensor features = Tensor::uniform({1, 4 * 6}, 0, 1, gen);
  for (int beam : {1, 3}) {
    const auto a = captioning::beam_search(model, tokenizer, features, {.beam = beam, .max_length = 10}),
               b = captioning::beam_search(model, tokenizer, features,
                                           {.beam = beam, .max_length = 10, .cache = &cache});
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(b[i].ids == a[i].ids);
      // An untrained decoder over 60 words: a flat distribution, most of its mass on estimates (2.4e-3 over 10 words).
      CHECK(std::fabs(b[i].log_prob - a[i].log_prob) < 1e-2);
    }
  }
}

TEST_CASE("a cache without a gate table (over its size limit) screens the output only, with the same words") {
  const Tokenizer tokenizer = numbered_words(100);
  CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 6, .units = 16, .seed = 8});
  const DecodeCache full(model), screen_only(model, 1024);  // the table: 100 × 64 floats, 25 KB
  CHECK(full.has_word_gates());
  CHECK_FALSE(screen_only.has_word_gates());
  CHECK(test::error_of([&] { screen_only.word_gates({4}); }) ==
        "DecodeCache: expected a gate table, got none (built without one for V=100, U=16)");
  nn::Generator gen(2);
  const Tensor features = Tensor::uniform({1, 6}, 0, 1, gen);
  const auto plain = captioning::greedy_caption(model, tokenizer, features, 10),
             cached = captioning::greedy_caption(model, tokenizer, features, 10, &screen_only);
  CHECK(cached.ids == plain.ids);
  CHECK(std::fabs(cached.log_prob - plain.log_prob) < 1e-2);
}

TEST_CASE("a step refuses a DecodeCache of other shapes instead of reading past it") {
  CaptionModel small({.vocab = 20, .feature_dim = 4, .units = 8, .seed = 1}),
      large({.vocab = 20, .feature_dim = 4, .units = 12, .seed = 1});
  small.eval();
  large.eval();
  const DecodeCache cache(small);
  nn::NoGradGuard no_grad;
  const Tensor image = large.image(Tensor::zeros({1, 4}));
  Tensor h, c;
  CHECK(test::error_of([&] { large.step(image, {1}, h, c, {.cache = &cache}); }) ==
        "CaptionModel::step: expected a DecodeCache of this model's shapes (V=20, U=12), got one of V=20, U=8");
}

TEST_CASE("the shipped captioner, through a Describer with and without its DecodeCache, describes its sample alike") {
  const std::filesystem::path model = std::filesystem::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck",
                              sample = std::filesystem::path(NN_SOURCE_DIR) / "weights" / "sample_shapes.jpg";
  captioning::Describer cached(model), plain(model, {.decode_cache = false});
  REQUIRE(cached.decode_cache() != nullptr);
  REQUIRE(plain.decode_cache() == nullptr);
  for (int beam : {1, 3}) {
    const auto a = plain.describe_file(sample, beam), b = cached.describe_file(sample, beam);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(b[i].text == a[i].text);
      CHECK(std::fabs(b[i].log_prob - a[i].log_prob) < 1e-4);
    }
  }
}

TEST_CASE("a search refuses a DecodeCache of other weights") {
  const Tokenizer tokenizer = numbered_words(7);
  CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 4, .units = 8, .seed = 2});
  const DecodeCache cache(model);
  const Tensor features = Tensor::zeros({1, 4});
  const std::string refused =
      "greedy_caption: expected a DecodeCache built from this model's weights, got a cache of other weights (build it "
      "again after training or loading)";
  for (const char* changed : {"embedding.embeddings", "lstm.kernel", "lstm.bias", "output.kernel", "output.bias"}) {
    CaptionModel other({.vocab = tokenizer.vocab_size(), .feature_dim = 4, .units = 8, .seed = 2});
    for (auto& [name, p] : other.named_parameters())
      if (name == changed)  // every element but the first, as training might leave one untouched
        for (int64_t i = 1; i < p.numel(); ++i) p.data()[i] = p.data()[i] * 1.01f + 1e-3f;
    CHECK_MESSAGE(test::error_of([&] { captioning::greedy_caption(other, tokenizer, features, 5, &cache); }) == refused,
                  changed);
  }
  CHECK_NOTHROW(captioning::greedy_caption(model, tokenizer, features, 5, &cache));
}
