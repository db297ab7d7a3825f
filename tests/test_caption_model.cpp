// The merge caption model: Keras's parameter count, step-wise generation equal to the whole-caption forward,
// learning a few captions, greedy and beam search.
#include <map>

#include <captioning/generate.h>
#include <captioning/model.h>
#include <captioning/tokenizer.h>

#include "support/check.h"
#include "support/fixtures.h"

using captioning::CaptionModel;
using captioning::Tokenizer;
using nn::Tensor;

TEST_CASE("with V = 7,579 the merge model has Keras's 5,003,675 parameters, named by layer") {
  CaptionModel model({.vocab = 7579});
  CHECK(model.num_parameters() == 5003675);
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"image_dense.kernel", "image_dense.bias", "embedding.embeddings",
                                          "lstm.kernel", "lstm.recurrent_kernel", "lstm.bias", "merge_dense.kernel",
                                          "merge_dense.bias", "output.kernel", "output.bias"});
}

TEST_CASE("generation's single steps give the same logits as the whole-caption forward") {
  CaptionModel model({.vocab = 12, .feature_dim = 6, .units = 8, .seed = 3});
  model.eval();
  nn::Generator gen(4);
  Tensor features = Tensor::uniform({1, 6}, 0, 1, gen);
  const std::vector<int32_t> caption{Tokenizer::kStart, 5, 9, 4, 7};
  Tensor whole = model.forward(features, nn::Indices({1, 5}, caption));  // (1, 5, 12)
  Tensor image = model.image(features), h, c;
  for (size_t t = 0; t < caption.size(); ++t) {
    Tensor logits = model.step(image, {caption[t]}, h, c).logits;
    test::check_close(logits.reshape({12}), nn::slice(whole, 1, t, t + 1).reshape({12}), 1e-5, 1e-6,
                      "step " + std::to_string(t));
  }
}

TEST_CASE("padding does not change a caption's logits (masked steps), and bad inputs are named") {
  CaptionModel model({.vocab = 12, .feature_dim = 6, .units = 8, .seed = 5});
  model.eval();
  nn::Generator gen(6);
  Tensor features = Tensor::uniform({2, 6}, 0, 1, gen);
  Tensor padded = model.forward(features, nn::Indices({2, 4}, {1, 5, 6, 0, 1, 7, 0, 0}));
  Tensor alone = model.forward(nn::slice(features, 0, 1, 2), nn::Indices({1, 2}, {1, 7}));
  test::check_close(nn::slice(nn::slice(padded, 0, 1, 2), 1, 0, 2), alone, 1e-5, 1e-6, "second caption");
  CHECK_THROWS_WITH_AS(model.forward(Tensor::zeros({2, 5}), nn::Indices({2, 1}, {1, 1})),
                       "CaptionModel: expected image features of shape (N,6), got [2,5]", nn::Error);
  CHECK_THROWS_WITH_AS(
      CaptionModel({.vocab = 3}),
      "CaptionModel: expected vocab ≥ 5, feature_dim ≥ 1, units ≥ 1 and 0 ≤ positions ≤ 4096, got vocab=3, "
      "feature_dim=2048, units=256, positions=0",
      nn::Error);
}

// The attention merge, computed with plain loops from the model's parameters: the reference for the one built of
// tensor ops. features (P·F), ids (T) → logits (T·V).
std::vector<float> attention_reference(CaptionModel& model, const std::vector<float>& features,
                                       const std::vector<int32_t>& ids) {
  const auto& o = model.options();
  const int64_t p = o.positions, f = o.feature_dim, u = o.units, v = o.vocab;
  std::map<std::string, std::vector<float>> w;
  for (auto& [name, t] : model.named_parameters()) w[name] = t.to_vector();
  auto dense = [&](const std::string& layer, const float* x, int64_t in, int64_t out, bool relu) {
    std::vector<float> y(out);
    for (int64_t j = 0; j < out; ++j) {
      double a = w[layer + ".bias"][j];
      for (int64_t i = 0; i < in; ++i) a += static_cast<double>(x[i]) * w[layer + ".kernel"][i * out + j];
      y[j] = relu ? std::max(0.0f, static_cast<float>(a)) : static_cast<float>(a);
    }
    return y;
  };
  std::vector<float> mean(f, 0.0f);
  for (int64_t q = 0; q < p; ++q)
    for (int64_t i = 0; i < f; ++i) mean[i] += features[q * f + i] / static_cast<float>(p);
  const std::vector<float> image = dense("image_dense", mean.data(), f, u, true);
  std::vector<std::vector<float>> values;
  for (int64_t q = 0; q < p; ++q) values.push_back(dense("value_dense", &features[q * f], f, u, true));
  // The LSTM's outputs by the lstm op (it has its own PyTorch reference test) on the embedded words.
  std::map<std::string, Tensor> t;
  for (auto& [name, tensor] : model.named_parameters()) t[name] = tensor;
  std::vector<Tensor> rows;
  for (int32_t id : ids) rows.push_back(nn::slice(t["embedding.embeddings"], 0, id, id + 1));
  const int64_t steps = static_cast<int64_t>(ids.size());
  const std::vector<float> lstm_out = nn::lstm(nn::concat(rows, 0).reshape({1, steps, u}),
                                               {t["lstm.kernel"], t["lstm.recurrent_kernel"], t["lstm.bias"]})
                                          .outputs.to_vector();
  std::vector<float> out;
  for (int64_t step = 0; step < steps; ++step) {
    const std::vector<float> words(lstm_out.begin() + step * u, lstm_out.begin() + (step + 1) * u);
    const std::vector<float> query = dense("query_dense", words.data(), u, u, false);
    std::vector<double> score(p);
    double top = -1e30, total = 0;
    for (int64_t q = 0; q < p; ++q) {
      for (int64_t k = 0; k < u; ++k) score[q] += static_cast<double>(query[k]) * values[q][k];
      score[q] /= std::sqrt(static_cast<double>(u));
      top = std::max(top, score[q]);
    }
    for (double& s : score) total += (s = std::exp(s - top));
    std::vector<float> merged(u);
    for (int64_t k = 0; k < u; ++k) {
      double context = 0;
      for (int64_t q = 0; q < p; ++q) context += score[q] / total * values[q][k];
      merged[k] = static_cast<float>(words[k] + image[k] + context);
    }
    const std::vector<float> hidden = dense("merge_dense", merged.data(), u, u, true);
    const std::vector<float> logits = dense("output", hidden.data(), u, v, false);
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

TEST_CASE("with attention over a feature map, the logits are the loop reference's, step by step and whole") {
  CaptionModel model({.vocab = 11, .feature_dim = 5, .units = 6, .seed = 9, .positions = 4});
  model.eval();
  // embedding, image_dense, lstm, merge_dense, output, then value_dense and query_dense
  CHECK(model.num_parameters() ==
        11 * 6 + (5 * 6 + 6) + (6 * 24 + 6 * 24 + 24) + (6 * 6 + 6) + (6 * 11 + 11) + (5 * 6 + 6) + (6 * 6 + 6));
  nn::Generator gen(12);
  Tensor features = Tensor::uniform({1, 20}, 0, 1, gen);  // 4 positions of 5
  const std::vector<int32_t> caption{Tokenizer::kStart, 5, 9, 4, 7};
  Tensor whole = model.forward(features, nn::Indices({1, 5}, caption));  // (1, 5, 11)
  test::check_close(whole.reshape({5, 11}), attention_reference(model, features.to_vector(), caption), 1e-4, 1e-5,
                    "whole caption");
  Tensor image = model.image(features), h, c;
  CHECK(image.shape() == nn::Shape{1, 6 + 4 * 6});
  for (size_t t = 0; t < caption.size(); ++t) {
    Tensor logits = model.step(image, {caption[t]}, h, c).logits;
    test::check_close(logits.reshape({11}), nn::slice(whole, 1, t, t + 1).reshape({11}), 1e-5, 1e-6,
                      "step " + std::to_string(t));
  }
  CHECK_THROWS_WITH_AS(model.forward(Tensor::zeros({1, 5}), nn::Indices({1, 1}, {1})),
                       "CaptionModel: expected image features of shape (N,20), got [1,5]", nn::Error);
}

TEST_CASE("the attention merge's gradient with respect to the feature map matches finite differences") {
  CaptionModel model({.vocab = 9, .feature_dim = 3, .units = 4, .seed = 2, .positions = 3});
  model.eval();
  test::GradCase c{"attention", {{2, 9}}, [&](const std::vector<Tensor>& in) {
                     return model.forward(in[0], nn::Indices({2, 3}, {1, 5, 6, 1, 7, 8}));
                   }};
  c.low = 0.1f, c.high = 1.0f;
  test::GradReport report = test::gradcheck(c);
  CHECK_MESSAGE(report.ok, report.failure);
}

TEST_CASE("trained by teacher forcing on three captions, greedy and beam search say them back; beam 1 is greedy") {
  const std::vector<std::string> captions{"dog runs on grass", "two girls play in the snow",
                                          "man rides bike down the hill"};
  Tokenizer tokenizer = Tokenizer::fit(captions);
  CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 5, .units = 32, .dropout = 0.1f, .seed = 7});
  // Each caption has its own one-hot image; inputs are <start> w1 … wn, targets w1 … wn <end>, padded with 0.
  const int64_t n = 3, t = 8;
  std::vector<int32_t> inputs(n * t, 0), targets(n * t, 0);
  Tensor features = Tensor::zeros({n, 5}), mask = Tensor::zeros({n, t});
  for (int64_t i = 0; i < n; ++i) {
    features.data()[i * 5 + i] = 1.0f;
    std::vector<int32_t> ids = tokenizer.encode(captions[i]);
    for (size_t k = 0; k + 1 < ids.size(); ++k) {
      inputs[i * t + k] = ids[k];
      targets[i * t + k] = ids[k + 1];
      mask.data()[i * t + k] = 1.0f;
    }
  }
  nn::Adam adam(model.named_parameters(), {.lr = 0.01f});
  float loss_value = 0;
  for (int step = 0; step < 150; ++step) {
    Tensor loss = nn::softmax_cross_entropy(model.forward(features, nn::Indices({n, t}, inputs)),
                                            nn::Indices({n, t}, targets), mask);
    adam.zero_grad();
    loss.backward();
    adam.step();
    loss_value = loss.item();
  }
  CHECK(loss_value < 0.05f);
  CHECK(model.is_training());
  for (int64_t i = 0; i < n; ++i) {
    Tensor image = nn::slice(features, 0, i, i + 1);
    captioning::Caption greedy = captioning::greedy_caption(model, tokenizer, image);
    CHECK(greedy.text == captions[i]);
    std::vector<captioning::Caption> one = captioning::beam_search(model, tokenizer, image, {.beam = 1});
    REQUIRE(one.size() == 1);
    CHECK(one[0].ids == greedy.ids);
    CHECK(one[0].log_prob == doctest::Approx(greedy.log_prob).epsilon(1e-9));
    std::vector<captioning::Caption> three = captioning::beam_search(model, tokenizer, image, {.beam = 3});
    REQUIRE(three.size() == 3);
    CHECK(three[0].text == captions[i]);
    CHECK(three[0].score >= three[1].score);
    std::vector<captioning::Caption> normalized =
        captioning::beam_search(model, tokenizer, image, {.beam = 3, .length_normalize = true});
    for (const captioning::Caption& c : normalized) {
      CHECK(c.score == doctest::Approx(c.log_prob / static_cast<double>(c.ids.size() + 1)));
    }
    CHECK(normalized[0].score >= normalized[1].score);
  }
  CHECK(model.is_training());  // generation restored the mode
}

TEST_CASE("the first 20 Adam steps of the merge model give PyTorch's losses (same weights and batches, no dropout)") {
  test::Fixture f("caption_adam.txt");
  CaptionModel model({.vocab = 30, .feature_dim = 16, .units = 8, .dropout = 0.0f});
  for (auto& [name, t] : model.named_parameters()) t.copy_from(f[name]);
  auto ids = [&](const char* key) { return f.indices(key); };
  nn::Adam adam(model.named_parameters(), {.lr = 0.01f});
  Tensor expected = f["losses"];
  for (int step = 0; step < 20; ++step) {
    Tensor loss = nn::softmax_cross_entropy(model.forward(f["features"], ids("inputs")), ids("targets"), f["mask"]);
    INFO("step " << step + 1);
    CHECK(loss.item() == doctest::Approx(expected.data()[step]).epsilon(1e-4));
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
}
