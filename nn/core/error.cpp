#include "nn/core/error.h"

#include <cmath>
#include <cstdio>

namespace nn {

void fail_expected(std::string_view where, std::string_view expected, std::string_view got) {
  std::string message(where);
  message += ": expected ";
  message += expected;
  message += ", got ";
  message += got;
  throw Error(message);
}

void fail(std::string_view where, std::string_view message) {
  std::string text(where);
  text += ": ";
  text += message;
  throw Error(text);
}

namespace {

// The length of the valid UTF-8 sequence at `text[i]`, or 0 when the byte there does not begin one.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, cp = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, cp = b & 0x07;
  } else {
    return 0;  // a continuation byte, an overlong lead (C0, C1) or F5…FF
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

void append_escaped(std::string& out, unsigned char b) {
  char hex[5];
  std::snprintf(hex, sizeof hex, "\\x%02X", b);
  out += hex;
}

}  // namespace

size_t invalid_utf8_at(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence_length(text, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string with_commas(int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const size_t n = utf8_sequence_length(text, i);
    const bool c1_control = n == 2 && b == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (n == 0 || b < 0x20 || b == 0x7F || b == '\\' || c1_control) {
      const size_t bad = n == 0 ? 1 : n;  // an invalid byte alone; a control character whole
      for (size_t k = 0; k < bad; ++k) append_escaped(out, static_cast<unsigned char>(text[i + k]));
      i += bad;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

void check_finite(std::string_view where, std::string_view what, const float* values, size_t count,
                  size_t first_index) {
  for (size_t i = 0; i < count; ++i) {
    if (std::isfinite(values[i])) continue;
    const char* kind = std::isnan(values[i]) ? "NaN" : values[i] > 0 ? "inf" : "-inf";
    fail(where, std::string(what) + " holds a non-finite value (" + kind + " at index " +
                    std::to_string(first_index + i) + ")");
  }
}

}  // namespace nn
