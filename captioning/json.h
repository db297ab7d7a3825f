/// @file
/// JSON text for the programs that print it (describe --json, the web server's answers): strings that are always
/// valid UTF-8 with every control character escaped, numbers that are never NaN or infinite.
#pragma once

#include <string>
#include <string_view>

namespace captioning {

/// `text` as a JSON string literal, quotes included: `"` and `\` escaped, control characters (U+0000…U+001F,
/// U+007F…U+009F) and U+2028/U+2029 as `\u00XX` / `\u2028`, and each byte that is not valid UTF-8 as U+FFFD (JSON has
/// no way to carry raw bytes). Everything else is copied as it is.
std::string json_string(std::string_view text);

/// `value` printed with `digits` significant digits (printf's %.*g); NaN and ±infinity, which JSON cannot express,
/// become null.
std::string json_number(double value, int digits = 6);

}  // namespace captioning
