#include "captioning/speech/text.h"

#include <cctype>
#include <cstdio>
#include <cstring>

#include "captioning/speech/lexicon.h"

namespace speech {
namespace {

[[noreturn]] void fail_at(size_t byte, const std::string& what) {
  throw TextError("speech: " + what + " at byte " + std::to_string(byte));
}

// Decodes one UTF-8 character at text[i]; advances i. Rejects overlong forms, surrogates and truncation.
char32_t decode_utf8(std::string_view text, size_t& i) {
  const size_t start = i;
  const auto b0 = static_cast<unsigned char>(text[i++]);
  if (b0 < 0x80) return b0;
  int extra;
  char32_t cp;
  if ((b0 & 0xE0) == 0xC0)
    extra = 1, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0)
    extra = 2, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0)
    extra = 3, cp = b0 & 0x07;
  else
    fail_at(start, "invalid UTF-8");
  for (int k = 0; k < extra; ++k) {
    if (i >= text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) fail_at(start, "invalid UTF-8");
    cp = (cp << 6) | (static_cast<unsigned char>(text[i++]) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail_at(start, "invalid UTF-8");
  return cp;
}

// What a non-ASCII character reads as, in ASCII; nullptr when it has no reading.
const char* ascii_for(char32_t cp) {
  static const char* const kLatin1[] = {
      // U+00C0 … U+00FF
      "A", "A", "A",  "A",  "A", "A", "AE", "C", "E", "E",       "E",  "E", "I", "I",
      "I", "I", "D",  "N",  "O", "O", "O",  "O", "O", " times ", "O",  "U", "U", "U",
      "U", "Y", "TH", "ss", "a", "a", "a",  "a", "a", "a",       "ae", "c", "e", "e",
      "e", "e", "i",  "i",  "i", "i", "d",  "n", "o", "o",       "o",  "o", "o", " divided by ",
      "o", "u", "u",  "u",  "u", "y", "th", "y"};
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1[cp - 0xC0];
  switch (cp) {
    case 0xA0:
    case 0x2009:
    case 0x200A:
    case 0x202F:
    case 0x2002:
    case 0x2003:
      return " ";
    case 0x200B:
    case 0xFEFF:
    case 0xAD:
      return "";
    case 0x2018:
    case 0x2019:
    case 0x2032:
      return "'";
    case 0x201C:
    case 0x201D:
    case 0xAB:
    case 0xBB:
      return "\"";
    case 0x2013:
    case 0x2014:
      return ", ";
    case 0x2026:
      return ". ";
    case 0xB0:
      return " degrees ";
    case 0xA3:
      return " pounds ";
    case 0x20AC:
      return " euros ";
    case 0xA2:
      return " cents ";
    case 0xA9:
      return " copyright ";
    case 0x152:
      return "OE";
    case 0x153:
      return "oe";
    default:
      return nullptr;
  }
}

// The text in ASCII: control characters become spaces, accented Latin letters their base letters.
std::string to_ascii(std::string_view text) {
  if (text.size() > kMaxTextBytes)
    throw TextError("speech: text of " + std::to_string(text.size()) + " bytes is longer than the limit of " +
                    std::to_string(kMaxTextBytes));
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const char32_t cp = decode_utf8(text, i);
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
      out += ' ';
    else if (cp < 0x80)
      out += static_cast<char>(cp);
    else if (const char* s = ascii_for(cp))
      out += s;
    else {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      fail_at(start, std::string("cannot read character ") + hex);
    }
  }
  return out;
}

const char* const kOnes[] = {"zero",     "one",     "two",     "three",     "four",     "five",    "six",
                             "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
                             "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
const char* const kTens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

std::string below_thousand(unsigned n) {
  std::string out;
  if (n >= 100) {
    out = std::string(kOnes[n / 100]) + " hundred";
    n %= 100;
    if (n == 0) return out;
    out += ' ';
  }
  if (n < 20) return out + kOnes[n];
  out += kTens[n / 10];
  if (n % 10) out += std::string(" ") + kOnes[n % 10];
  return out;
}

// "one" → "first", "twenty" → "twentieth", "three" → "third" (the last word of a cardinal).
std::string ordinal(std::string words) {
  const size_t space = words.rfind(' ');
  const std::string last = words.substr(space == std::string::npos ? 0 : space + 1);
  if (last.empty()) return words;
  words.resize(words.size() - last.size());
  static const std::pair<const char*, const char*> kIrregular[] = {
      {"one", "first"},    {"two", "second"}, {"three", "third"},   {"five", "fifth"},
      {"eight", "eighth"}, {"nine", "ninth"}, {"twelve", "twelfth"}};
  for (auto [c, o] : kIrregular)
    if (last == c) return words + o;
  if (last.back() == 'y') return words + last.substr(0, last.size() - 1) + "ieth";
  return words + last + "th";
}

struct Abbreviation {
  const char* written;
  const char* spoken;
};
constexpr Abbreviation kAbbreviations[] = {{"mr", "mister"},
                                           {"mrs", "missus"},
                                           {"ms", "miz"},
                                           {"dr", "doctor"},
                                           {"st", "street"},
                                           {"vs", "versus"},
                                           {"etc", "et cetera"},
                                           {"jr", "junior"},
                                           {"sr", "senior"},
                                           {"prof", "professor"},
                                           {"approx", "approximately"},
                                           {"ave", "avenue"},
                                           {"mt", "mount"},
                                           {"ft", "feet"},
                                           {"km", "kilometres"},
                                           {"kg", "kilograms"}};

class Reader {
 public:
  explicit Reader(std::string text) : s_(std::move(text)) {}

  std::vector<Token> read() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (std::isalpha(static_cast<unsigned char>(c)))
        read_word();
      else if (std::isdigit(static_cast<unsigned char>(c)))
        read_number();
      else
        read_symbol();
    }
    while (!out_.empty() && out_.back().pause == Pause::Phrase) out_.pop_back();
    return std::move(out_);
  }

 private:
  char at(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void say(const std::string& words, bool spell = false) {
    size_t p = 0;
    while (p < words.size()) {
      size_t q = words.find(' ', p);
      if (q == std::string::npos) q = words.size();
      if (q > p) out_.push_back({words.substr(p, q - p), Pause::None, spell});
      p = q + 1;
    }
  }
  void pause(Pause kind) {
    if (out_.empty()) return;  // nothing to pause after
    if (out_.back().pause != Pause::None) {
      if (kind > out_.back().pause) out_.back().pause = kind;
      return;
    }
    out_.push_back({"", kind, false});
  }

  void read_word() {
    const size_t start = i_;
    while (std::isalpha(static_cast<unsigned char>(at(i_))) ||
           (at(i_) == '\'' && std::isalpha(static_cast<unsigned char>(at(i_ + 1)))))
      ++i_;
    const std::string written = s_.substr(start, i_ - start);
    std::string word;
    bool upper = true, vowel = false;
    for (char c : written) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      upper = upper && !std::islower(static_cast<unsigned char>(c));
      vowel = vowel || std::strchr("aeiouy", word.back());
    }
    // "e.g." and "i.e."
    if ((word == "e" || word == "i") && at(i_) == '.' && std::isalpha(static_cast<unsigned char>(at(i_ + 1))) &&
        at(i_ + 2) == '.') {
      const bool eg = word == "e" && std::tolower(static_cast<unsigned char>(at(i_ + 1))) == 'g';
      const bool ie = word == "i" && std::tolower(static_cast<unsigned char>(at(i_ + 1))) == 'e';
      if (eg || ie) {
        say(eg ? "for example" : "that is");
        i_ += 3;
        return;
      }
    }
    for (const Abbreviation& a : kAbbreviations) {
      if (word == a.written && at(i_) == '.') {
        say(a.spoken);
        ++i_;  // the abbreviation's period is no sentence end
        return;
      }
    }
    if (word == "no" && at(i_) == '.' &&
        std::isdigit(static_cast<unsigned char>(at(i_ + 1) == ' ' ? at(i_ + 2) : at(i_ + 1)))) {
      say("number");
      ++i_;
      return;
    }
    const bool known = dictionary_pronunciation(word).has_value();
    const bool acronym = upper && written.size() >= 2 && written.size() <= 5 && !known;
    if (acronym || (!vowel && !known)) {
      for (char c : word) out_.push_back({std::string(1, c), Pause::None, true});
      return;
    }
    out_.push_back({word, Pause::None, false});
  }

  void read_number() {
    const size_t start = i_;
    std::string digits;
    while (std::isdigit(static_cast<unsigned char>(at(i_))) ||
           (at(i_) == ',' && std::isdigit(static_cast<unsigned char>(at(i_ + 1))) && i_ > start)) {
      if (at(i_) != ',') digits += at(i_);
      ++i_;
    }
    std::string fraction;
    if (at(i_) == '.' && std::isdigit(static_cast<unsigned char>(at(i_ + 1)))) {
      ++i_;
      while (std::isdigit(static_cast<unsigned char>(at(i_)))) fraction += s_[i_++];
    }
    std::string words;
    const size_t first = digits.find_first_not_of('0');
    if (digits.size() > 12 && first != std::string::npos && digits.size() - first > 12) {
      for (char d : digits)
        words += std::string(words.empty() ? "" : " ") + kOnes[d - '0'];  // too long: digit by digit
    } else {
      const unsigned long long n = std::stoull(digits);
      if (digits.size() == 4 && n >= 1100 && n <= 1999 && n % 100 != 0 && fraction.empty())  // a year
        words = below_thousand(static_cast<unsigned>(n / 100)) + " " +
                (n % 100 < 10 ? "oh " + std::string(kOnes[n % 100]) : below_thousand(static_cast<unsigned>(n % 100)));
      else
        words = number_to_words(n);
    }
    if (!fraction.empty()) {
      words += " point";
      for (char d : fraction) words += std::string(" ") + kOnes[d - '0'];
    }
    std::string suffix;
    while (std::isalpha(static_cast<unsigned char>(at(i_ + suffix.size()))))
      suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(at(i_ + suffix.size()))));
    if (fraction.empty() && (suffix == "st" || suffix == "nd" || suffix == "rd" || suffix == "th")) {
      words = ordinal(words);
      i_ += 2;
    }
    if (at(i_) == '%') {
      words += " percent";
      ++i_;
    }
    if (start > 0 && s_[start - 1] == '$') words += " dollars";
    say(words);
  }

  void read_symbol() {
    const char c = s_[i_++];
    switch (c) {
      case ',':
      case ';':
      case ':':
      case '(':
      case ')':
        pause(Pause::Phrase);
        break;
      case '.':
      case '!':
        pause(Pause::Sentence);
        break;
      case '?':
        pause(Pause::Question);
        break;
      case '-':
        if (at(i_) == ' ' && i_ >= 2 && s_[i_ - 2] == ' ') pause(Pause::Phrase);
        break;
      case '&':
        say("and");
        break;
      case '+':
        say("plus");
        break;
      case '@':
        say("at");
        break;
      case '=':
        say("equals");
        break;
      case '%':
        say("percent");
        break;
      case '#':
        say("number");
        break;
      default:
        break;  // spaces, quotes, other symbols: word separators
    }
  }

  std::string s_;
  size_t i_ = 0;
  std::vector<Token> out_;
};

}  // namespace

std::string number_to_words(unsigned long long n) {
  if (n < 1000) return below_thousand(static_cast<unsigned>(n));
  static const std::pair<unsigned long long, const char*> kScales[] = {
      {1000000000ull, "billion"}, {1000000ull, "million"}, {1000ull, "thousand"}};
  std::string out;
  for (auto [scale, name] : kScales) {
    if (n >= scale) {
      out += number_to_words(n / scale) + " " + name;
      n %= scale;
      if (n) out += ' ';
    }
  }
  if (n) out += below_thousand(static_cast<unsigned>(n));
  return out;
}

std::vector<Token> normalize(std::string_view text) {
  return Reader(to_ascii(text)).read();
}

}  // namespace speech
