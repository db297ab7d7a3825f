// Xception weights found by content (captioning/xception_weights.h) and Flickr8k bundles that stand alone; the
// SHA-256 under them (nn/io/sha256.h) against FIPS 180-4's examples and coreutils' sha256sum.
#include <doctest/doctest.h>

#include <captioning/bundle.h>
#include <captioning/describer.h>
#include <captioning/xception_weights.h>
#include <nn/core/random.h>
#include <nn/io/checkpoint.h>
#include <nn/io/options.h>
#include <nn/io/sha256.h>
#include <nn/layers/dense.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "support/files.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSample = fs::path(NN_SOURCE_DIR) / "weights" / "sample_shapes.jpg";

// A small feature Xception (64 channels) drawn from `seed`, saved as nn::save_xception writes converted weights.
void save_small_xception(const fs::path& path, uint64_t seed, bool include_top = false) {
  nn::Generator gen(seed);
  nn::Xception model({.include_top = include_top, .width = 0.03125f, .middle_blocks = 1, .classes = 10}, gen);
  nn::save_xception(path, model);
}

// A Flickr8k-style bundle over the Xception in `weights` (as train_flickr8k writes it): the caption model and the
// texts features.extractor and features.weights.
void save_flickr8k_bundle(const fs::path& bundle, const std::string& extractor, const std::string& weights_name) {
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit({"a dog runs on the grass", "a red circle"});
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 64, .units = 8, .seed = 3});
  captioning::Texts texts{{"features.extractor", extractor}};
  if (!weights_name.empty()) texts.emplace_back("features.weights", weights_name);
  captioning::save_bundle(bundle, model, tokenizer, nullptr, texts);
}

std::string command_output(const std::string& command) {
  std::string out;
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char chunk[256];
  for (size_t got; (got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) out.append(chunk, got);
  pclose(pipe);
  return out;
}

// Scoped environment variable.
struct SetEnv {
  std::string name;
  SetEnv(const std::string& n, const std::string& value) : name(n) { setenv(n.c_str(), value.c_str(), 1); }
  ~SetEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("sha256: FIPS 180-4's examples, fed whole and in pieces") {
  // FIPS 180-2, appendix B (the same messages in NIST's SHA examples for 180-4).
  CHECK(nn::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(nn::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // 448 bits
  CHECK(nn::sha256_hex(two_blocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', in pieces of 1, 2 … bytes, so that blocks are completed from the buffer in every way.
  nn::Sha256 million;
  size_t fed = 0;
  for (size_t piece = 1; fed < 1'000'000; piece = piece % 150 + 1) {
    const size_t n = std::min(piece, 1'000'000 - fed);
    million.update(std::string(n, 'a'));
    fed += n;
  }
  CHECK(million.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // digest() leaves the hash going: "ab" then "c" is "abc".
  nn::Sha256 h;
  h.update("ab");
  (void)h.hex_digest();
  h.update("c");
  CHECK(h.hex_digest() == nn::sha256_hex("abc"));
}

TEST_CASE("sha256_file: the digest coreutils' sha256sum prints, for files of every length around a block") {
  test::TempDir dir;
  nn::Generator gen(7);
  for (size_t size : {0, 55, 56, 63, 64, 65, 119, 120, 128, 100'003}) {
    const fs::path file = dir.path / ("bytes_" + std::to_string(size));
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(gen.below(256));
    std::ofstream(file, std::ios::binary) << bytes;
    const std::string printed = command_output("sha256sum '" + file.string() + "'");
    REQUIRE(printed.size() > 64);
    CHECK_MESSAGE(nn::sha256_file(file) == printed.substr(0, 64), "size ", size);
  }
  CHECK(test::error_of([&] { nn::sha256_file(dir.path / "absent"); }).rfind((dir.path / "absent").string(), 0) == 0);
}

TEST_CASE("weights_sha256: names, shapes and float32 values, as docs/checkpoint-format.md lays them out") {
  nn::Dense dense({.in = 2, .out = 1});
  const float kernel[] = {1.0f, -2.5f};
  std::copy(kernel, kernel + 2, dense.named_state()[0].second.data());
  dense.named_state()[1].second.data()[0] = 0.25f;
  // By hand: "kernel" (6 bytes), rank 2, [2,1], 1.0 = 0x3f800000, -2.5 = 0xc0200000; "bias", rank 1, [1],
  // 0.25 = 0x3e800000; every count u64 little endian, every float little endian.
  const std::string expected_bytes =
      std::string("\x06\0\0\0\0\0\0\0kernel", 14) +
      std::string("\x02\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 24) +
      std::string("\0\0\x80\x3f\0\0\x20\xc0", 8) + std::string("\x04\0\0\0\0\0\0\0bias", 12) +
      std::string("\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 16) + std::string("\0\0\x80\x3e", 4);
  CHECK(captioning::weights_sha256(dense) == nn::sha256_hex(expected_bytes));
  // One value changed: another hash.
  dense.named_state()[1].second.data()[0] = 0.5f;
  CHECK(captioning::weights_sha256(dense) != nn::sha256_hex(expected_bytes));
}

TEST_CASE("the same weights have one hash whatever the file's name, path or texts, and other weights another") {
  test::TempDir dir;
  save_small_xception(dir.path / "a.nnck", 1);
  const captioning::XceptionWeights a = captioning::load_feature_xception(dir.path / "a.nnck");
  CHECK(a.sha256.size() == 64);
  CHECK(a.sha256 == captioning::weights_sha256(*a.model));
  // The same model saved under another name, with other texts, and read through an equivalent path.
  fs::create_directories(dir.path / "sub");
  nn::save(dir.path / "sub" / "b.nnck", *a.model, nullptr,
           {{"model", "xception"}, nn::options_entry("xception.options", a.model->options()), {"note", "a copy"}});
  CHECK(captioning::load_feature_xception(dir.path / "sub" / ".." / "sub" / "b.nnck").sha256 == a.sha256);
  // One value changed.
  a.model->named_state()[5].second.data()[3] += 1.0f;
  CHECK(captioning::weights_sha256(*a.model) != a.sha256);
  // Other weights (another seed).
  save_small_xception(dir.path / "c.nnck", 2);
  CHECK(captioning::load_feature_xception(dir.path / "c.nnck").sha256 != a.sha256);

  CHECK(captioning::extractor_label(a.sha256, nn::ResizeFilter::nearest) ==
        "xception sha256=" + a.sha256 + " filter=nearest");
  CHECK(captioning::extractor_label(a.sha256, nn::ResizeFilter::bilinear) ==
        "xception sha256=" + a.sha256 + " filter=bilinear");
  CHECK(test::error_of([] { captioning::extractor_label("12AB", nn::ResizeFilter::nearest); }) ==
        "extractor_label: expected 64 lowercase hex digits, got '12AB'");
}

TEST_CASE("a features.extractor text that names no usable hash or filter is refused, naming the bundle") {
  test::TempDir dir;
  save_flickr8k_bundle(dir.path / "short.nnck", "xception sha256=12ab filter=nearest", "x.nnck");
  CHECK(test::error_of([&] { captioning::Describer(dir.path / "short.nnck", {.use_environment = false}); }) ==
        (dir.path / "short.nnck").string() +
            ": Xception weights' sha256: expected 64 lowercase hex digits, got '12ab'");
  save_flickr8k_bundle(dir.path / "filter.nnck", "xception random width=0.03125 seed=1 filter=cubic", "");
  CHECK(test::error_of([&] { captioning::Describer(dir.path / "filter.nnck", {.use_environment = false}); }) ==
        (dir.path / "filter.nnck").string() +
            ": features.extractor 'xception random width=0.03125 seed=1 filter=cubic': names an unknown resize filter "
            "(nearest or bilinear)");
  // A hint that is a path is not followed: only plain names are tried, and the error says none was usable.
  save_flickr8k_bundle(dir.path / "escape.nnck", "xception sha256=" + std::string(64, 'a') + " filter=nearest",
                       "../elsewhere/x.nnck");
  const std::string error =
      test::error_of([&] { captioning::Describer(dir.path / "escape.nnck", {.use_environment = false}); });
  CHECK(error.find("(sha256 aaaaaaaaaaaa…); none of the *.nnck files in " + dir.path.string() + " holds them") !=
        std::string::npos);
  // … but a file of that name in a searched folder is still a candidate like any other *.nnck file.
  fs::create_directories(dir.path / "beside");
  save_small_xception(dir.path / "beside" / "x.nnck", 1);
  const std::string sha = captioning::load_feature_xception(dir.path / "beside" / "x.nnck").sha256;
  save_flickr8k_bundle(dir.path / "beside" / "bundle.nnck", "xception sha256=" + sha + " filter=nearest",
                       "../elsewhere/x.nnck");
  CHECK(captioning::Describer(dir.path / "beside" / "bundle.nnck", {.use_environment = false}).xception_file() ==
        dir.path / "beside" / "x.nnck");
}

TEST_CASE("load_feature_xception refuses Xception with the ImageNet top, naming the no-top file") {
  test::TempDir dir;
  save_small_xception(dir.path / "top.nnck", 1, /*include_top=*/true);
  CHECK(test::error_of([&] { captioning::load_feature_xception(dir.path / "top.nnck"); }) ==
        (dir.path / "top.nnck").string() +
            ": holds Xception with the ImageNet classifier (include_top); features need the file without it: "
            "convert xception_weights_tf_dim_ordering_tf_kernels_notop.h5 (weights/download.sh notop)");
  // Without pooling its features would be maps, not vectors.
  {
    nn::Generator gen(1);
    nn::Xception maps({.pooling = nn::XceptionPooling::none, .width = 0.03125f, .middle_blocks = 1}, gen);
    nn::save_xception(dir.path / "maps.nnck", maps);
  }
  CHECK(test::error_of([&] { captioning::load_feature_xception(dir.path / "maps.nnck"); }) ==
        (dir.path / "maps.nnck").string() +
            ": holds Xception without pooling (pooling none: (N,10,10,2048) maps); features need average pooling, "
            "as convert_keras_weights writes it");
  // A caption bundle is no Xception at all.
  save_flickr8k_bundle(dir.path / "bundle.nnck", "xception random width=0.03125 seed=1 filter=nearest", "");
  CHECK(test::error_of([&] { captioning::load_feature_xception(dir.path / "bundle.nnck"); }).find("not an Xception") !=
        std::string::npos);
}

TEST_CASE("describe computes features in the precision the bundle was trained with, unless told otherwise") {
  test::TempDir dir;
  save_small_xception(dir.path / "xception_notop.nnck", 1);
  const std::string sha = captioning::load_feature_xception(dir.path / "xception_notop.nnck").sha256;
  save_flickr8k_bundle(dir.path / "bf16.nnck", captioning::extractor_label(sha, nn::ResizeFilter::nearest, nn::bf16),
                       "xception_notop.nnck");
  save_flickr8k_bundle(dir.path / "f32.nnck", captioning::extractor_label(sha, nn::ResizeFilter::nearest),
                       "xception_notop.nnck");
  CHECK(captioning::Describer(dir.path / "bf16.nnck", {.use_environment = false}).feature_precision() == nn::bf16);
  CHECK(captioning::Describer(dir.path / "f32.nnck", {.use_environment = false}).feature_precision() == nn::f32);
  CHECK(captioning::Describer(dir.path / "bf16.nnck", {.use_environment = false, .precision = nn::f32})
            .feature_precision() == nn::f32);
  CHECK(captioning::Describer(dir.path / "f32.nnck", {.use_environment = false, .precision = nn::bf16})
            .feature_precision() == nn::bf16);
  const std::string label = "xception sha256=" + sha + " precision=fp8 filter=nearest";
  save_flickr8k_bundle(dir.path / "fp8.nnck", label, "xception_notop.nnck");
  CHECK(test::error_of([&] { captioning::Describer(dir.path / "fp8.nnck", {.use_environment = false}); }) ==
        (dir.path / "fp8.nnck").string() + ": features.extractor '" + label +
            "': names an unknown precision 'fp8' (f32 or bf16)");
}

TEST_CASE("a Flickr8k bundle finds its weights by content after a move or a rename, and refuses others of that name") {
  test::TempDir dir;
  const fs::path run = dir.path / "run";
  fs::create_directories(run);
  save_small_xception(run / "xception_notop.nnck", 1);
  const std::string sha = captioning::load_feature_xception(run / "xception_notop.nnck").sha256;
  save_flickr8k_bundle(run / "flickr8k.nnck", captioning::extractor_label(sha, nn::ResizeFilter::nearest),
                       "xception_notop.nnck");
  // The reference: the same caption model over the same weights named by their path (a legacy bundle).
  save_flickr8k_bundle(dir.path / "legacy.nnck",
                       "xception " + fs::absolute(run / "xception_notop.nnck").string() + " filter=nearest", "");
  captioning::Describer legacy(dir.path / "legacy.nnck", {.use_environment = false});
  const captioning::Caption expected = legacy.describe_file(kSample).front();

  auto check_finds_with = [&](const fs::path& bundle, const captioning::DescriberOptions& options,
                              const fs::path& weights) {
    captioning::Describer d(bundle, options);
    CHECK(d.xception_file() == weights);
    CHECK(d.name() == bundle.filename().string());
    CHECK(d.describes() == "photos (Flickr8k)");
    const captioning::Caption got = d.describe_file(kSample).front();
    CHECK(got.text == expected.text);
    CHECK(got.score == doctest::Approx(expected.score).epsilon(1e-6));
  };
  auto check_finds = [&](const fs::path& bundle, const fs::path& weights) {
    check_finds_with(bundle, {.use_environment = false}, weights);
  };
  check_finds(run / "flickr8k.nnck", run / "xception_notop.nnck");

  // The folder moved: found beside the bundle again.
  const fs::path moved = dir.path / "moved elsewhere";
  fs::rename(run, moved);
  check_finds(moved / "flickr8k.nnck", moved / "xception_notop.nnck");
  // The weights renamed: found among the folder's other *.nnck files by content (the bundle itself is skipped).
  fs::rename(moved / "xception_notop.nnck", moved / "renamed.nnck");
  check_finds(moved / "flickr8k.nnck", moved / "renamed.nnck");

  // Other weights under the trained-with name: refused, naming the file, both hashes and the folders searched.
  fs::remove(moved / "renamed.nnck");
  save_small_xception(moved / "xception_notop.nnck", 2);
  const std::string other = captioning::load_feature_xception(moved / "xception_notop.nnck").sha256;
  const std::string error =
      test::error_of([&] { captioning::Describer(moved / "flickr8k.nnck", {.use_environment = false}); });
  CHECK(error == (moved / "flickr8k.nnck").string() + ": needs the Xception weights it was trained with (sha256 " +
                     sha.substr(0, 12) + "…, file xception_notop.nnck); none of the *.nnck files in " + moved.string() +
                     " holds them; " + (moved / "xception_notop.nnck").string() + " has other weights (sha256 " +
                     other.substr(0, 12) + "…)");

  // The right weights in a folder the program passes, or in LIBNN_WEIGHTS_PATH; folders searched in order.
  const fs::path shelf = dir.path / "shelf";
  fs::create_directories(shelf);
  save_small_xception(shelf / "any_name.nnck", 1);
  const fs::path absent = dir.path / "absent";
  check_finds_with(moved / "flickr8k.nnck", {.weights_search = {absent, shelf}, .use_environment = false},
                   shelf / "any_name.nnck");
  {
    SetEnv env("LIBNN_WEIGHTS_PATH", absent.string() + "::" + shelf.string());
    check_finds_with(moved / "flickr8k.nnck", {}, shelf / "any_name.nnck");
  }
  fs::remove(shelf / "any_name.nnck");
  CHECK(test::error_of([&] {
          captioning::Describer(moved / "flickr8k.nnck", {.weights_search = {absent, shelf}, .use_environment = false});
        })
            .find("none of the *.nnck files in " + moved.string() + ", " + absent.string() + " (absent) or " +
                  shelf.string() + " holds them") != std::string::npos);

  // The legacy bundle names a path, which moved: refused, naming it.
  CHECK(test::error_of([&] {
          captioning::Describer(dir.path / "legacy.nnck", {.use_environment = false});
        }).find("names Xception weights that are not there: " + fs::absolute(run / "xception_notop.nnck").string()) !=
        std::string::npos);
}
