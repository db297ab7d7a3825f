/// @file
/// Errors: every failure a user can cause is an nn::Error whose message names the operation (or file), what was
/// expected and what arrived. The libraries never print, exit or abort.
///
/// nn::Error itself is header-only, so a library that does not link nn (nn::speech) can throw it; the helpers below
/// live in error.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nn {

/// The one exception type of the libraries (and of nn::speech's TextError, derived from it); what() is the whole
/// message, e.g. "conv2d: expected input channels 3 (weight [3,3,3,32]), got 7 (input [1,299,299,7])".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The one helper that builds "where: expected WHAT, got GOT" so expected and actual are never swapped, e.g.
/// fail_expected("conv2d", "input channels 3 (weight [3,3,3,32])", "7 (input [1,299,299,7])"). Throws nn::Error.
[[noreturn]] void fail_expected(std::string_view where, std::string_view expected, std::string_view got);

/// "where: message". Throws nn::Error.
[[noreturn]] void fail(std::string_view where, std::string_view message);

/// A count for a message, its digits grouped by commas: 22910480 → "22,910,480" (as Keras prints its totals).
std::string with_commas(int64_t n);

/// `text` safe to put in a message: control bytes (< 0x20, 0x7f, and the C1 controls U+0080…U+009F, terminal
/// escapes among them), backslashes and bytes that are not valid UTF-8 are written as `\xNN`; everything else is kept.
/// Every name or text that comes from a file goes through this before it is put in a message.
std::string printable(std::string_view text);

/// The offset of the first byte of `text` that does not begin a valid UTF-8 sequence (overlong forms, surrogates and
/// code points above U+10FFFF are invalid), or std::string_view::npos when all of it is valid.
size_t invalid_utf8_at(std::string_view text);

/// Throws "where: WHAT holds a non-finite value (NaN at index 17)" when any of `values[0, count)` is NaN or ±inf;
/// indices in the message start at `first_index` (for a tensor checked in chunks).
void check_finite(std::string_view where, std::string_view what, const float* values, size_t count,
                  size_t first_index = 0);

}  // namespace nn
