// Keras .h5 weights → Xception, on a small-width file laid out exactly like Keras's official one
// (tests/reference/make_keras_h5.py): every tensor lands where Keras would put it, and bad files are named.
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include <nn/keras_h5.h>

#include "support/check.h"
#include "support/files.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {
const std::string kFile = std::string(NN_FIXTURE_DIR) + "/xception_w16_keras1.h5";

// Every tensor of `model` has the sum and first value that tests/reference/make_keras_h5.py wrote for it.
void check_against_sums(const nn::Module& model, const std::string& sums_file) {
  std::ifstream sums(std::string(NN_FIXTURE_DIR) + "/" + sums_file);
  std::map<std::string, std::pair<double, float>> expected;
  std::string line;
  while (std::getline(sums, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    double total;
    float first;
    in >> name >> total >> first;
    expected[name] = {total, first};
  }
  nn::NamedTensors state = model.named_state();
  REQUIRE(state.size() == expected.size());
  for (const auto& [name, t] : state) {
    auto it = expected.find(name);
    REQUIRE_MESSAGE(it != expected.end(), name << " is not in the generated file");
    double total = 0;
    for (float v : t.to_vector()) total += v;
    CHECK_MESSAGE(total == doctest::Approx(it->second.first).epsilon(1e-5), name);
    CHECK_MESSAGE(t.data()[0] == it->second.second, name);
  }
}

}  // namespace

TEST_CASE("a Keras-1 Xception file (running_std holding the variance) loads tensor by tensor, by position") {
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(kFile);
  REQUIRE(layers.size() == 81);  // with the classifier top
  CHECK(layers[0].layer == "convolution2d_1");
  CHECK(layers[4].layer == "convolution2d_3");  // block 2's residual comes before its separable convolutions
  CHECK(layers[4].weights[0].first == "convolution2d_3_W:0");
  nn::Xception model({.include_top = true, .width = 1.0f / 16});
  nn::assign_keras_weights(layers, model, kFile);
  check_against_sums(model, "xception_w16_keras1_sums.txt");
}

TEST_CASE("a file saved by newer Keras (modern names, UTF-8 strings, under model_weights/) loads the same way") {
  const std::string file = std::string(NN_FIXTURE_DIR) + "/xception_w32_keras2.h5";
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(file);
  REQUIRE(layers.size() == 80);
  CHECK(layers[0].layer == "block1_conv1");
  CHECK(layers[0].weights[0].first == "block1_conv1/kernel:0");
  nn::Xception model({.width = 1.0f / 32});
  nn::assign_keras_weights(layers, model, file);
  check_against_sums(model, "xception_w32_keras2_sums.txt");
}

TEST_CASE("converted weights round-trip through the libnn model file") {
  nn::Xception model({.include_top = true, .width = 1.0f / 16});
  nn::assign_keras_weights(nn::read_keras_h5(kFile), model, kFile);
  fs::path out = fs::temp_directory_path() / ("nn_x16_" + std::to_string(::getpid()) + ".nnck");
  nn::save_xception(out, model);
  std::unique_ptr<nn::Xception> loaded = nn::load_xception(out);
  fs::remove(out);
  CHECK(loaded->options().width == doctest::Approx(1.0 / 16));
  CHECK(loaded->named_state().back().second.to_vector() == model.named_state().back().second.to_vector());
  CHECK_FALSE(loaded->is_training());
}

TEST_CASE("Keras weight files that do not fit give errors naming the file and the layers") {
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(kFile);
  nn::Xception wider({.include_top = true, .width = 1.0f / 8});
  CHECK(test::error_of([&] { nn::assign_keras_weights(layers, wider, kFile); }) ==
        kFile + ": layer 0 ('convolution2d_1' → 'block1_conv1') weight 'convolution2d_1_W:0' → 'block1_conv1.kernel': "
                "expected shape [3,3,3,4], got [3,3,3,2]");
  nn::Xception fewer({.width = 1.0f / 16, .middle_blocks = 7});
  CHECK(test::error_of([&] { nn::assign_keras_weights(layers, fewer, kFile); }) ==
        kFile + ": expected 74 layers with weights (the model's), got 81");
  CHECK(fewer.named_state()[0].second.to_vector() != layers[0].weights[0].second.to_vector());  // untouched
  CHECK(test::error_of([&] { nn::read_keras_h5(std::string(NN_FIXTURE_DIR) + "/matmul.txt"); }) ==
        std::string(NN_FIXTURE_DIR) + "/matmul.txt: is not an HDF5 file");
  CHECK(test::error_of([&] { nn::read_keras_h5("/nonexistent/w.h5"); }) == "/nonexistent/w.h5: is not a file");
}

TEST_CASE("features and class probabilities of real photos agree with the PyTorch reference Xception to 1e-4") {
  const fs::path photos = fs::path(NN_SOURCE_DIR) / ".." / "shared" / "data" / "photos" / "skimage";
  if (!fs::exists(photos)) {
    MESSAGE("../shared/data/photos is not here; skipping the parity check");
    return;
  }
  // The committed small-width files, or — for the full-width check (tests/reference/full_width_parity.sh) — the
  // files named by NN_XCEPTION_H5, NN_XCEPTION_OUTPUTS and NN_XCEPTION_WIDTH.
  const char* h5_env = std::getenv("NN_XCEPTION_H5");
  const char* outputs_env = std::getenv("NN_XCEPTION_OUTPUTS");
  const char* width_env = std::getenv("NN_XCEPTION_WIDTH");
  const std::string h5 = h5_env ? h5_env : kFile;
  const float width = width_env ? std::strtof(width_env, nullptr) : 1.0f / 16;
  test::Fixture expected(outputs_env ? outputs_env : "xception_w16_outputs.txt");
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(h5);
  nn::Xception with_top({.include_top = true, .width = width});
  nn::assign_keras_weights(layers, with_top, h5);
  layers.pop_back();  // the convolutional base alone: the same weights without the classifier
  nn::Xception base({.width = width});
  nn::assign_keras_weights(layers, base, h5);
  base.eval();
  with_top.eval();
  nn::NoGradGuard no_grad;
  int k = 0;
  for (const char* name : {"chelsea.png", "coffee.png", "astronaut.png"}) {
    INFO("photo " << name);
    Tensor x = nn::load_xception_input(photos / name);
    Tensor features = base(x).reshape({-1}), want = expected["features" + std::to_string(k)];
    float scale = 0;
    for (float v : want.to_vector()) scale = std::max(scale, std::fabs(v));
    test::check_close(features, want, 1e-4, 1e-4 * scale, std::string("pooled features of ") + name);
    test::check_close(with_top(x).reshape({-1}), expected["probabilities" + std::to_string(k)], 1e-4, 1e-7,
                      std::string("class probabilities of ") + name);
    ++k;
  }
}
