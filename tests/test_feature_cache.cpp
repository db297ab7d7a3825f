// The feature cache: records survive reopening, a torn tail is cut, extraction resumes and lists unreadable images.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <captioning/feature_cache.h>

#include "support/check.h"
#include "support/files.h"
#include "support/shared_data.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// A cache of `n` records "img0" … with 4 values each (record i holds i, i, i, i); returns the file's bytes.
std::string make_cache(const fs::path& file, int n) {
  captioning::FeatureCache cache(file, 4, "test extractor");
  for (int i = 0; i < n; ++i) cache.append({{"img" + std::to_string(i), Tensor::full({4}, static_cast<float>(i))}});
  return read_all(file);
}

// Where record `id` begins (its mark).
size_t record_at(const std::string& bytes, const std::string& id) {
  const size_t at = bytes.find(std::string("\x04\x00\x00\x00", 4) + id);
  REQUIRE(at != std::string::npos);
  return at - 8;
}

}  // namespace

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
  CHECK(cache.incomplete_tail_on_open());
  CHECK(cache.repairs() ==
        std::vector<std::string>{
            "an incomplete last record (from an interrupted run) was dropped; it is computed again"});
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
  CHECK(damaged.size() == 2);  // "b" failed its checksum; "a" before it and "c" after it are kept
  CHECK_FALSE(damaged.contains("b"));
  CHECK(damaged.get("c").to_vector() == std::vector<float>{7, 8, 9});
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

TEST_CASE("a damaged record in the middle is dropped alone, named, and the file rewritten without it") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  const std::string intact = make_cache(file, 9);
  const size_t middle = record_at(intact, "img4");

  SUBCASE("four flipped bytes in its values") {
    std::string bytes = intact;
    for (size_t k = 0; k < 4; ++k) bytes[middle + 8 + 4 + 4 + 3 + k] ^= 0x5A;
    write_all(file, bytes);
  }
  SUBCASE("its id length field") {  // the record's length is what is wrong: resynchronised at the next mark
    std::string bytes = intact;
    bytes[middle + 8 + 1] = '\x7f';
    write_all(file, bytes);
  }
  SUBCASE("its mark") {
    std::string bytes = intact;
    bytes[middle + 2] = 'X';
    write_all(file, bytes);
  }
  captioning::FeatureCache cache(file, 4, "test extractor");
  CHECK(cache.size() == 8);
  CHECK_FALSE(cache.contains("img4"));
  for (int i : {0, 3, 5, 8}) CHECK(cache.get("img" + std::to_string(i)).to_vector() == std::vector<float>(4, i));
  CHECK(cache.damaged_on_open() == 1);
  CHECK_FALSE(cache.incomplete_tail_on_open());
  CHECK(cache.repairs() == std::vector<std::string>{"1 damaged record was dropped (image 'img4'), the 8 intact ones "
                                                    "kept; it is computed again"});
  // Rewritten without it: reopening finds nothing to repair, and new records follow.
  CHECK(fs::file_size(file) == intact.size() - (intact.size() - 20 - 14) / 9);
  cache.append({{"img4", Tensor::full({4}, 4.0f)}});
  captioning::FeatureCache again(file, 4, "test extractor");
  CHECK(again.repairs().empty());
  CHECK(again.size() == 9);
  CHECK(again.get("img4").to_vector() == std::vector<float>(4, 4.0f));
}

TEST_CASE("several damaged records are counted and named; a torn tail after them is still an incomplete record") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  std::string bytes = make_cache(file, 6);
  bytes[record_at(bytes, "img1") + 20] ^= 1;
  const size_t img2 = record_at(bytes, "img2");
  bytes[img2 + 8] = '\0';          // id length 0: unreadable
  bytes[img2 + 8 + 4] = '\x01';    // and the id itself damaged: it is named as it stands, escaped
  bytes.resize(bytes.size() - 5);  // img5 torn
  write_all(file, bytes);
  captioning::FeatureCache cache(file, 4, "test extractor");
  CHECK(cache.size() == 3);
  CHECK(cache.repairs() ==
        std::vector<std::string>{
            "2 damaged records were dropped (images 'img1' and '\\x01mg2'), the 3 intact ones kept; they are computed "
            "again",
            "an incomplete last record (from an interrupted run) was dropped; it is computed again"});
}

TEST_CASE("a version-1 cache is read and rewritten as version 2") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  // Version 1: the same header, records without marks.
  std::string v1("\x89NNFEAT\n", 8);
  auto put = [&](uint32_t v) { v1.append(reinterpret_cast<const char*>(&v), 4); };
  put(1);
  put(2);
  put(4);
  v1 += "ext1";
  for (const char* id : {"a", "b"}) {
    std::string record;
    uint32_t size = 1;
    record.append(reinterpret_cast<const char*>(&size), 4);
    record += id;
    const float values[2] = {id[0] == 'a' ? 1.0f : 2.0f, 0.5f};
    record.append(reinterpret_cast<const char*>(values), 8);
    const uint32_t crc = nn::crc32(record.data(), record.size());
    record.append(reinterpret_cast<const char*>(&crc), 4);
    v1 += record;
  }
  write_all(file, v1);
  {
    captioning::FeatureCache cache(file, 2, "ext1");
    CHECK(cache.size() == 2);
    CHECK(cache.repairs().empty());
    CHECK(cache.get("b").to_vector() == std::vector<float>{2.0f, 0.5f});
  }
  CHECK(read_all(file)[8] == 2);  // now version 2
  CHECK(fs::file_size(file) == v1.size() + 2 * 8);
  write_all(file, v1.substr(0, v1.size() - 17) + std::string(17, '\x55'));  // a damaged last record of version 1
  captioning::FeatureCache damaged(file, 2, "ext1");
  CHECK(damaged.size() == 1);
  CHECK(damaged.repairs() ==
        std::vector<std::string>{"the cache (version 1, records without marks) is damaged at byte 41: the 17 bytes "
                                 "from there on were dropped and the 1 records before it kept; the images dropped "
                                 "are computed again"});
}

TEST_CASE("after a damaged record, extraction recomputes that image alone") {
  const fs::path photos = test::test_photos();
  test::TempDir dir;
  nn::Generator gen(1);
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 1}, gen);
  const std::vector<std::pair<std::string, fs::path>> images{
      {"chelsea", photos / "chelsea.png"}, {"coffee", photos / "coffee.png"}, {"camera", photos / "camera.png"}};
  const fs::path file = dir.path / "f.bin";
  {
    captioning::FeatureCache cache(file, model.feature_channels(), "xception w/32");
    captioning::extract_features(cache, model, images, {.chunk = 1, .progress = false});
  }
  std::string bytes = read_all(file);
  const size_t coffee = bytes.find("coffee");
  REQUIRE(coffee != std::string::npos);
  for (size_t k = 100; k < 104; ++k) bytes[coffee + k] ^= 0x0F;
  write_all(file, bytes);
  captioning::FeatureCache reopened(file, model.feature_channels(), "xception w/32");
  CHECK(reopened.repairs() == std::vector<std::string>{"1 damaged record was dropped (image 'coffee'), the 2 intact "
                                                       "ones kept; it is computed again"});
  captioning::ExtractReport report = captioning::extract_features(reopened, model, images, {.progress = false});
  CHECK(report.computed == 1);
  CHECK(report.already_cached == 2);
  CHECK(reopened.contains("coffee"));
}

TEST_CASE("a cache path the system refuses is an nn::Error naming it, not a std::filesystem error") {
  test::TempDir dir;
  const fs::path long_name = dir.path / std::string(300, 'x');  // longer than any file name may be
  CHECK(test::error_of([&] { captioning::FeatureCache(long_name, 4, "e"); }) ==
        long_name.string() + ": cannot write: File name too long");
}

TEST_CASE("a cache under an older label of the same extractor is relabelled in place; another label is refused") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  make_cache(file, 3);  // labelled "test extractor"
  // The predicate sees the records before anything is rewritten: refusing after a look at one (as train_flickr8k
  // does when the weights at the old path are not the ones that made the features) leaves the file as it was.
  std::vector<float> seen;
  CHECK(test::error_of([&] {
          captioning::FeatureCache(file, 4, "new label", [&](const std::string&, const captioning::FeatureCache& c) {
            seen = c.get("img2").to_vector();
            return false;
          });
        }) == file.string() +
                  ": expected features of 4 values from 'new label', got 4 values from 'test extractor' "
                  "(delete it to recompute)");
  CHECK(seen == std::vector<float>{2, 2, 2, 2});
  CHECK(read_all(file).find("test extractor") != std::string::npos);
  {
    captioning::FeatureCache cache(file, 4, "new label", [](const std::string& old, const captioning::FeatureCache&) {
      return old == "test extractor";
    });
    CHECK(cache.relabelled_from() == "test extractor");
    CHECK(cache.size() == 3);
    CHECK(cache.get("img2").to_vector() == std::vector<float>{2, 2, 2, 2});
  }
  // The file itself carries the new label now: opened without any alias, nothing is relabelled or lost.
  captioning::FeatureCache again(file, 4, "new label");
  CHECK(again.relabelled_from().empty());
  CHECK(again.size() == 3);
  CHECK(read_all(file).find("test extractor") == std::string::npos);
  // A label the predicate does not accept is still refused, naming both.
  CHECK(test::error_of([&] {
          captioning::FeatureCache(file, 4, "other", [](const std::string& old, const captioning::FeatureCache&) {
            return old == "test extractor";
          });
        }) == file.string() +
                  ": expected features of 4 values from 'other', got 4 values from 'new label' "
                  "(delete it to recompute)");
}

TEST_CASE("a stop request during extraction keeps every saved batch; the next run computes only the rest") {
  const fs::path photos = test::test_photos();
  test::TempDir dir;
  nn::Generator gen(1);
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 1}, gen);
  const std::vector<std::pair<std::string, fs::path>> images{{"a", photos / "chelsea.png"},
                                                             {"b", photos / "coffee.png"},
                                                             {"c", photos / "camera.png"},
                                                             {"d", photos / "chelsea.png"},
                                                             {"e", photos / "coffee.png"}};
  int asked = 0;
  {
    captioning::FeatureCache cache(dir.path / "f.bin", model.feature_channels(), "xception w/32");
    // Asked after each saved batch of 2: the first answer stops it, with one batch (2 images) on disk.
    captioning::ExtractReport stopped = captioning::extract_features(
        cache, model, images, {.chunk = 2, .progress = false, .stop = [&] { return ++asked >= 1; }});
    CHECK(stopped.stopped);
    CHECK(asked == 1);
    CHECK(stopped.computed == 2);
  }
  captioning::FeatureCache reopened(dir.path / "f.bin", model.feature_channels(), "xception w/32");
  CHECK(reopened.size() == 2);
  CHECK(reopened.repairs().empty());  // stopped between batches: nothing torn
  CHECK((reopened.contains("a") && reopened.contains("b")));
  // Not stopped after the last batch (nothing is left to stop): 3 images in batches of 2 and 1, asked once between.
  asked = 0;
  captioning::ExtractReport rest = captioning::extract_features(
      reopened, model, images, {.chunk = 2, .progress = false, .stop = [&] { return ++asked > 5; }});
  CHECK_FALSE(rest.stopped);
  CHECK(asked == 1);
  CHECK(rest.already_cached == 2);
  CHECK(rest.computed == 3);
  CHECK(reopened.size() == 5);
}

TEST_CASE("features are read from the file when asked: a record changed since opening is an error, not wrong values") {
  test::TempDir dir;
  const fs::path file = dir.path / "features.bin";
  make_cache(file, 3);
  captioning::FeatureCache cache(file, 4, "test extractor");
  cache.append({{"new", Tensor::from_data({4}, {5, 6, 7, 8})}});  // found at the offset append recorded
  CHECK(cache.get("new").to_vector() == std::vector<float>{5, 6, 7, 8});
  CHECK(cache.get("img1").to_vector() == std::vector<float>{1, 1, 1, 1});
  std::string bytes = read_all(file);
  bytes[record_at(bytes, "img1") + 8 + 4 + 4] ^= 0x40;  // a bit of img1's first value
  write_all(file, bytes);
  CHECK(test::error_of([&] { cache.get("img1"); }) ==
        file.string() + ": changed since it was opened: the record of image 'img1' is not there whole");
  CHECK(cache.get("img2").to_vector() == std::vector<float>{2, 2, 2, 2});  // the others are still read
}
