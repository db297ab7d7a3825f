// Image decoding, resizing and Xception preprocessing — against PIL (what keras.utils.load_img runs) on real photos,
// and every kind of bad file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "support/check.h"
#include "support/files.h"
#include "support/fixtures.h"
#include "support/shared_data.h"

using nn::Tensor;
namespace fs = std::filesystem;

namespace {

const fs::path kPhotos = test::test_photos();

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Every 13th row and column of an (H,W,3) image, as make_image_fixtures.py samples.
Tensor sampled(const Tensor& image) {
  int64_t h = (image.dim(0) + 12) / 13, w = (image.dim(1) + 12) / 13;
  Tensor out = Tensor::empty({h, w, 3});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) out.data()[(y * w + x) * 3 + c] = image.at({y * 13, x * 13, c});
  return out;
}

// Largest and mean absolute difference.
std::pair<double, double> difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0, total = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double d = std::fabs(a.data()[i] - b.data()[i]);
    worst = std::max(worst, d);
    total += d;
  }
  return {worst, total / a.numel()};
}

}  // namespace

TEST_CASE("PNG decoding: RGB, grey (replicated) and alpha (dropped), as PIL's convert(\"RGB\")") {
  test::TempDir dir;
  const unsigned char grey[4] = {0, 85, 170, 255};
  const unsigned char grey_alpha[8] = {10, 0, 20, 50, 30, 100, 40, 255};
  const unsigned char rgba[16] = {1, 2, 3, 0, 4, 5, 6, 50, 7, 8, 9, 100, 10, 11, 12, 255};
  REQUIRE(stbi_write_png((dir.path / "g.png").c_str(), 2, 2, 1, grey, 2));
  REQUIRE(stbi_write_png((dir.path / "ga.png").c_str(), 2, 2, 2, grey_alpha, 4));
  REQUIRE(stbi_write_png((dir.path / "rgba.png").c_str(), 2, 2, 4, rgba, 8));
  CHECK(nn::load_image(dir.path / "g.png").to_vector() ==
        std::vector<float>{0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255});
  CHECK(nn::load_image(dir.path / "ga.png").to_vector() ==
        std::vector<float>{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40});
  CHECK(nn::load_image(dir.path / "rgba.png").to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(nn::load_image(dir.path / "rgba.png").shape() == nn::Shape{2, 2, 3});
}

TEST_CASE("decoding and resizing real photos agree with PIL (Keras's loader)") {
  test::Fixture f("images.txt");
  for (const char* name : {"chelsea", "rocket", "camera", "astronaut"}) {  // 512→299 hits PIL's rounding
    INFO("photo " << name);
    fs::path file = kPhotos / (std::string(name) + (std::string(name) == "rocket" ? ".jpg" : ".png"));
    Tensor image = nn::load_image(file);
    auto [decode_max, decode_mean] = difference(sampled(image), f[std::string(name) + "_decoded"]);
    // PNG is lossless, and JPEG is decoded by the same libjpeg-turbo (2.1.5) as Debian's PIL: identical pixels.
    CHECK(decode_max == 0);
    auto [nearest_max, nearest_mean] = difference(sampled(nn::resize_image(image, 299, 299, nn::ResizeFilter::nearest)),
                                                  f[std::string(name) + "_nearest"]);
    CHECK(nearest_max == 0);  // the same source pixels, exactly
    auto [bilinear_max, bilinear_mean] = difference(
        sampled(nn::resize_image(image, 299, 299, nn::ResizeFilter::bilinear)), f[std::string(name) + "_bilinear"]);
    CHECK(bilinear_max <= 1.0);  // PIL rounds to 8 bits between its two passes
    CHECK(bilinear_mean < 1.5);
  }
}

TEST_CASE("nearest resizing picks PIL's source pixels; preprocessing maps [0, 255] to [−1, 1]") {
  Tensor image = Tensor::empty({4, 4, 1});
  for (int i = 0; i < 16; ++i) image.data()[i] = static_cast<float>(i);
  CHECK(nn::resize_image(image, 2, 2, nn::ResizeFilter::nearest).to_vector() == std::vector<float>{5, 7, 13, 15});
  CHECK(nn::resize_image(nn::resize_image(image, 2, 2, nn::ResizeFilter::nearest), 4, 4, nn::ResizeFilter::nearest)
            .to_vector() == std::vector<float>{5, 5, 7, 7, 5, 5, 7, 7, 13, 13, 15, 15, 13, 13, 15, 15});
  Tensor flat = Tensor::full({5, 7, 3}, 42.0f);
  for (float v : nn::resize_image(flat, 3, 2, nn::ResizeFilter::bilinear).to_vector()) CHECK(v == doctest::Approx(42));
  CHECK(nn::xception_preprocess(Tensor::from_data({1, 1, 3}, {0, 127.5f, 255})).to_vector() ==
        std::vector<float>{-1, 0, 1});
}

TEST_CASE("bad image files give clear errors naming the file, and absurd sizes are refused before decoding") {
  test::TempDir dir;
  const std::string p = (dir.path / "x.jpg").string();
  write_bytes(dir.path / "x.jpg", "this is a text file, not a photo\n");
  CHECK(test::error_of([&] { nn::load_image(p); }) == p + ": is not a JPEG or PNG image (unknown image type)");
  write_bytes(dir.path / "x.jpg", "");
  CHECK(test::error_of([&] { nn::load_image(p); }) == p + ": is empty, not an image");
  CHECK(test::error_of([&] { nn::load_image(dir.path / "none.png"); }) ==
        (dir.path / "none.png").string() + ": cannot open: No such file or directory");
  CHECK(test::error_of([&] { nn::load_image(dir.path); }) == dir.path.string() + ": is a directory, not an image");

  // A PNG whose header claims 100000 × 100000 pixels (40 GB of floats): refused from the header alone.
  unsigned char tiny[3] = {1, 2, 3};
  REQUIRE(stbi_write_png((dir.path / "big.png").c_str(), 1, 1, 3, tiny, 3));
  std::string png = read_bytes(dir.path / "big.png");
  const unsigned char side[4] = {0x00, 0x01, 0x86, 0xA0};  // 100000, big-endian
  png.replace(16, 4, reinterpret_cast<const char*>(side), 4);
  png.replace(20, 4, reinterpret_cast<const char*>(side), 4);
  write_bytes(dir.path / "big.png", png);
  CHECK(test::error_of([&] { nn::load_image(dir.path / "big.png"); }) ==
        (dir.path / "big.png").string() +
            ": expected an image of at most 16384 pixels a side and 64000000 pixels, got 100000×100000 in its header");

  // A JPEG cut short in its header cannot be decoded.
  std::vector<unsigned char> pixels(64 * 64 * 3, 128);
  REQUIRE(stbi_write_jpg((dir.path / "cut.jpg").c_str(), 64, 64, 3, pixels.data(), 90));
  std::string jpeg = read_bytes(dir.path / "cut.jpg");
  write_bytes(dir.path / "cut.jpg", jpeg.substr(0, 120));
  std::string message = test::error_of([&] { nn::load_image(dir.path / "cut.jpg"); });
  CHECK(message.rfind((dir.path / "cut.jpg").string() + ": ", 0) == 0);
  CHECK(message != "no error");

  // A JPEG whose Huffman table claims more than 256 codes (stb_image 2.27 overran its tables on it; found by fuzzing).
  std::string huffman = jpeg;
  const size_t dht = huffman.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  huffman[dht + 5] = static_cast<char>(0xFF);  // the first of the table's 16 code counts
  huffman[dht + 6] = static_cast<char>(0xFF);
  write_bytes(dir.path / "dht.jpg", huffman);
  CHECK(test::error_of([&] { nn::load_image(dir.path / "dht.jpg"); }) ==
        (dir.path / "dht.jpg").string() + ": cannot be decoded (Bogus Huffman table definition)");
  // A PNG chunk claiming far more bytes than the file holds is refused before anything is reserved for it.
  REQUIRE(stbi_write_png((dir.path / "small.png").c_str(), 1, 1, 3, tiny, 3));
  std::string chunk = read_bytes(dir.path / "small.png");
  chunk.replace(8 + 25, 4, std::string("\x40\x00\x00\x23", 4));  // the chunk after IHDR now claims 1 GB
  write_bytes(dir.path / "chunk.png", chunk);
  CHECK(test::error_of([&] { nn::load_image(dir.path / "chunk.png"); }) ==
        (dir.path / "chunk.png").string() + ": cannot be decoded (corrupt PNG: a chunk is longer than the file)");
  // Formats other than JPEG and PNG never reach a decoder.
  write_bytes(dir.path / "x.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  CHECK(test::error_of([&] { nn::load_image(dir.path / "x.gif"); }) ==
        (dir.path / "x.gif").string() + ": is not a JPEG or PNG image (unknown image type)");
}
