#include "nn/io/image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "nn/core/error.h"
#include "nn/io/image_codecs.h"

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

bool is_png(std::span<const unsigned char> bytes) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), signature, 8) == 0;
}

// A PNG's width and height from its IHDR chunk (bytes 16–23, big-endian), read before libpng sees the file, so that
// an absurd size is reported as such (libpng would first complain about the header's checksum or its own limits).
bool png_size(std::span<const unsigned char> bytes, int64_t& width, int64_t& height) {
  if (bytes.size() < 24 || !is_png(bytes)) return false;
  auto be32 = [&](size_t at) {
    return (int64_t{bytes[at]} << 24) | (int64_t{bytes[at + 1]} << 16) | (int64_t{bytes[at + 2]} << 8) | bytes[at + 3];
  };
  width = be32(16);
  height = be32(20);
  return true;
}

// Every chunk must fit in the file (stb_image, which decoded PNGs before libpng, reserved a chunk's length before
// reading it: a 128-byte file claiming a 1 GB chunk made it allocate 2 GB; found by fuzz_image). libpng reads chunks
// in pieces, but the early, clear refusal stays.
bool png_chunks_fit(std::span<const unsigned char> b) {
  size_t p = 8;                // after the signature
  while (p + 8 <= b.size()) {  // a readable length and type
    const uint64_t length = uint64_t{b[p]} << 24 | uint64_t{b[p + 1]} << 16 | uint64_t{b[p + 2]} << 8 | b[p + 3];
    if (length > b.size() - p - 8) return false;
    if (std::memcmp(b.data() + p + 4, "IEND", 4) == 0) return true;
    p += 12 + length;
  }
  return true;  // truncated between chunks: the decoder reports it
}

// The stored (height, width) RGB bytes → (H, W, 3) floats, turned upright for an EXIF orientation (2…8: mirrored
// and/or rotated as the tag says; 5…8 swap height and width), as PIL's ImageOps.exif_transpose does.
Tensor to_tensor(const image_detail::Rgb8& image, int orientation) {
  const int64_t h = image.height, w = image.width;
  const bool swap = orientation >= 5 && orientation <= 8;
  const int64_t out_h = swap ? w : h, out_w = swap ? h : w;
  Tensor out = Tensor::empty({out_h, out_w, 3});
  float* dst = out.data();
  const unsigned char* src = image.pixels.get();
  for (int64_t y = 0; y < out_h; ++y)
    for (int64_t x = 0; x < out_w; ++x, dst += 3) {
      int64_t sy = y, sx = x;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // mirrored left–right
        case 3:
          sy = h - 1 - y, sx = w - 1 - x;
          break;  // rotated 180°
        case 4:
          sy = h - 1 - y;
          break;  // mirrored top–bottom
        case 5:
          sy = x, sx = y;
          break;  // transposed
        case 6:
          sy = h - 1 - x, sx = y;
          break;  // stored 90° counter-clockwise: turned clockwise
        case 7:
          sy = h - 1 - x, sx = w - 1 - y;
          break;  // transversed
        case 8:
          sy = x, sx = w - 1 - y;
          break;  // stored 90° clockwise: turned counter-clockwise
        default:
          break;
      }
      const unsigned char* s = src + (sy * w + sx) * 3;
      dst[0] = s[0], dst[1] = s[1], dst[2] = s[2];
    }
  return out;
}

}  // namespace

namespace image_detail {

void check_size(const std::string& name, int64_t width, int64_t height, const ImageOptions& options) {
  if (width < 1 || height < 1 || width > options.max_side || height > options.max_side ||
      width * height > options.max_pixels) {
    fail_expected(name,
                  "an image of at most " + std::to_string(options.max_side) + " pixels a side and " +
                      std::to_string(options.max_pixels) + " pixels",
                  std::to_string(width) + "×" + std::to_string(height) + " in its header");
  }
}

int exif_orientation(std::span<const unsigned char> app1) {
  if (app1.size() < 6 + 8 || std::memcmp(app1.data(), "Exif\0\0", 6) != 0) return 1;
  const std::span<const unsigned char> tiff = app1.subspan(6);
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1];
  };
  auto u32 = [&](size_t at) -> uint64_t {
    return little ? u16(at) | uint64_t{u16(at + 2)} << 16 : uint64_t{u16(at)} << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const uint64_t ifd = u32(4);
  if (ifd > tiff.size() || tiff.size() - ifd < 2) return 1;
  const uint64_t entries = u16(ifd);
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t at = ifd + 2 + 12 * i;
    if (at + 12 > tiff.size()) return 1;
    // Tag 0x0112, type SHORT (3), count 1: the value is in the entry's first two value bytes.
    if (u16(at) != 0x0112) continue;
    if (u16(at + 2) != 3 || u32(at + 4) != 1) return 1;
    const uint32_t value = u16(at + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace image_detail

Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options) {
  if (bytes.empty()) fail(name, "is empty, not an image");
  // JPEG goes to libjpeg-turbo, PNG to libpng; nothing else is decoded.
  const bool png = is_png(bytes);
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (!png && !jpeg) fail(name, "is not a JPEG or PNG image (unknown image type)");
  image_detail::Rgb8 image;
  if (jpeg) {
    image = image_detail::decode_jpeg(bytes, name, options);
  } else {
    if (!png_chunks_fit(bytes)) fail(name, "cannot be decoded (corrupt PNG: a chunk is longer than the file)");
    int64_t width = 0, height = 0;
    if (png_size(bytes, width, height)) image_detail::check_size(name, width, height, options);
    image = image_detail::decode_png(bytes, name, options);
  }
  return to_tensor(image, options.keep_orientation ? 1 : image.orientation);
}

Tensor load_image(const std::filesystem::path& path, const ImageOptions& options) {
  std::vector<unsigned char> bytes = read_file(path);
  return decode_image(bytes, path.string(), options);
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

Tensor load_xception_input(const std::filesystem::path& path, ResizeFilter filter, int64_t size,
                           const ImageOptions& options) {
  ImageOptions reduced = options;
  reduced.min_side = std::max(options.min_side, 2 * size);  // never decoded larger than needed (see image.h)
  Tensor resized = resize_image(load_image(path, reduced), size, size, filter);
  return xception_preprocess(resized).reshape({1, size, size, 3});
}

}  // namespace nn
