/// @file
/// Image input: decoding (JPEG through libjpeg-turbo, PNG through libpng), with budgets on size, memory and time,
/// EXIF orientation, resizing exactly as PIL does, and Keras's Xception preprocessing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "nn/core/tensor.h"

namespace nn {

/// What a decoder may spend on one image. Everything over a limit is an nn::Error naming the file; nothing is
/// allocated from a size the file claims before that size is checked.
struct ImageOptions {
  // Refused from the header alone, before any pixel is decoded:
  int64_t max_side = 16384;         ///< pixels along either side (refused from the header, before decoding)
  int64_t max_pixels = 64'000'000;  ///< width × height (refused from the header, before decoding)
  /// Reduced decoding. The decoder shrinks the image while decoding — JPEG by libjpeg's DCT scaling (M/8, M = 1…8),
  /// PNG by averaging f×f boxes row by row — by the largest factor that keeps both sides ≥ min_side (0: no target),
  /// and in any case far enough that the result holds at most max_decoded_pixels. Unreduced images are exactly the
  /// pixels PIL decodes; reduced ones are not (see docs/decisions.md, "Decoding budgets").
  int64_t min_side = 0;
  int64_t max_decoded_pixels = 16'777'216;  ///< 4096², 192 MB as floats
  /// EXIF orientation (JPEG APP1, tag 0x0112) is applied, so the result is upright as every viewer shows it. true
  /// keeps the stored pixels, as Keras's loader (PIL without exif_transpose) does.
  bool keep_orientation = false;
  double max_seconds = 10;           ///< wall-clock time to decode one image
  int max_scans = 100;               ///< progressive JPEG scans (libjpeg writes 6–10; a scan bomb repeats one)
  int max_warnings = 100;            ///< libjpeg's corrupt-data warnings ("bogus progression", "extraneous bytes"…)
  int64_t max_memory = 256ll << 20;  ///< libjpeg's working memory (a progressive JPEG keeps all its coefficients)
};

/// Decodes a JPEG or PNG file to (H, W, 3) float RGB in [0, 255]: grey is replicated, alpha dropped (as PIL's
/// convert("RGB")), the EXIF orientation applied unless options.keep_orientation. Throws nn::Error naming the path.
Tensor load_image(const std::filesystem::path& path, const ImageOptions& options = {});
/// The same from bytes in memory; `name` is used in error messages.
Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name, const ImageOptions& options = {});

/// How resize_image computes a pixel, as PIL's filters of the same names.
enum class ResizeFilter {
  nearest,   ///< PIL's NEAREST, which keras.utils.load_img uses by default: source pixel ⌊(i + ½)·in/out⌋, with
             ///< PIL's own floating-point accumulation (bit-identical choices)
  bilinear,  ///< PIL's BILINEAR: a triangle filter widened when shrinking (antialiased)
};

/// (H, W, C) → (height, width, C). Throws nn::Error for another rank or a size below 1.
Tensor resize_image(const Tensor& image, int64_t height, int64_t width, ResizeFilter filter);

/// Keras's xception.preprocess_input: x / 127.5 − 1, elementwise.
Tensor xception_preprocess(const Tensor& image);

/// File → (1, size, size, 3) ready for Xception: decode (reduced to no less than 2·size a side: options.min_side is
/// raised to that), resize with `filter` (default nearest, as Keras's loader), scale to [−1, 1].
Tensor load_xception_input(const std::filesystem::path& path, ResizeFilter filter = ResizeFilter::nearest,
                           int64_t size = 299, const ImageOptions& options = {});

}  // namespace nn
