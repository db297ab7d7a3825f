#include "nn/image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "nn/error.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>

#include <jerror.h>
#include <jpeglib.h>

#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace nn {

namespace {

std::vector<unsigned char> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path.string(), "is a directory, not an image");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// PIL's triangle-filter resampling along one axis, with its support widened by the scale when shrinking.
// src (n_out_rows... ) is handled by the caller; this computes, for each output index, the first source index and
// the normalised weights.
struct Taps {
  std::vector<int64_t> first;
  std::vector<std::vector<float>> weights;
};

Taps bilinear_taps(int64_t in, int64_t out) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = std::max(1.0, scale);  // the triangle's half-width in source pixels
  for (int64_t i = 0; i < out; ++i) {
    const double center = (i + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support + 0.5)));
    const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(std::floor(center + support + 0.5)));
    std::vector<float> w;
    double total = 0;
    for (int64_t j = lo; j < hi; ++j) {
      double d = std::fabs((j + 0.5 - center) / support);
      double v = d < 1.0 ? 1.0 - d : 0.0;
      w.push_back(static_cast<float>(v));
      total += v;
    }
    for (float& v : w) v = static_cast<float>(v / (total > 0 ? total : 1.0));
    t.first.push_back(lo);
    t.weights.push_back(std::move(w));
  }
  return t;
}

// A PNG's width and height from its IHDR chunk (bytes 16–23, big-endian), read before stb_image sees the file:
// stb refuses very large PNGs itself, but only with "unknown image type".
bool is_png(std::span<const unsigned char> bytes) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), signature, 8) == 0;
}

bool png_size(std::span<const unsigned char> bytes, int64_t& width, int64_t& height) {
  if (bytes.size() < 24 || !is_png(bytes)) return false;
  auto be32 = [&](size_t at) {
    return (int64_t{bytes[at]} << 24) | (int64_t{bytes[at + 1]} << 16) | (int64_t{bytes[at + 2]} << 8) | bytes[at + 3];
  };
  width = be32(16);
  height = be32(20);
  return true;
}

void check_size(const std::string& name, int64_t width, int64_t height, const ImageLimits& limits) {
  if (width < 1 || height < 1 || width > limits.max_side || height > limits.max_side ||
      width * height > limits.max_pixels) {
    fail_expected(name,
                  "an image of at most " + std::to_string(limits.max_side) + " pixels a side and " +
                      std::to_string(limits.max_pixels) + " pixels",
                  std::to_string(width) + "×" + std::to_string(height) + " in its header");
  }
}

}  // namespace

// JPEG through libjpeg-turbo (the library PIL, and so Keras's loader, decodes with: the same pixels, bit for bit),
// in plain C style: libjpeg reports errors by longjmp, which must not cross C++ objects with destructors.
struct JpegErrors {
  jpeg_error_mgr base;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void nn_jpeg_fail(j_common_ptr info) {
  auto* e = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, e->message);
  longjmp(e->escape, 1);
}

extern "C" void nn_jpeg_warning(j_common_ptr info, int level) {
  // Warnings are not printed; a file that ends early is an error (PIL refuses it as truncated too).
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) nn_jpeg_fail(info);
}

// Decodes to RGB8 in *pixels (malloc'd; the caller frees). Returns nullptr, or the reason it failed.
static const char* decode_jpeg_rgb(const unsigned char* data, size_t size, const ImageLimits& limits,
                                   unsigned char** pixels, int* width, int* height, JpegErrors* errors) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&errors->base);
  errors->base.error_exit = nn_jpeg_fail;
  errors->base.emit_message = nn_jpeg_warning;
  *pixels = nullptr;
  if (setjmp(errors->escape)) {
    jpeg_destroy_decompress(&info);
    std::free(*pixels);
    *pixels = nullptr;
    return errors->message;
  }
  jpeg_create_decompress(&info);
  info.mem->max_memory_to_use = 1024L << 20;
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  *width = static_cast<int>(info.image_width);
  *height = static_cast<int>(info.image_height);
  if (info.image_width > static_cast<JDIMENSION>(limits.max_side) ||
      info.image_height > static_cast<JDIMENSION>(limits.max_side) ||
      static_cast<int64_t>(info.image_width) * info.image_height > limits.max_pixels) {
    jpeg_destroy_decompress(&info);
    return "";  // the caller reports the size against the limits
  }
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&info);
    std::snprintf(errors->message, sizeof errors->message, "CMYK JPEGs are not supported");
    return errors->message;
  }
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  const size_t row = static_cast<size_t>(info.output_width) * 3;
  *pixels = static_cast<unsigned char*>(std::malloc(row * info.output_height));
  if (*pixels == nullptr) {
    jpeg_destroy_decompress(&info);
    std::snprintf(errors->message, sizeof errors->message, "out of memory");
    return errors->message;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW line = *pixels + row * info.output_scanline;
    jpeg_read_scanlines(&info, &line, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return nullptr;
}

static Tensor decode_jpeg(std::span<const unsigned char> bytes, const std::string& name, const ImageLimits& limits) {
  JpegErrors errors{};
  unsigned char* pixels = nullptr;
  int width = 0, height = 0;
  const char* error = decode_jpeg_rgb(bytes.data(), bytes.size(), limits, &pixels, &width, &height, &errors);
  if (error != nullptr && error[0] == '\0') check_size(name, width, height, limits);  // throws
  if (error != nullptr) fail(name, std::string("cannot be decoded (") + error + ")");
  Tensor image = Tensor::empty({height, width, 3});
  float* out = image.data();
  for (int64_t i = 0; i < image.numel(); ++i) out[i] = pixels[i];
  std::free(pixels);
  return image;
}

// stb_image reserves a PNG's IDAT buffer from the chunk's length field before it reads the chunk: a 128-byte file
// claiming a 1 GB chunk made it allocate 2 GB (found by fuzz_image). Every chunk must fit in the file.
static bool png_chunks_fit(std::span<const unsigned char> b) {
  size_t p = 8;                // after the signature
  while (p + 8 <= b.size()) {  // a readable length and type: stb acts on them
    const uint64_t length = uint64_t{b[p]} << 24 | uint64_t{b[p + 1]} << 16 | uint64_t{b[p + 2]} << 8 | b[p + 3];
    if (length > b.size() - p - 8) return false;
    if (std::equal(b.begin() + static_cast<std::ptrdiff_t>(p + 4), b.begin() + static_cast<std::ptrdiff_t>(p + 8),
                   "IEND"))
      return true;
    p += 12 + length;
  }
  return true;  // truncated between chunks: stb reports it
}

Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name, const ImageLimits& limits) {
  if (bytes.empty()) fail(name, "is empty, not an image");
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) fail(name, "is larger than 2 GB");
  // JPEG goes to libjpeg-turbo, PNG to stb (built with its PNG decoder only); nothing else is decoded.
  const bool png = is_png(bytes);
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (!png && !jpeg) fail(name, "is not a JPEG or PNG image (unknown image type)");
  if (jpeg) return decode_jpeg(bytes, name, limits);
  if (png && !png_chunks_fit(bytes)) fail(name, "cannot be decoded (corrupt PNG: a chunk is longer than the file)");
  int64_t png_width = 0, png_height = 0;
  if (png_size(bytes, png_width, png_height)) check_size(name, png_width, png_height, limits);
  int width = 0, height = 0, channels = 0;
  const int size = static_cast<int>(bytes.size());
  if (!stbi_info_from_memory(bytes.data(), size, &width, &height, &channels)) {
    fail(name, std::string("is not a JPEG or PNG image (") + stbi_failure_reason() + ")");
  }
  check_size(name, width, height, limits);
  unsigned char* pixels = stbi_load_from_memory(bytes.data(), size, &width, &height, &channels, 3);
  if (pixels == nullptr) fail(name, std::string("cannot be decoded (") + stbi_failure_reason() + ")");
  Tensor image = Tensor::empty({height, width, 3});
  float* out = image.data();
  for (int64_t i = 0; i < image.numel(); ++i) out[i] = pixels[i];
  stbi_image_free(pixels);
  return image;
}

Tensor load_image(const std::filesystem::path& path, const ImageLimits& limits) {
  std::vector<unsigned char> bytes = read_file(path);
  return decode_image(bytes, path.string(), limits);
}

Tensor resize_image(const Tensor& image, int64_t height, int64_t width, ResizeFilter filter) {
  if (image.rank() != 3) fail_expected("resize_image", "an image of shape (H,W,C)", to_string(image.shape()));
  if (height < 1 || width < 1) {
    fail_expected("resize_image", "a positive size", std::to_string(height) + "×" + std::to_string(width));
  }
  const int64_t h = image.dim(0), w = image.dim(1), c = image.dim(2);
  const float* src = image.data();
  Tensor out = Tensor::empty({height, width, c});
  float* dst = out.data();
  if (filter == ResizeFilter::nearest) {
    // As PIL's affine nearest transform computes it, to the last bit: the source coordinate starts at scale/2 and
    // grows by repeated addition of scale, then truncates (so (x + ½)·scale landing on an integer may round down).
    const double sx_step = static_cast<double>(w) / width, sy_step = static_cast<double>(h) / height;
    double yy = sy_step * 0.5;
    for (int64_t y = 0; y < height; ++y, yy += sy_step) {
      const int64_t sy = std::min(h - 1, static_cast<int64_t>(yy));
      double xx = sx_step * 0.5;
      for (int64_t x = 0; x < width; ++x, xx += sx_step) {
        const int64_t sx = std::min(w - 1, static_cast<int64_t>(xx));
        std::memcpy(dst + (y * width + x) * c, src + (sy * w + sx) * c, sizeof(float) * c);
      }
    }
    return out;
  }
  // Separable: rows first into (h, width, c), then columns.
  const Taps across = bilinear_taps(w, width), down = bilinear_taps(h, height);
  std::vector<float> rows(static_cast<size_t>(h * width * c), 0.0f);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (size_t k = 0; k < across.weights[x].size(); ++k) {
        const float wk = across.weights[x][k];
        const float* s = src + (y * w + across.first[x] + static_cast<int64_t>(k)) * c;
        for (int64_t ch = 0; ch < c; ++ch) rows[(y * width + x) * c + ch] += wk * s[ch];
      }
  std::fill_n(dst, out.numel(), 0.0f);
  for (int64_t y = 0; y < height; ++y)
    for (size_t k = 0; k < down.weights[y].size(); ++k) {
      const float wk = down.weights[y][k];
      const float* s = rows.data() + (down.first[y] + static_cast<int64_t>(k)) * width * c;
      for (int64_t i = 0; i < width * c; ++i) dst[y * width * c + i] += wk * s[i];
    }
  return out;
}

Tensor xception_preprocess(const Tensor& image) {
  Tensor out = Tensor::empty(image.shape());
  const float* src = image.data();
  float* dst = out.data();
  for (int64_t i = 0; i < image.numel(); ++i) dst[i] = src[i] / 127.5f - 1.0f;
  return out;
}

Tensor load_xception_input(const std::filesystem::path& path, ResizeFilter filter, int64_t size) {
  Tensor resized = resize_image(load_image(path), size, size, filter);
  return xception_preprocess(resized).reshape({1, size, size, 3});
}

}  // namespace nn
