#include "captioning/json.h"

#include <cmath>
#include <cstdio>

#include <nn/core/error.h>

namespace captioning {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    const size_t bad = nn::invalid_utf8_at(text.substr(i));
    const std::string_view valid = text.substr(i, bad == std::string_view::npos ? text.size() - i : bad);
    for (size_t k = 0; k < valid.size(); ++k) {
      const auto b = static_cast<unsigned char>(valid[k]);
      const auto next = k + 1 < valid.size() ? static_cast<unsigned char>(valid[k + 1]) : 0;
      char escaped[8];
      if (b == '"' || b == '\\') {
        out += '\\';
        out += static_cast<char>(b);
      } else if (b < 0x20 || b == 0x7F) {
        std::snprintf(escaped, sizeof escaped, "\\u%04X", b);
        out += escaped;
      } else if (b == 0xC2 && next >= 0x80 && next < 0xA0) {  // a C1 control character
        std::snprintf(escaped, sizeof escaped, "\\u%04X", next);
        out += escaped;
        ++k;
      } else if (b == 0xE2 && next == 0x80 && k + 2 < valid.size() &&
                 (valid[k + 2] == '\xA8' || valid[k + 2] == '\xA9')) {  // U+2028, U+2029: line breaks in JavaScript
        out += valid[k + 2] == '\xA8' ? "\\u2028" : "\\u2029";
        k += 2;
      } else {
        out += static_cast<char>(b);
      }
    }
    i += valid.size();
    if (i < text.size()) {
      out += "\xEF\xBF\xBD";  // U+FFFD for one byte that begins no valid sequence
      ++i;
    }
  }
  return out + "\"";
}

std::string json_number(double value, int digits) {
  if (!std::isfinite(value)) return "null";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

}  // namespace captioning
