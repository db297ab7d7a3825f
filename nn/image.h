// Image input: decoding (JPEG, PNG through stb_image), resizing, and Keras's Xception preprocessing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "nn/tensor.h"

namespace nn {

struct ImageLimits {
  int64_t max_side = 16384;         // pixels along either side
  int64_t max_pixels = 64'000'000;  // width × height (a 64-megapixel photo is 768 MB as floats)
};

// Decodes a JPEG or PNG file to (H, W, 3) float RGB in [0, 255]: grey is replicated, alpha dropped (as PIL's
// convert("RGB")). The header is checked against `limits` before anything is decoded, so a file claiming
// 100000×100000 pixels is refused without allocating. Throws nn::Error naming the path.
Tensor load_image(const std::filesystem::path& path, const ImageLimits& limits = {});
// The same from bytes in memory; `name` is used in error messages.
Tensor decode_image(std::span<const unsigned char> bytes, const std::string& name, const ImageLimits& limits = {});

enum class ResizeFilter {
  nearest,   // PIL's NEAREST, which keras.utils.load_img uses by default: source pixel ⌊(i + ½)·in/out⌋, with
             // PIL's own floating-point accumulation (bit-identical choices)
  bilinear,  // PIL's BILINEAR: a triangle filter widened when shrinking (antialiased)
};

// (H, W, C) → (height, width, C).
Tensor resize_image(const Tensor& image, int64_t height, int64_t width, ResizeFilter filter);

// Keras's xception.preprocess_input: x / 127.5 − 1, elementwise.
Tensor xception_preprocess(const Tensor& image);

// File → (1, 299, 299, 3) ready for Xception: decode, resize with `filter` (default nearest, as Keras's loader),
// scale to [−1, 1].
Tensor load_xception_input(const std::filesystem::path& path, ResizeFilter filter = ResizeFilter::nearest,
                           int64_t size = 299);

}  // namespace nn
