/// @file
/// Internal to nn/image*.cpp: the decoders behind nn::decode_image, each to 8-bit RGB within an ImageOptions budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "nn/io/image.h"

namespace nn::image_detail {

/// Frees the decoders' malloc'ed pixel buffers.
struct FreeDeleter {
  void operator()(unsigned char* p) const { std::free(p); }
};

/// A decoded image: (height, width, 3) bytes, row-major; `orientation` is the EXIF value (1 = as stored).
struct Rgb8 {
  int64_t height = 0, width = 0;                         ///< in pixels, as stored (before orientation)
  std::unique_ptr<unsigned char[], FreeDeleter> pixels;  ///< height·width·3 bytes, R G B
  int orientation = 1;                                   ///< EXIF orientation, 1…8
};

/// The clock the decoders measure their time budget with.
using Clock = std::chrono::steady_clock;

/// A whole JPEG file's bytes → Rgb8, with its EXIF orientation; the PNG decoder below likewise (orientation 1).
/// Each throws nn::Error naming `name`: undecodable data, a size over the options' limits, a time budget spent.
Rgb8 decode_jpeg(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options);
/// A whole PNG file's bytes → Rgb8 (alpha dropped, 16 bits narrowed to 8); errors as decode_jpeg.
Rgb8 decode_png(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options);

/// Throws "NAME: expected an image of at most … got W×H in its header" when the size is over the limits.
void check_size(const std::string& name, int64_t width, int64_t height, const ImageOptions& options);

/// EXIF orientation (1…8) from an APP1 payload ("Exif\0\0" then a TIFF header, II or MM); 1 when the payload is no
/// EXIF, is malformed, or has no valid orientation tag. Every offset is checked against the payload's length.
int exif_orientation(std::span<const unsigned char> app1);

}  // namespace nn::image_detail
