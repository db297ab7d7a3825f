// Keras .h5 weights → Xception, on a small-width file laid out exactly like Keras's official one
// (tests/reference/make_keras_h5.py): every tensor lands where Keras would put it, and bad files are named.
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>

#include <nn/io/keras_h5.h>

#include "support/check.h"
#include "support/files.h"
#include "support/fixtures.h"
#include "support/shared_data.h"

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
        kFile +
            ": layer 0 ('convolution2d_1' → 'block1_conv1') weight 'convolution2d_1_W:0' → 'block1_conv1.kernel': "
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
  const fs::path photos = test::test_photos();
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

// libnn's own HDF5 reader (nn/io/hdf5_file.h) on the parts of the format the Xception files do not reach; the files are
// written by h5py itself (tests/reference/make_h5_cases.py).
namespace {
std::string h5_case(const std::string& name) {
  return std::string(NN_FIXTURE_DIR) + "/h5/" + name;
}
}  // namespace

TEST_CASE("the HDF5 reader walks two-level group B-trees and joins Keras's split name lists") {
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(h5_case("many_layers.h5"));
  REQUIRE(layers.size() == 3);
  CHECK(layers[0].layer == "dense_1");
  REQUIRE(layers[0].weights.size() == 300);  // weight_names0 (200) + weight_names1 (100)
  for (int i = 0; i < 300; ++i) {
    CHECK(layers[0].weights[i].first == "dense_1_W" + std::to_string(i) + ":0");
    CHECK(layers[0].weights[i].second.to_vector() == std::vector<float>{static_cast<float>(i) + 0.5f});
  }
  CHECK(layers[1].layer == "dense_2");
  CHECK(layers[2].layer == "dense_3");  // from layer_names1
  CHECK(layers[2].weights[0].second.to_vector() == std::vector<float>{-2.0f});
}

TEST_CASE("the HDF5 reader converts float64 and big-endian float32, reads compact datasets and padded strings") {
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(h5_case("formats.h5"));
  REQUIRE(layers.size() == 1);
  CHECK(layers[0].layer == "mixed");  // a variable-length UTF-8 layer_names
  REQUIRE(layers[0].weights.size() == 3);
  CHECK(layers[0].weights[0].first == "kernel:0");  // space-padded fixed-length weight_names, trimmed
  CHECK(layers[0].weights[2].first == "compact:0");
  const nn::Tensor& kernel = layers[0].weights[0].second;  // float64 (i − 2.5) / 3
  CHECK(kernel.shape() == nn::Shape{2, 3});
  for (int i = 0; i < 6; ++i) CHECK(kernel.data()[i] == static_cast<float>((i - 2.5) / 3.0));
  CHECK(layers[0].weights[1].second.to_vector() == std::vector<float>{1.5f, -2.25f, 1e-3f});  // '>f4'
  CHECK(layers[0].weights[2].second.to_vector() == std::vector<float>{0.25f, -0.5f, 4.0f, 8.0f});
}

TEST_CASE("the HDF5 reader finds a superblock behind a user block") {
  std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(h5_case("userblock.h5"));
  REQUIRE(layers.size() == 1);
  CHECK(layers[0].weights[0].second.to_vector() == std::vector<float>(4, 0.75f));
}

TEST_CASE("HDF5 layouts Keras's files do not use are refused by name") {
  const std::string latest = h5_case("latest.h5"), chunked = h5_case("chunked.h5"), ints = h5_case("integers.h5");
  CHECK(test::error_of([&] { nn::read_keras_h5(latest); }) ==
        latest +
            ": uses an HDF5 layout this reader does not handle (superblock version 3, written with "
            "libver='latest'); Keras weight files as h5py writes them by default are read");
  CHECK(test::error_of([&] { nn::read_keras_h5(chunked); }) ==
        chunked +
            ": uses an HDF5 layout this reader does not handle (dataset 'dense_1_W:0' is compressed or "
            "filtered); Keras weight files as h5py writes them by default are read");
  CHECK(test::error_of([&] { nn::read_keras_h5(ints); }) ==
        ints + ": dataset 'dense_1_W:0' does not hold 32- or 64-bit floating-point numbers");
}

TEST_CASE("a damaged HDF5 file gives an error naming it or the file's own values, never a crash") {
  const std::string file = h5_case("formats.h5");
  std::ifstream in(file, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<nn::KerasLayerWeights> intact = nn::read_keras_h5(file);
  test::TempDir dir("nn_h5_damage");
  const fs::path damaged = dir.path / "damaged.h5";
  int loaded = 0;
  auto check = [&](const std::string& bytes) {
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << bytes;
    try {
      std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(damaged);
      ++loaded;
      REQUIRE(layers.size() == intact.size());
      REQUIRE(layers[0].weights.size() == intact[0].weights.size());
    } catch (const nn::Error& e) {
      CHECK(std::string(e.what()).rfind(damaged.string() + ": ", 0) == 0);
    }
  };
  for (size_t length = 0; length < original.size(); ++length) check(original.substr(0, length));  // every cut
  CHECK(loaded == 0);
  uint64_t state = 12345;  // then 3,000 single bytes overwritten with pseudo-random values
  for (int k = 0; k < 3000; ++k) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string bytes = original;
    bytes[(state >> 33) % bytes.size()] = static_cast<char>(state >> 17);
    check(bytes);
  }
  CHECK(loaded > 0);  // most bytes are padding or data: a flip there still loads
}

TEST_CASE("a Keras weight that is NaN or infinite is refused, naming the file and the dataset") {
  std::ifstream in(h5_case("formats.h5"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  test::TempDir dir("nn_h5_nan");
  const fs::path file = dir.path / "nan.h5";
  // bias:0 is big-endian float32 [1.5, -2.25, 1e-3]: -2.25 (C0 10 00 00) becomes a NaN (7F C0 00 00).
  const std::string bias("\x3f\xc0\x00\x00\xc0\x10\x00\x00", 8);
  const size_t at = bytes.find(bias);
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(bias, at + 1) == std::string::npos);
  bytes.replace(at + 4, 4, std::string("\x7f\xc0\x00\x00", 4));
  std::ofstream(file, std::ios::binary) << bytes;
  CHECK(test::error_of([&] { nn::read_keras_h5(file); }) ==
        file.string() + ": dataset 'bias:0' holds a non-finite value (NaN at index 1)");
  // kernel:0 is float64; 1e300 is finite there but not as float32.
  std::string big = bytes;
  big.replace(at + 4, 4, std::string("\xc0\x10\x00\x00", 4));
  double third = (0 - 2.5) / 3.0, huge = 1e300;
  const size_t k = big.find(std::string(reinterpret_cast<const char*>(&third), 8));
  REQUIRE(k != std::string::npos);
  big.replace(k, 8, std::string(reinterpret_cast<const char*>(&huge), 8));
  std::ofstream(file, std::ios::binary | std::ios::trunc) << big;
  CHECK(test::error_of([&] { nn::read_keras_h5(file); }) ==
        file.string() + ": dataset 'kernel:0' holds a non-finite value (inf at index 0)");
}
