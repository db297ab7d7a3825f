/// @file
/// TensorFlow's two paddings for convolution and pooling windows (DESIGN.md item 5):
///   - valid: out = ⌊(in − k) / s⌋ + 1, no padding (the input must hold one window);
///   - same:  out = ⌈in / s⌉, total padding max((out − 1)·s + k − in, 0), the odd pixel at the bottom/right.
#pragma once

namespace nn {

/// How a window meets the input's borders (the formulas above).
enum class Padding { valid, same };

/// "valid" or "same".
const char* to_string(Padding padding);

}  // namespace nn
