// The feature cache: records survive reopening, a torn tail is cut, extraction resumes and lists unreadable images.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <captioning/feature_cache.h>

#include "support/check.h"
#include "support/files.h"
#include "support/shared_data.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {}  // namespace

TEST_CASE("feature records survive reopening; a torn last record is cut and appending goes on") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  {
    captioning::FeatureCache cache(file, 3, "test extractor");
    cache.append({{"a", Tensor::from_data({3}, {1, 2, 3})}, {"b", Tensor::from_data({1, 3}, {4, 5, 6})}});
  }
  const auto complete = fs::file_size(file);
  {
    // An append interrupted half-way: part of a record at the end.
    std::ofstream(file, std::ios::binary | std::ios::app)
        .write(
            "\x01\x00\x00\x00"
            "c\x00\x00",
            7);
  }
  captioning::FeatureCache cache(file, 3, "test extractor");
  CHECK(cache.size() == 2);
  CHECK(cache.dropped_on_open() == 1);
  CHECK(fs::file_size(file) == complete);
  CHECK(cache.get("b").to_vector() == std::vector<float>{4, 5, 6});
  cache.append({{"c", Tensor::from_data({3}, {7, 8, 9})}});
  captioning::FeatureCache again(file, 3, "test extractor");
  CHECK(again.size() == 3);
  CHECK(again.get("c").to_vector() == std::vector<float>{7, 8, 9});
  CHECK(test::error_of([&] { again.get("zzz"); }) == file.string() + ": has no features for image 'zzz'");
  CHECK(test::error_of([&] { captioning::FeatureCache(file, 4, "test extractor"); }) ==
        file.string() +
            ": expected features of 4 values from 'test extractor', got 3 values from 'test extractor' "
            "(delete it to recompute)");
  // A flipped byte inside a record ends the good part there.
  {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(complete) - 3);
    f.put('\x7f');
  }
  captioning::FeatureCache damaged(file, 3, "test extractor");
  CHECK(damaged.size() == 1);  // "a" is intact; "b" failed its checksum and "c" came after it
}

TEST_CASE("extraction computes each image once, resumes, and lists unreadable images (or stops when strict)") {
  const fs::path photos = test::test_photos();
  test::TempDir dir;
  std::ofstream(dir.path / "broken.jpg") << "not an image";
  nn::Generator gen(1);
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 1}, gen);
  captioning::FeatureCache cache(dir.path / "f.bin", model.feature_channels(), "xception w/32");
  std::vector<std::pair<std::string, fs::path>> images{
      {"chelsea", photos / "chelsea.png"}, {"coffee", photos / "coffee.png"}, {"broken", dir.path / "broken.jpg"}};
  captioning::ExtractReport first = captioning::extract_features(cache, model, images, {.chunk = 1, .progress = false});
  CHECK(first.computed == 2);
  REQUIRE(first.unreadable.size() == 1);
  CHECK(first.unreadable[0] ==
        (dir.path / "broken.jpg").string() + ": is not a JPEG or PNG image (unknown image type)");
  images.emplace_back("camera", photos / "camera.png");
  captioning::FeatureCache reopened(dir.path / "f.bin", model.feature_channels(), "xception w/32");
  captioning::ExtractReport second = captioning::extract_features(reopened, model, images, {.progress = false});
  CHECK(second.already_cached == 2);
  CHECK(second.computed == 1);
  // The cached features are the model's own.
  nn::NoGradGuard no_grad;
  model.eval();
  test::check_close(reopened.get("coffee"), model.forward(nn::load_xception_input(photos / "coffee.png")), 1e-5, 1e-6,
                    "cached features");
  CHECK(test::error_of([&] {
          captioning::extract_features(reopened, model, images, {.strict = true, .progress = false});
        }) == (dir.path / "broken.jpg").string() + ": is not a JPEG or PNG image (unknown image type)");
}
