// PNG through libpng, row by row: the image is reduced while it is read (f×f boxes averaged), so a small file that
// claims 8000×8000 pixels never occupies more than its reduced size. libpng reports errors by longjmp, so, as for
// JPEG, the decoding is C style (decode_rgb) and its caller turns the message into an nn::Error.
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "nn/core/error.h"
#include "nn/io/image_codecs.h"

namespace nn::image_detail {
namespace {

struct PngState {
  const unsigned char* data;
  size_t size, at;
  char message[256];
  bool whole_message;  // message is a whole sentence, not libpng's reason
  bool size_refused;   // the header is over the size limits: the caller reports it
  const ImageOptions* options;
  Clock::time_point deadline;
};

// What decode_rgb allocates, plain data (it lives across the longjmp).
struct PngRaw {
  unsigned char* pixels;  // (height, width, 3) output
  unsigned char* row;     // one input row of (pass) pixels, RGB
  uint32_t* sums;         // box sums: one output row (sequential), or the whole output (interlaced)
  int64_t width, height, image_width, image_height;
};

void on_error(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", message);
  s->whole_message = false;
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // ancillary-chunk trouble (bad CRC, odd iCCP): the pixels are fine

void read_bytes(png_structp png, png_bytep out, size_t count) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (count > s->size - s->at) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, s->data + s->at, count);
  s->at += count;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// The box side f: the most reduction that keeps both sides ≥ min_side, and at least enough that the result holds at
// most max_decoded_pixels. At most 4096, so that a box's sum fits 32 bits.
int64_t factor_for(int64_t w, int64_t h, const ImageOptions& o) {
  int64_t f = 1;
  if (o.min_side > 0)
    while (f < 4096 && ceil_div(w, f + 1) >= o.min_side && ceil_div(h, f + 1) >= o.min_side) ++f;
  while (f < 4096 && ceil_div(w, f) * ceil_div(h, f) > o.max_decoded_pixels) ++f;
  return f;
}

// Output row `oy` from the box sums `sums` (one output row).
void average_row(const uint32_t* sums, unsigned char* out, int64_t oy, int64_t f, const PngRaw& r) {
  const int64_t box_h = std::min(f, r.image_height - oy * f);
  for (int64_t ox = 0; ox < r.width; ++ox) {
    const uint32_t count = static_cast<uint32_t>(box_h * std::min(f, r.image_width - ox * f));
    for (int c = 0; c < 3; ++c) out[ox * 3 + c] = static_cast<unsigned char>((sums[ox * 3 + c] + count / 2) / count);
  }
}

// Returns nullptr, or the reason it failed (with everything freed).
const char* decode_rgb(PngState* s, PngRaw* r) {
  const ImageOptions& o = *s->options;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_error, on_warning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return "out of memory";
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::free(r->pixels);
    std::free(r->row);
    std::free(r->sums);
    r->pixels = r->row = nullptr;
    r->sums = nullptr;
    return s->message;
  }
  png_set_read_fn(png, s, read_bytes);
  png_set_chunk_malloc_max(png, 8 << 20);  // ancillary chunks (text, ICC profiles…)
  png_set_chunk_cache_max(png, 1000);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, nullptr, nullptr);
  r->image_width = w;
  r->image_height = h;
  if (w > o.max_side || h > o.max_side || int64_t{w} * h > o.max_pixels) {
    s->size_refused = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return "";
  }
  // As PIL's convert("RGB") (and stb_image before): palette and grey expanded, 16 bits cut to their high byte,
  // alpha dropped, no gamma applied. No interlace handling: an Adam7 file's passes arrive as sub-images, each
  // pixel placed (or boxed) where it belongs, so no full-size buffer is ever needed.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) png_error(png, "unsupported pixel format");
  const int64_t f = factor_for(w, h, o);
  r->width = ceil_div(w, f);
  r->height = ceil_div(h, f);
  const bool adam7 = interlace == PNG_INTERLACE_ADAM7;
  r->pixels = static_cast<unsigned char*>(std::malloc(static_cast<size_t>(r->width * r->height * 3)));
  r->row = static_cast<unsigned char*>(std::malloc(size_t{w} * 3));
  if (f > 1)
    r->sums = static_cast<uint32_t*>(std::calloc(static_cast<size_t>(r->width * (adam7 ? r->height : 1) * 3), 4));
  if (r->pixels == nullptr || r->row == nullptr || (f > 1 && r->sums == nullptr)) png_error(png, "out of memory");
  static const int x0s[7] = {0, 4, 0, 2, 0, 1, 0}, dxs[7] = {8, 8, 4, 4, 2, 2, 1};
  static const int y0s[7] = {0, 0, 4, 0, 2, 0, 1}, dys[7] = {8, 8, 8, 4, 4, 2, 2};
  for (int pass = 0; pass < (adam7 ? 7 : 1); ++pass) {
    const int64_t x0 = adam7 ? x0s[pass] : 0, dx = adam7 ? dxs[pass] : 1;
    const int64_t y0 = adam7 ? y0s[pass] : 0, dy = adam7 ? dys[pass] : 1;
    if (x0 >= w || y0 >= h) continue;  // an empty pass (libpng skips it too)
    const int64_t cols = ceil_div(w - x0, dx), rows = ceil_div(h - y0, dy);
    for (int64_t i = 0; i < rows; ++i) {
      if (i % 16 == 0 && Clock::now() > s->deadline) {
        std::snprintf(s->message, sizeof s->message, "is refused: not decoded within %g s (the time budget per image)",
                      o.max_seconds);
        s->whole_message = true;
        png_longjmp(png, 1);
      }
      png_read_row(png, r->row, nullptr);
      const int64_t y = y0 + i * dy;
      if (f == 1) {
        for (int64_t k = 0; k < cols; ++k) std::memcpy(r->pixels + (y * w + x0 + k * dx) * 3, r->row + k * 3, 3);
        continue;
      }
      uint32_t* sums = r->sums + (adam7 ? (y / f) * r->width * 3 : 0);
      for (int64_t k = 0; k < cols; ++k) {
        uint32_t* box = sums + (x0 + k * dx) / f * 3;
        for (int c = 0; c < 3; ++c) box[c] += r->row[k * 3 + c];
      }
      if (!adam7 && (y % f == f - 1 || y == h - 1)) {  // the last input row of an output row
        average_row(r->sums, r->pixels + (y / f) * r->width * 3, y / f, f, *r);
        std::fill_n(r->sums, r->width * 3, 0u);
      }
    }
  }
  if (adam7 && f > 1)
    for (int64_t oy = 0; oy < r->height; ++oy)
      average_row(r->sums + oy * r->width * 3, r->pixels + oy * r->width * 3, oy, f, *r);
  // Whatever follows the image data (more chunks, IEND, trailing bytes) is not read: PIL and stb_image ignore it too.
  png_destroy_read_struct(&png, &info, nullptr);
  std::free(r->row);
  std::free(r->sums);
  r->row = nullptr;
  r->sums = nullptr;
  return nullptr;
}

}  // namespace

Rgb8 decode_png(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options) {
  PngState s{};
  s.data = bytes.data();
  s.size = bytes.size();
  s.options = &options;
  s.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(std::max(0.0, options.max_seconds)));
  PngRaw raw{};
  const char* error = decode_rgb(&s, &raw);
  if (error != nullptr && s.size_refused) check_size(name, raw.image_width, raw.image_height, options);  // throws
  if (error != nullptr)
    fail(name, s.whole_message ? std::string(error) : "cannot be decoded (" + std::string(error) + ")");
  Rgb8 image;
  image.width = raw.width;
  image.height = raw.height;
  image.pixels.reset(raw.pixels);
  return image;
}

}  // namespace nn::image_detail
