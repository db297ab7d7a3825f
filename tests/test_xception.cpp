// Xception as Keras builds it: parameter counts, every tensor's name and shape against Keras's own manifest, and
// the shapes through the network.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/check.h"
#include "support/files.h"
#include "support/shared_data.h"

using nn::Tensor;

namespace {

int64_t count_weights(const nn::Module& m) {
  int64_t total = m.num_parameters();
  for (auto& [name, t] : m.named_buffers()) total += t.numel();
  return total;
}

// The manifest's name for one of our tensors: "block2_sepconv1.depthwise_kernel" → "block2_sepconv1_1/
// depthwise_kernel" (TensorFlow suffixed the variables of the named layers with "_1" in the session that wrote it);
// the unnamed residual convolutions have the names that session gave them.
std::string keras_name(const std::string& ours) {
  static const std::map<std::string, std::string> residual = {
      {"block2_residual", "conv2d_4"},  {"block2_residual_bn", "batch_normalization_4"},
      {"block3_residual", "conv2d_5"},  {"block3_residual_bn", "batch_normalization_5"},
      {"block4_residual", "conv2d_6"},  {"block4_residual_bn", "batch_normalization_6"},
      {"block13_residual", "conv2d_7"}, {"block13_residual_bn", "batch_normalization_7"}};
  size_t dot = ours.find('.');
  std::string layer = ours.substr(0, dot);
  auto it = residual.find(layer);
  return (it == residual.end() ? layer + "_1" : it->second) + "/" + ours.substr(dot + 1);
}

}  // namespace

TEST_CASE("Xception has exactly Keras's parameter counts") {
  nn::Xception without_top;
  CHECK(count_weights(without_top) == 20861480);
  CHECK(without_top.feature_channels() == 2048);
  nn::Xception with_top({.include_top = true});
  CHECK(count_weights(with_top) == 22910480);
  // Keras's model.summary() totals for Xception(weights=None): the BatchNorm moving statistics are non-trainable.
  const std::string summary = with_top.summary({1, 71, 71, 3});
  INFO(summary);
  CHECK(summary.find("Total params: 22,910,480\nTrainable params: 22,855,952\nNon-trainable params: 54,528\n") !=
        std::string::npos);
  // Every layer shows the shape it produced: (71 − 3)/2 + 1 = 35 after the first 3×3/2 convolution.
  CHECK(std::regex_search(summary, std::regex("block1_conv1 \\(Conv2D\\) +\\[1,35,35,32\\] +864\n")));
  CHECK(std::regex_search(summary, std::regex("predictions \\(Dense\\) +\\[1,1000\\] +2049000\n")));
  CHECK(summary.find('?') == std::string::npos);
}

TEST_CASE("every Xception tensor has the name and shape of Keras's ImageNet manifest, and nothing is missing") {
  const std::filesystem::path manifest = test::shared_data("xception") / "tfjs_xception_imagenet_model.json";
  if (!std::filesystem::exists(manifest)) {
    MESSAGE(manifest.string() << " is not here: skipping the manifest check (parameter counts are checked above)");
    return;
  }
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  // Entries look like {"name": "block1_conv1/kernel", "shape": [3, 3, 3, 32], "dtype": "float32"}.
  std::map<std::string, nn::Shape> keras;
  const std::regex entry(R"re(\{"name": "([^"]+)", "shape": \[([0-9, ]*)\])re");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), entry); it != std::sregex_iterator(); ++it) {
    nn::Shape shape;
    std::stringstream dims((*it)[2].str());
    for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoll(d));
    keras[(*it)[1].str()] = shape;
  }
  REQUIRE(keras.size() == 236);
  nn::Xception model({.include_top = true});
  nn::NamedTensors ours = model.named_parameters();
  for (auto& entry : model.named_buffers()) ours.push_back(entry);
  CHECK(ours.size() == keras.size());
  for (const auto& [name, t] : ours) {
    auto it = keras.find(keras_name(name));
    if (it == keras.end()) {
      FAIL_CHECK("ours " << name << " (as " << keras_name(name) << ") is not in Keras's manifest");
      continue;
    }
    CHECK_MESSAGE(it->second == t.shape(),
                  name << ": Keras " << nn::to_string(it->second) << ", ours " << nn::to_string(t.shape()));
  }
}

TEST_CASE("Xception's shapes: 299 → 149 → 147 → … → 10, pooled to 2048 (small width here), errors named") {
  nn::Generator gen(1);
  nn::Xception small({.width = 1.0f / 16, .middle_blocks = 1}, gen);
  small.eval();
  CHECK(small.feature_channels() == 128);
  nn::NoGradGuard no_grad;
  Tensor x = Tensor::uniform({2, 299, 299, 3}, -1, 1, gen);
  CHECK(small(x).shape() == nn::Shape{2, 128});
  nn::Xception map({.pooling = nn::XceptionPooling::none, .width = 1.0f / 16, .middle_blocks = 0}, gen);
  map.eval();
  CHECK(map(x).shape() == nn::Shape{2, 10, 10, 128});
  CHECK_THROWS_WITH_AS(small(Tensor::zeros({1, 299, 299, 4})),
                       "Xception: expected an input of shape (N,H,W,3), got [1,299,299,4]", nn::Error);
  CHECK_THROWS_WITH_AS(small(Tensor::zeros({1, 64, 64, 3})),
                       "Xception: expected an input of at least 71×71 pixels, got [1,64,64,3]", nn::Error);
}

TEST_CASE("Xception's max pooling and average pooling differ only in the pooling") {
  nn::Generator g1(5), g2(5);
  nn::Xception avg({.width = 1.0f / 32, .middle_blocks = 1}, g1);
  nn::Xception max({.pooling = nn::XceptionPooling::max, .width = 1.0f / 32, .middle_blocks = 1}, g2);
  avg.eval();
  max.eval();
  nn::Generator gen(2);
  Tensor x = Tensor::uniform({1, 80, 80, 3}, -1, 1, gen);
  Tensor a = avg(x), m = max(x);
  REQUIRE(a.shape() == m.shape());
  for (int64_t c = 0; c < a.numel(); ++c) CHECK(m.data()[c] >= a.data()[c]);
}

TEST_CASE("a folded Xception gives the features of the unfolded one, has no BatchNorm, and refuses what it should") {
  nn::Generator gen(8);
  nn::Xception model({.include_top = true, .width = 1.0f / 16, .middle_blocks = 1, .classes = 5}, gen);
  // Moving statistics and affine parameters far from the identity, so that folding has something to fold.
  nn::Generator stats(9);
  for (auto& [name, t] : model.named_state()) {
    if (name.find("_bn.") == std::string::npos) continue;
    const bool variance = name.find("moving_variance") != std::string::npos;
    const bool gamma = name.find("gamma") != std::string::npos;
    t.copy_from(Tensor::uniform(t.shape(), variance || gamma ? 0.5 : -0.5, variance || gamma ? 2.0 : 0.5, stats));
  }
  model.eval();
  const std::shared_ptr<nn::Xception> folded = model.folded();
  CHECK(!folded->is_training());
  CHECK(folded->options().folded);
  for (auto& [name, t] : folded->named_state()) CHECK_MESSAGE(name.find("_bn") == std::string::npos, name);
  // A folded model holds fewer tensors: per BatchNorm four (C) tensors gone, one bias (C) in its place.
  CHECK(folded->num_parameters() < model.num_parameters());

  const Tensor x = Tensor::uniform({2, 80, 80, 3}, -1, 1, gen);
  nn::NoGradGuard no_grad;
  const Tensor expected = model(x), got = (*folded)(x);
  REQUIRE(got.shape() == expected.shape());
  test::check_close(got, expected, 1e-5, 1e-6, "folded against unfolded, with the top");
  // A snapshot: a later change to the source does not reach the folded copy.
  const Tensor before = (*folded)(x);
  model.named_parameters().front().second.fill(0.0f);
  test::check_close((*folded)(x), before, 0, 0, "folded copy after the source changed");

  // The pooled features themselves (no softmax to shrink a difference), and the feature map.
  for (auto pooling : {nn::XceptionPooling::avg, nn::XceptionPooling::none}) {
    nn::Generator same(10);
    nn::Xception plain({.pooling = pooling, .width = 1.0f / 16, .middle_blocks = 1}, same);
    for (auto& [name, t] : plain.named_state())
      if (name.find("_bn.") != std::string::npos) t.copy_from(Tensor::uniform(t.shape(), 0.5, 1.5, stats));
    plain.eval();
    test::check_close((*plain.folded())(x), plain(x), 1e-5, 1e-6, "folded features, no top");
  }

  CHECK_THROWS_WITH_AS(folded->folded(), "Xception::folded: the model is folded already", nn::Error);
  nn::Xception low({.width = 1.0f / 16, .middle_blocks = 0}, gen);
  low.to(nn::bf16);
  CHECK_THROWS_WITH_AS(low.folded(),
                       "Xception::folded: expected an f32 model (fold first, then convert with to()), got a bf16 model",
                       nn::Error);
  test::TempDir dir;
  const std::string error = test::error_of([&] { nn::save_xception(dir.path / "f.nnck", *folded); });
  CHECK(error == (dir.path / "f.nnck").string() +
                     ": save_xception: a folded Xception is an inference copy; save the model it was folded from");
  CHECK(!std::filesystem::exists(dir.path / "f.nnck"));
}

namespace {
// Σ upstream ⊙ model(x), accumulated in double.
double objective(nn::Xception& model, const Tensor& x, const Tensor& upstream) {
  nn::NoGradGuard no_grad;
  Tensor y = model(x);
  double total = 0;
  for (int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data()[i]) * upstream.data()[i];
  return total;
}
}  // namespace

TEST_CASE("backward through Xception: directional derivatives of the input and of every parameter match") {
  // A small model on a small image. In eval mode the network is piecewise linear in its input, so the check uses a
  // central difference along one random direction (all inputs, or all parameters, at once) with a small step.
  nn::Generator gen(21);
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 1}, gen);
  model.eval();
  Tensor x = Tensor::uniform({2, 75, 75, 3}, -1, 1, gen).set_requires_grad();
  Tensor y = model(x);
  Tensor upstream = Tensor::uniform(y.shape(), -1, 1, gen);
  y.backward(upstream);

  auto check_direction = [&](std::vector<Tensor> targets, const std::string& what) {
    std::vector<Tensor> direction;
    double analytic = 0;
    for (Tensor& t : targets) {
      REQUIRE_MESSAGE(t.grad().defined(), what << ": no gradient reached a tensor");
      direction.push_back(Tensor::uniform(t.shape(), -1, 1, gen));
      for (int64_t i = 0; i < t.numel(); ++i)
        analytic += static_cast<double>(t.grad().data()[i]) * direction.back().data()[i];
    }
    // Small enough that no ReLU or max-pool switches within ±eps here (1e-4 crosses one), large enough for float32.
    const float eps = 5e-5f;
    auto shift = [&](float by) {
      for (size_t k = 0; k < targets.size(); ++k)
        for (int64_t i = 0; i < targets[k].numel(); ++i) targets[k].data()[i] += by * direction[k].data()[i];
    };
    shift(eps);
    double plus = objective(model, x, upstream);
    shift(-2 * eps);
    double minus = objective(model, x, upstream);
    shift(eps);
    double numeric = (plus - minus) / (2 * eps);
    INFO(what << ": analytic " << analytic << ", numeric " << numeric);
    CHECK(std::fabs(analytic - numeric) <= 2e-2 * std::fabs(numeric) + 5e-5);  // float32 noise is ~2e-5 here
  };
  check_direction({x}, "input");
  for (auto& [name, p] : model.named_parameters()) check_direction({p}, name);
}

TEST_CASE("after the first images, a forward pass needs no fresh memory (the caching allocator serves it)") {
  nn::Generator gen(4);
  nn::Xception model({.width = 1.0f / 8, .middle_blocks = 2}, gen);
  model.eval();
  nn::NoGradGuard no_grad;
  Tensor x = Tensor::uniform({1, 299, 299, 3}, -1, 1, gen);
  // The first pass allocates; the second may still need a block (the cache then holds the first pass's output
  // too, so best fit can choose differently); from then on the cache is in a steady state.
  model(x);
  model(x);
  const nn::AllocatorStats first = nn::allocator_stats();
  Tensor again = model(x);
  const nn::AllocatorStats second = nn::allocator_stats();
  CHECK(second.misses == first.misses);
  CHECK(second.hits > first.hits);
}

TEST_CASE(
    "run_batch_parallel: chunks taken by whichever worker is free, a share of the kernel threads each, in order") {
  nn::Generator gen(6);
  nn::ThreadCountScope six(6);  // three workers: two kernel threads each
  const Tensor x = Tensor::uniform({7, 3}, -1, 1, gen);
  std::mutex mutex;
  std::condition_variable all_in;
  std::set<std::thread::id> threads;
  std::vector<int64_t> sizes;
  const Tensor doubled = nn::run_batch_parallel(
      [&](const Tensor& part) {
        std::unique_lock lock(mutex);
        threads.insert(std::this_thread::get_id());
        sizes.push_back(part.dim(0));
        CHECK(nn::current_num_threads() == 2);
        // Every call waits (up to 10 s) until three workers have come in — only each one's first blocks —: three
        // threads, or a failed check.
        all_in.notify_all();
        all_in.wait_for(lock, std::chrono::seconds(10), [&] { return threads.size() == 3; });
        return part * 2.0f;
      },
      x, 3);
  CHECK(threads.size() == 3);
  CHECK(sizes == std::vector<int64_t>(7, 1));  // 7 examples, 3 workers: chunks of one
  const std::vector<float> expected = (x * 2.0f).to_vector();
  CHECK(doubled.to_vector() == expected);
  // 26 examples on 2 workers: chunks of ⌊26 / 4⌋ = 6 (half a worker's share), the last one 2.
  const Tensor y = Tensor::uniform({26, 3}, -1, 1, gen);
  sizes.clear();
  const Tensor plus = nn::run_batch_parallel(
      [&](const Tensor& part) {
        std::lock_guard lock(mutex);
        sizes.push_back(part.dim(0));
        return part + 1.0f;
      },
      y, 2);
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<int64_t>{2, 6, 6, 6, 6});
  CHECK(plus.to_vector() == (y + 1.0f).to_vector());
  // Two failing chunks: the first in chunk order is reported (chunks are taken in order, so the earlier one ran).
  CHECK(test::error_of([&] {
          nn::run_batch_parallel(
              [&](const Tensor& part) {
                for (int e : {2, 5})
                  if (part.data()[0] == x.data()[e * 3]) throw nn::Error("example " + std::to_string(e) + " refused");
                return part;
              },
              x, 3);
        }) == "example 2 refused");
  CHECK(nn::run_batch_parallel([](const Tensor& part) { return part + 1.0f; }, x, 1).to_vector() ==
        (x + 1.0f).to_vector());
}

TEST_CASE("Xception's batch-parallel inference gives each image's features, f32 and bf16; training keeps the batch") {
  nn::Generator gen(8);
  nn::Xception model({.width = 1.0f / 8, .middle_blocks = 1}, gen);
  model.eval();
  nn::ThreadCountScope two(2);
  const Tensor x = Tensor::uniform({5, 80, 80, 3}, -1, 1, gen);
  for (nn::DType dtype : {nn::f32, nn::bf16}) {
    std::shared_ptr<nn::Xception> folded = model.folded();
    folded->to(dtype);
    nn::NoGradGuard no_grad;
    CHECK(folded->batch_parallel() == (dtype == nn::f32));  // the default: workers for f32, layers within for bf16
    folded->set_batch_parallel(true);
    const Tensor split = (*folded)(x);
    folded->set_batch_parallel(false);
    const Tensor whole = (*folded)(x);
    const double tolerance = dtype == nn::f32 ? 1e-5 : 2e-2;
    for (int64_t i = 0; i < 5; ++i) {
      const Tensor alone = (*folded)(nn::slice(x, 0, i, i + 1));  // the image on its own: the oracle
      for (const Tensor* batch : {&split, &whole}) {
        const std::vector<float> row = nn::slice(*batch, 0, i, i + 1).to_vector(), want = alone.to_vector();
        double worst = 0;
        for (size_t k = 0; k < row.size(); ++k)
          worst = std::max(worst, std::fabs(row[k] - want[k]) / (1e-3 + std::fabs(want[k])));
        INFO(nn::dtype_name(dtype) << " image " << i << (batch == &split ? " split" : " whole"));
        CHECK(worst <= tolerance);
      }
    }
  }
  // In training mode the batch norms use the whole batch's statistics: no chunks. The same pass with batch
  // parallelism off is the oracle (a split run would normalise each chunk by its own statistics and differ from it,
  // as checked).
  model.train();
  nn::NoGradGuard no_grad;
  const Tensor trained = model(x);
  model.set_batch_parallel(false);
  CHECK(trained.to_vector() == model(x).to_vector());
  const Tensor per_slice = nn::concat({model(nn::slice(x, 0, 0, 2)), model(nn::slice(x, 0, 2, 5))}, 0);
  CHECK(trained.to_vector() != per_slice.to_vector());
}
