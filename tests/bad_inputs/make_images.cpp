// Writes the big-image inputs of tests/bad_inputs/run.sh, which holds them gzipped (they compress ~1000:1):
//   g++ -O2 -std=c++20 tests/bad_inputs/make_images.cpp -ljpeg -lpng -o /tmp/make_images && /tmp/make_images DIR
//   gzip -9n DIR/*.jpg DIR/*.png
//   big_8000.jpg   8000×8000 baseline JPEG of one colour
//   big_8000.png   8000×8000 RGB PNG of one colour (decoded whole: 192 MB of bytes, 768 MB as floats)
//   scan_bomb.jpg  8000×8000 progressive grey JPEG whose AC scan is repeated 20,000 times
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

namespace {

const int kSide = 8000;

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(1);
  }
}

std::string jpeg(int components, const std::vector<jpeg_scan_info>& scans) {
  jpeg_compress_struct c;
  jpeg_error_mgr errors;
  c.err = jpeg_std_error(&errors);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = c.image_height = kSide;
  c.input_components = components;
  c.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  if (!scans.empty()) {
    c.scan_info = scans.data();
    c.num_scans = static_cast<int>(scans.size());
  }
  jpeg_start_compress(&c, TRUE);
  std::vector<unsigned char> row(kSide * components);
  for (int x = 0; x < kSide * components; ++x)
    row[x] = components == 3 ? (x % 3 == 0 ? 200 : x % 3 == 1 ? 120 : 60) : 90;
  while (c.next_scanline < c.image_height) {
    JSAMPROW line = row.data();
    jpeg_write_scanlines(&c, &line, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

std::string png() {
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(p);
  std::string out;
  png_set_write_fn(
      p, &out,
      [](png_structp q, png_bytep data, size_t n) {
        static_cast<std::string*>(png_get_io_ptr(q))->append(reinterpret_cast<const char*>(data), n);
      },
      nullptr);
  png_set_IHDR(p, info, kSide, kSide, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(p, 9);
  png_write_info(p, info);
  std::vector<unsigned char> row(kSide * 3);
  for (int x = 0; x < kSide * 3; ++x) row[x] = x % 3 == 0 ? 60 : x % 3 == 1 ? 140 : 220;
  for (int y = 0; y < kSide; ++y) png_write_row(p, row.data());
  png_write_end(p, nullptr);
  png_destroy_write_struct(&p, &info);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_images DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  write_file(dir + "/big_8000.jpg", jpeg(3, {}));
  write_file(dir + "/big_8000.png", png());
  // DC, then the AC coefficients at full precision; the AC scan (SOS to EOI) is then repeated.
  const std::string base = jpeg(1, {{1, {0}, 0, 0, 0, 0}, {1, {0}, 1, 63, 0, 0}});
  const size_t sos = base.rfind("\xFF\xDA");
  const std::string scan = base.substr(sos, base.size() - 2 - sos);
  std::string bomb = base.substr(0, base.size() - 2);
  for (int i = 0; i < 20000; ++i) bomb += scan;
  write_file(dir + "/scan_bomb.jpg", bomb + "\xFF\xD9");
  return 0;
}
