// Image decoding, resizing and Xception preprocessing — against PIL (what keras.utils.load_img runs) on real photos,
// and every kind of bad file.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <jpeglib.h>
#include <png.h>

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

// Fills row y of an image with RGB (or grey) bytes.
using RowFn = std::function<void(int64_t y, unsigned char* row)>;

struct JpegSpec {
  int quality = 90;
  int components = 3;                 // 3: RGB (4:2:0 unless full_chroma), 1: grey
  bool full_chroma = false;           // 4:4:4
  bool progressive = false;           // libjpeg's standard progression (with successive approximation)
  std::vector<jpeg_scan_info> scans;  // a scan script of its own, when not empty
  std::string app1;                   // an APP1 marker's payload (EXIF), when not empty
};

// A JPEG written by libjpeg row by row (an 8000×8000 image never exists in memory).
std::string write_jpeg(int64_t w, int64_t h, const RowFn& fill, const JpegSpec& spec) {
  jpeg_compress_struct c;
  jpeg_error_mgr errors;
  c.err = jpeg_std_error(&errors);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = spec.components;
  c.in_color_space = spec.components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, spec.quality, TRUE);
  if (spec.full_chroma)
    for (int i = 0; i < c.num_components; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  if (spec.progressive) jpeg_simple_progression(&c);
  if (!spec.scans.empty()) {
    c.scan_info = spec.scans.data();
    c.num_scans = static_cast<int>(spec.scans.size());
  }
  jpeg_start_compress(&c, TRUE);
  if (!spec.app1.empty())
    jpeg_write_marker(&c, JPEG_APP0 + 1, reinterpret_cast<const JOCTET*>(spec.app1.data()),
                      static_cast<unsigned>(spec.app1.size()));
  std::vector<unsigned char> row(static_cast<size_t>(w * spec.components));
  while (c.next_scanline < c.image_height) {
    fill(c.next_scanline, row.data());
    JSAMPROW line = row.data();
    jpeg_write_scanlines(&c, &line, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

// An RGB PNG written by libpng row by row; Adam7-interlaced when asked.
std::string write_png(int64_t w, int64_t h, const RowFn& fill, bool interlaced, int level = 6) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::string out;
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8, PNG_COLOR_TYPE_RGB,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, level);
  png_write_info(png, info);
  const int passes = png_set_interlace_handling(png);
  std::vector<unsigned char> row(static_cast<size_t>(w * 3));
  for (int pass = 0; pass < passes; ++pass)
    for (int64_t y = 0; y < h; ++y) {
      fill(y, row.data());
      png_write_row(png, row.data());
    }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A smooth picture of any size: red across, green down, blue a diagonal wave, all scaled to the size, so that a
// 4000×4000 and an 8000×8000 copy show the same thing.
RowFn smooth(int64_t w, int64_t h) {
  return [w, h](int64_t y, unsigned char* row) {
    for (int64_t x = 0; x < w; ++x) {
      const double u = static_cast<double>(x) / w, v = static_cast<double>(y) / h;
      row[x * 3] = static_cast<unsigned char>(255 * u);
      row[x * 3 + 1] = static_cast<unsigned char>(255 * v);
      row[x * 3 + 2] = static_cast<unsigned char>(127.5 + 100 * std::sin(6.0 * (u + v)));
    }
  };
}

// The file with its last scan (SOS to EOI) repeated `times` more times: how a scan bomb is made.
std::string repeat_last_scan(const std::string& jpeg, int times) {
  const size_t sos = jpeg.rfind("\xFF\xDA");
  REQUIRE(sos != std::string::npos);
  REQUIRE(jpeg.compare(jpeg.size() - 2, 2, "\xFF\xD9") == 0);
  const std::string scan = jpeg.substr(sos, jpeg.size() - 2 - sos);
  std::string out = jpeg.substr(0, jpeg.size() - 2);
  for (int i = 0; i < times; ++i) out += scan;
  return out + "\xFF\xD9";
}

// An APP1 payload: EXIF with a big- or little-endian TIFF header and one IFD0 entry, orientation = `value`.
std::string exif_app1(int value, bool big_endian = true) {
  auto u16 = [&](unsigned v) {
    return big_endian ? std::string{char(v >> 8), char(v & 0xFF)} : std::string{char(v & 0xFF), char(v >> 8)};
  };
  auto u32 = [&](unsigned v) { return big_endian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16); };
  return std::string("Exif\0\0", 6) + (big_endian ? "MM" : "II") + u16(42) + u32(8) + u16(1) + u16(0x0112) + u16(3) +
         u32(1) + u16(static_cast<unsigned>(value)) + u16(0) + u32(0);
}

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return -1;
}

// How far `fn` raises the resident-memory peak, in MB, measured in a child process whose peak is reset first.
double peak_growth_mb(const std::function<void()>& fn) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
    const long before = status_kb("VmHWM:");
    double grown = -1;
    try {
      fn();
      grown = static_cast<double>(status_kb("VmHWM:") - before) / 1024.0;
    } catch (...) {
    }
    (void)!write(pipe_fds[1], &grown, sizeof grown);
    _exit(0);
  }
  close(pipe_fds[1]);
  double grown = -2;
  (void)!read(pipe_fds[0], &grown, sizeof grown);
  close(pipe_fds[0]);
  waitpid(child, nullptr, 0);
  return grown;
}

double seconds_of(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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

TEST_CASE("a scan bomb (a progressive JPEG repeating one scan) is refused quickly, bogus progressions too") {
  test::TempDir dir;
  const RowFn grey = [](int64_t, unsigned char* row) { std::memset(row, 90, 2048); };
  // DC, then all AC coefficients at full precision: repeating the AC scan draws no warning, only time.
  JpegSpec spec{.components = 1, .scans = {{1, {0}, 0, 0, 0, 0}, {1, {0}, 1, 63, 0, 0}}};
  const std::string base = write_jpeg(2048, 2048, grey, spec);
  write_bytes(dir.path / "ok.jpg", repeat_last_scan(base, 50));  // 52 scans: decodes
  CHECK(nn::load_image(dir.path / "ok.jpg").at({100, 100, 0}) == doctest::Approx(90).epsilon(0.02));
  write_bytes(dir.path / "bomb.jpg", repeat_last_scan(base, 20000));
  std::string message;
  const double seconds = seconds_of([&] { message = test::error_of([&] { nn::load_image(dir.path / "bomb.jpg"); }); });
  CHECK(message == (dir.path / "bomb.jpg").string() +
                       ": is refused: more than 100 progressive scans (an ordinary progressive JPEG has about 10; "
                       "repeating scans keeps a decoder busy for minutes)");
#if defined(__SANITIZE_ADDRESS__)
  CHECK(seconds < 10.0);  // the sanitizer build decodes several times slower
#else
  CHECK(seconds < 2.0);
#endif
  // The limit is an option.
  CHECK(test::error_of([&] {
          nn::load_image(dir.path / "ok.jpg", {.max_scans = 20});
        }).find("more than 20 progressive") != std::string::npos);
  // A refinement scan repeated: libjpeg warns "Inconsistent progression sequence" for each coefficient, and past
  // max_warnings the file is refused.
  const RowFn rgb = smooth(256, 256);
  const std::string progressive = write_jpeg(256, 256, rgb, {.progressive = true});
  write_bytes(dir.path / "progressive.jpg", progressive);
  CHECK(nn::load_image(dir.path / "progressive.jpg").shape() == nn::Shape{256, 256, 3});  // no warning: decodes
  write_bytes(dir.path / "bogus.jpg", repeat_last_scan(progressive, 10));
  const std::string bogus = test::error_of([&] { nn::load_image(dir.path / "bogus.jpg"); });
  CHECK(bogus.rfind((dir.path / "bogus.jpg").string() +
                        ": cannot be decoded (more than 100 corrupt-data warnings; the last: Inconsistent progression "
                        "sequence for component 0 coefficient ",
                    0) == 0);
}

TEST_CASE("time and memory budgets: the decoder gives up at the deadline, and libjpeg's memory is capped") {
  test::TempDir dir;
  write_bytes(dir.path / "a.jpg", write_jpeg(512, 512, smooth(512, 512), {}));
  write_bytes(dir.path / "a.png", write_png(512, 512, smooth(512, 512), false));
  for (const char* name : {"a.jpg", "a.png"})
    CHECK(test::error_of([&] { nn::load_image(dir.path / name, {.max_seconds = 1e-9}); }) ==
          (dir.path / name).string() + ": is refused: not decoded within 1e-09 s (the time budget per image)");
  // A progressive JPEG keeps every coefficient in memory (2 MB here): with a 1 MB budget it is refused.
  write_bytes(dir.path / "p.jpg", write_jpeg(1024, 1024, smooth(1024, 1024), {.progressive = true}));
  CHECK(test::error_of([&] { nn::load_image(dir.path / "p.jpg", {.max_memory = 1 << 20}); }) ==
        (dir.path / "p.jpg").string() +
            ": cannot be decoded within 1 MB of memory (a progressive JPEG keeps all its coefficients: this one needs "
            "more)");
  CHECK(nn::load_image(dir.path / "p.jpg").shape() == nn::Shape{1024, 1024, 3});
}

TEST_CASE("reduced decoding: sizes chosen from the target, PNG boxes averaged exactly, interlaced PNGs alike") {
  test::TempDir dir;
  // JPEG: the most reduction (M/8) that keeps both sides ≥ min_side; none below about 8/7 of it.
  write_bytes(dir.path / "a.jpg", write_jpeg(1200, 900, smooth(1200, 900), {}));
  CHECK(nn::load_image(dir.path / "a.jpg", {.min_side = 598}).shape() == nn::Shape{675, 900, 3});  // 6/8
  CHECK(nn::load_image(dir.path / "a.jpg", {.min_side = 100}).shape() == nn::Shape{113, 150, 3});  // 1/8
  CHECK(nn::load_image(dir.path / "a.jpg", {.min_side = 800}).shape() == nn::Shape{900, 1200, 3});
  CHECK(nn::load_image(dir.path / "a.jpg", {.max_decoded_pixels = 300'000}).shape() == nn::Shape{450, 600, 3});
  // PNG: every output pixel is the rounded mean of its f×f box (smaller at the right and bottom edges).
  const int64_t w = 37, h = 23;
  const RowFn noise = [](int64_t y, unsigned char* row) {
    for (int64_t i = 0; i < w * 3; ++i) row[i] = static_cast<unsigned char>((y * 131 + i * 71 + (i * y) % 17) % 256);
  };
  std::vector<unsigned char> truth(w * h * 3);
  for (int64_t y = 0; y < h; ++y) noise(y, truth.data() + y * w * 3);
  for (bool interlaced : {false, true}) {
    INFO("interlaced " << interlaced);
    write_bytes(dir.path / "n.png", write_png(w, h, noise, interlaced));
    Tensor full = nn::load_image(dir.path / "n.png");
    CHECK(full.to_vector() == std::vector<float>(truth.begin(), truth.end()));
    Tensor boxed = nn::load_image(dir.path / "n.png", {.min_side = 8});  // f = 3: 13×8
    REQUIRE(boxed.shape() == nn::Shape{8, 13, 3});
    int wrong = 0;
    for (int64_t oy = 0; oy < 8; ++oy)
      for (int64_t ox = 0; ox < 13; ++ox)
        for (int c = 0; c < 3; ++c) {
          double sum = 0, n = 0;
          for (int64_t y = oy * 3; y < std::min(h, oy * 3 + 3); ++y)
            for (int64_t x = ox * 3; x < std::min(w, ox * 3 + 3); ++x) sum += truth[(y * w + x) * 3 + c], ++n;
          wrong += boxed.at({oy, ox, c}) != std::floor(sum / n + 0.5);
        }
    CHECK(wrong == 0);
  }
  for (int64_t side : {1, 2, 3, 5, 9}) {  // Adam7 passes left empty by tiny images
    const RowFn tiny = [side](int64_t y, unsigned char* row) {
      for (int64_t i = 0; i < side * 3; ++i) row[i] = static_cast<unsigned char>(y * 40 + i * 3);
    };
    write_bytes(dir.path / "i.png", write_png(side, side, tiny, true));
    write_bytes(dir.path / "s.png", write_png(side, side, tiny, false));
    CHECK(nn::load_image(dir.path / "i.png").to_vector() == nn::load_image(dir.path / "s.png").to_vector());
  }
}

TEST_CASE("an 8000×8000 JPEG and PNG decode for Xception in bounded memory, like a 4000×4000 copy") {
  test::TempDir dir;
  auto file = [&](int64_t side, const std::string& kind) {
    return dir.path / (std::string("p") + std::to_string(side) + "." + kind);
  };
  for (int64_t side : {8000, 4000}) {
    write_bytes(file(side, "jpg"), write_jpeg(side, side, smooth(side, side), {}));
    write_bytes(file(side, "png"), write_png(side, side, smooth(side, side), false, 1));
  }
  // Measured before this process decodes anything big (freed memory it keeps would hide a child's growth).
  CHECK(peak_growth_mb([] { std::vector<char> touched(100 << 20, 1); }) > 90);  // the measurement sees 100 MB
  for (const std::string kind : {"jpg", "png"}) {
    const double grown = peak_growth_mb([&] { nn::load_xception_input(file(8000, kind)); });
    MESSAGE(kind << ": 8000×8000 to the model's input raised the peak resident memory by " << grown << " MB");
    CHECK(grown >= 0);
    CHECK(grown < 64);  // unreduced it was 960 MB: 192 MB of bytes, then 768 MB of floats
  }
  for (const std::string kind : {"jpg", "png"}) {
    INFO(kind);
    // The same picture at half the size gives the model nearly the same input (both decode to 1000×1000).
    auto [worst, mean] =
        difference(nn::load_xception_input(file(8000, kind)), nn::load_xception_input(file(4000, kind)));
    CHECK(worst < 0.1);  // in [−1, 1]: 6 levels of 255
    CHECK(mean < 0.01);
  }
}

TEST_CASE("EXIF orientation: 3, 6 and 8 give the upright picture, keep_orientation the stored one") {
  test::TempDir dir;
  // 4×3 blocks of 16×16 flat colours, each block its own colour: at quality 100 without chroma subsampling a flat
  // block decodes the same wherever it sits, so turned files must decode to exactly the turned pixels.
  const int64_t W = 64, H = 48;
  auto colour = [](int64_t x, int64_t y, int c) {
    return static_cast<unsigned char>((x / 16 * 60 + y / 16 * 25 + c * 90) % 256);
  };
  auto image = [&](int64_t w, std::function<std::pair<int64_t, int64_t>(int64_t, int64_t)> upright_of) {
    return RowFn([=](int64_t y, unsigned char* row) {
      for (int64_t x = 0; x < w; ++x) {
        auto [ux, uy] = upright_of(x, y);
        for (int c = 0; c < 3; ++c) row[x * 3 + c] = colour(ux, uy, c);
      }
    });
  };
  const JpegSpec exact{.quality = 100, .full_chroma = true};
  write_bytes(dir.path / "upright.jpg", write_jpeg(W, H,
                                                   image(W,
                                                         [](int64_t x, int64_t y) {
                                                           return std::pair{x, y};
                                                         }),
                                                   exact));
  const Tensor upright = nn::load_image(dir.path / "upright.jpg");
  // The stored pixels, from the tag's definition (EXIF 2.3, table 6): 3 — row 0 is the visual bottom, column 0 the
  // visual right; 6 — row 0 is the visual right side, column 0 the visual top; 8 — row 0 is the visual left side,
  // column 0 the visual bottom.
  struct Case {
    int orientation;
    int64_t w, h;
    std::function<std::pair<int64_t, int64_t>(int64_t, int64_t)> upright_of;  // stored (x, y) → upright (x, y)
  };
  const std::vector<Case> cases = {
      {3, W, H,
       [&](int64_t x, int64_t y) {
         return std::pair{W - 1 - x, H - 1 - y};
       }},
      {6, H, W,
       [&](int64_t x, int64_t y) {
         return std::pair{W - 1 - y, x};
       }},
      {8, H, W,
       [&](int64_t x, int64_t y) {
         return std::pair{y, H - 1 - x};
       }},
  };
  for (const Case& c : cases) {
    for (bool big_endian : {true, false}) {
      INFO("orientation " << c.orientation << (big_endian ? " MM" : " II"));
      JpegSpec tagged = exact;
      tagged.app1 = exif_app1(c.orientation, big_endian);
      write_bytes(dir.path / "turned.jpg", write_jpeg(c.w, c.h, image(c.w, c.upright_of), tagged));
      write_bytes(dir.path / "stored.jpg", write_jpeg(c.w, c.h, image(c.w, c.upright_of), exact));
      const Tensor turned = nn::load_image(dir.path / "turned.jpg");
      REQUIRE(turned.shape() == upright.shape());
      CHECK(difference(turned, upright).first == 0);
      const Tensor kept = nn::load_image(dir.path / "turned.jpg", {.keep_orientation = true});
      CHECK(kept.shape() == nn::Shape{c.h, c.w, 3});
      CHECK(kept.to_vector() == nn::load_image(dir.path / "stored.jpg").to_vector());
    }
  }
  // Malformed EXIF is ignored: the stored pixels, no crash, no error.
  const std::string good = exif_app1(6);
  const std::vector<std::string> broken = {
      good.substr(0, 10),                                                         // cut inside the TIFF header
      good.substr(0, 20),                                                         // cut inside the entry
      good.substr(0, 10) + std::string("\xFF\xFF\xFF\xF0", 4) + good.substr(14),  // IFD offset past the end
      good.substr(0, 14) + std::string("\xFF\xFF\x01\x00", 4) + good.substr(18),  // 65535 entries claimed
      good.substr(0, 6) + "XX" + good.substr(8),                                  // no byte order
      exif_app1(9),
      exif_app1(0),                // no such orientation
      std::string("Exif\0\0", 6),  // nothing after the name
  };
  write_bytes(dir.path / "plain.jpg", write_jpeg(W, H,
                                                 image(W,
                                                       [](int64_t x, int64_t y) {
                                                         return std::pair{x, y};
                                                       }),
                                                 exact));
  for (size_t i = 0; i < broken.size(); ++i) {
    INFO("broken EXIF " << i);
    JpegSpec tagged = exact;
    tagged.app1 = broken[i];
    write_bytes(dir.path / "broken.jpg", write_jpeg(W, H,
                                                    image(W,
                                                          [](int64_t x, int64_t y) {
                                                            return std::pair{x, y};
                                                          }),
                                                    tagged));
    CHECK(nn::load_image(dir.path / "broken.jpg").to_vector() == upright.to_vector());
  }
}
