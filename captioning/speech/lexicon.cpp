#include "captioning/speech/lexicon.h"
#include "captioning/speech/embed.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "nn/core/error.h"

// The compact dictionary (format in scripts/make_cmudict.py), linked into the library so that the programs need
// no data files at run time.
NN_EMBED_FILE(speech_cmudict, SPEECH_CMUDICT_PATH);

namespace speech {
namespace {

// The one-character phoneme codes of cmudict.fc, mirroring PHONES in scripts/make_cmudict.py.
std::optional<Phoneme> phoneme_of_code(char c) {
  static const std::array<std::optional<Phoneme>, 128> table = [] {
    std::array<std::optional<Phoneme>, 128> t{};
    const std::pair<char, Phoneme> codes[] = {
        {'a', Phoneme::AA}, {'@', Phoneme::AE}, {'^', Phoneme::AH}, {'c', Phoneme::AO}, {'W', Phoneme::AW},
        {'Y', Phoneme::AY}, {'E', Phoneme::EH}, {'R', Phoneme::ER}, {'e', Phoneme::EY}, {'I', Phoneme::IH},
        {'i', Phoneme::IY}, {'o', Phoneme::OW}, {'O', Phoneme::OY}, {'U', Phoneme::UH}, {'u', Phoneme::UW},
        {'b', Phoneme::B},  {'C', Phoneme::CH}, {'d', Phoneme::D},  {'D', Phoneme::DH}, {'f', Phoneme::F},
        {'g', Phoneme::G},  {'h', Phoneme::HH}, {'J', Phoneme::JH}, {'k', Phoneme::K},  {'l', Phoneme::L},
        {'m', Phoneme::M},  {'n', Phoneme::N},  {'G', Phoneme::NG}, {'p', Phoneme::P},  {'r', Phoneme::R},
        {'s', Phoneme::S},  {'S', Phoneme::SH}, {'t', Phoneme::T},  {'T', Phoneme::TH}, {'v', Phoneme::V},
        {'w', Phoneme::W},  {'y', Phoneme::Y},  {'z', Phoneme::Z},  {'Z', Phoneme::ZH}};
    for (auto [c, p] : codes) t[static_cast<unsigned char>(c)] = p;
    return t;
  }();
  return static_cast<unsigned char>(c) < 128 ? table[static_cast<unsigned char>(c)] : std::nullopt;
}

// Unstressed AH is the reduced vowel, which the synthesiser gives its own (more central, shorter) target.
void reduce_schwa(Pronunciation& phones) {
  for (Phone& p : phones)
    if (p.phoneme == Phoneme::AH && p.stress == 0) p.phoneme = Phoneme::AX;
}

// The decoded dictionary: words (expanded from their front coding) and their phone codes, both sorted.
struct Dictionary {
  std::string arena;                 // every word, back to back
  std::vector<uint32_t> word_start;  // word i = arena[word_start[i], word_start[i+1])
  std::vector<std::string_view> codes;

  Dictionary() {
    std::string_view data(speech_cmudict_begin, static_cast<size_t>(speech_cmudict_end - speech_cmudict_begin));
    std::string previous;
    while (!data.empty()) {
      const size_t eol = data.find('\n');
      std::string_view line = data.substr(0, eol);
      data = eol == std::string_view::npos ? std::string_view{} : data.substr(eol + 1);
      const size_t space = line.find(' ');
      if (line.empty() || space == std::string_view::npos) continue;
      const size_t shared = std::min<size_t>(static_cast<unsigned char>(line[0]) - 48u, previous.size());
      previous.resize(shared);
      previous.append(line.substr(1, space - 1));
      word_start.push_back(static_cast<uint32_t>(arena.size()));
      arena += previous;
      codes.push_back(line.substr(space + 1));
    }
    word_start.push_back(static_cast<uint32_t>(arena.size()));
  }
  size_t size() const { return codes.size(); }
  std::string_view word(size_t i) const {
    return std::string_view(arena).substr(word_start[i], word_start[i + 1] - word_start[i]);
  }
  std::optional<std::string_view> find(std::string_view w) const {
    size_t lo = 0, hi = size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (word(mid) < w)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < size() && word(lo) == w) return codes[lo];
    return std::nullopt;
  }
};

const Dictionary& dictionary() {
  static const Dictionary d;
  return d;
}

Pronunciation decode(std::string_view code) {
  Pronunciation out;
  for (char c : code) {
    if ((c == '1' || c == '2') && !out.empty())
      out.back().stress = static_cast<uint8_t>(c - '0');
    else if (auto p = phoneme_of_code(c))
      out.push_back({*p, 0});
  }
  reduce_schwa(out);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// ---- letter-to-sound rules ----

struct LetterRule {
  const char* left;
  const char* match;
  const char* right;
  const char* phones;
};
constexpr LetterRule kRules[] = {
#include "captioning/speech/letter_rules.inc"
};

bool is_vowel_letter(char c) {
  return std::strchr("AEIOUY", c) && c;
}
bool is_consonant_letter(char c) {
  return c >= 'A' && c <= 'Z' && !is_vowel_letter(c);
}

// Whether one context symbol matches the letters at `word[i]` (stepping by `dir`), advancing `i` past them.
bool match_symbol(char symbol, const std::string& word, int& i, int dir) {
  const int n = static_cast<int>(word.size());
  auto at = [&](int k) { return k >= 0 && k < n ? word[static_cast<size_t>(k)] : ' '; };
  switch (symbol) {
    case ' ':
      if (at(i) != ' ') return false;
      i += dir;
      return true;  // word edge (outside the word)
    case '#':
      if (!is_vowel_letter(at(i))) return false;
      while (is_vowel_letter(at(i))) i += dir;
      return true;
    case ':':
      while (is_consonant_letter(at(i))) i += dir;
      return true;
    case '^':
      if (!is_consonant_letter(at(i))) return false;
      i += dir;
      return true;
    case '.':
      if (!std::strchr("BDVGJLMNRWZ", at(i)) || at(i) == ' ') return false;
      i += dir;
      return true;
    case '+':
      if (!std::strchr("EIY", at(i)) || at(i) == ' ') return false;
      i += dir;
      return true;
    case '&':
      if (dir > 0 && (word.compare(static_cast<size_t>(std::max(i, 0)), 2, "CH") == 0 ||
                      word.compare(static_cast<size_t>(std::max(i, 0)), 2, "SH") == 0)) {
        i += 2;
        return true;
      }
      if (!std::strchr("SCGZXJ", at(i)) || at(i) == ' ') return false;
      i += dir;
      return true;
    case '@':
      if (!std::strchr("TSRDLZNJ", at(i)) || at(i) == ' ') return false;
      i += dir;
      return true;
    case '%': {
      for (const char* suffix : {"ING", "ELY", "ER", "ES", "ED", "E"}) {
        const size_t len = std::strlen(suffix);
        if (i >= 0 && word.compare(static_cast<size_t>(i), len, suffix) == 0) {
          i += static_cast<int>(len);
          return true;
        }
      }
      return false;
    }
    default:
      if (at(i) != symbol) return false;
      i += dir;
      return true;
  }
}

bool rule_matches(const LetterRule& r, const std::string& word, size_t pos) {
  const size_t len = std::strlen(r.match);
  if (word.compare(pos, len, r.match) != 0) return false;
  int i = static_cast<int>(pos) - 1;
  for (int k = static_cast<int>(std::strlen(r.left)) - 1; k >= 0; --k)
    if (!match_symbol(r.left[k], word, i, -1)) return false;
  i = static_cast<int>(pos + len);
  for (const char* s = r.right; *s; ++s)
    if (!match_symbol(*s, word, i, +1)) return false;
  return true;
}

void append_phones(const char* names, Pronunciation& out) {
  std::string_view s(names);
  while (!s.empty()) {
    const size_t space = s.find(' ');
    if (auto p = phoneme_from_name(s.substr(0, space))) out.push_back({*p, 0});
    s = space == std::string_view::npos ? std::string_view{} : s.substr(space + 1);
  }
}

// The word's parts: each a dictionary word, or a dictionary word plus a plural or possessive "s".
std::optional<Pronunciation> known_part(const std::string& w) {
  if (w.size() < 2) return std::nullopt;
  if (auto p = dictionary_pronunciation(w)) return p;
  if (w.size() > 3 && w.back() == 's') {
    std::string stem = w.substr(0, w.size() - (w[w.size() - 2] == '\'' ? 2 : 1));
    if (auto p = dictionary_pronunciation(stem); p && !p->empty()) {
      const Phoneme last = p->back().phoneme;
      if (last == Phoneme::S || last == Phoneme::Z || last == Phoneme::SH || last == Phoneme::ZH ||
          last == Phoneme::CH || last == Phoneme::JH) {
        p->push_back({Phoneme::IH, 0});
        p->push_back({Phoneme::Z, 0});
      } else {
        const bool voiceless =
            last == Phoneme::P || last == Phoneme::T || last == Phoneme::K || last == Phoneme::F || last == Phoneme::TH;
        p->push_back({voiceless ? Phoneme::S : Phoneme::Z, 0});
      }
      return p;
    }
  }
  return std::nullopt;
}

// Splits `w` into two or three known parts, longest first part first; later parts' primary stresses become
// secondary, as in English compounds ("SNOW1 BOARDING" → S N OW1 B AO2 R D IH0 NG).
std::optional<Pronunciation> split_compound(const std::string& w, int depth) {
  for (size_t cut = w.size() - 4; cut >= 3 && cut < w.size(); --cut) {  // head ≥ 3 letters, tail ≥ 4
    auto head = dictionary_pronunciation(w.substr(0, cut));
    if (!head) continue;
    std::optional<Pronunciation> tail = known_part(w.substr(cut));
    if (!tail && depth > 0) tail = split_compound(w.substr(cut), depth - 1);
    if (!tail) continue;
    for (Phone& p : *tail)
      if (p.stress == 1) p.stress = 2;
    head->insert(head->end(), tail->begin(), tail->end());
    return head;
  }
  return std::nullopt;
}

}  // namespace

size_t dictionary_size() {
  return dictionary().size();
}

std::optional<Pronunciation> dictionary_pronunciation(std::string_view word) {
  if (auto code = dictionary().find(lower(word))) return decode(*code);
  return std::nullopt;
}

Pronunciation rule_pronunciation(std::string_view word) {
  std::string w;
  for (char c : word) w += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  Pronunciation out;
  for (size_t pos = 0; pos < w.size();) {
    size_t advance = 1;
    for (const LetterRule& r : kRules) {
      if (r.match[0] != w[pos] || !rule_matches(r, w, pos)) continue;
      append_phones(r.phones, out);
      advance = std::strlen(r.match);
      break;
    }
    pos += advance;
  }
  for (Phone& p : out)
    if (is_vowel(p.phoneme) && p.phoneme != Phoneme::AX) {
      p.stress = 1;
      break;
    }
  for (Phone& p : out)
    if (p.phoneme == Phoneme::AH && p.stress == 0) p.phoneme = Phoneme::AX;
  return out;
}

Lookup pronounce(std::string_view word) {
  if (word.empty()) throw nn::Error("speech: cannot pronounce an empty word");
  for (char c : word)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\''))
      throw nn::Error("speech: cannot pronounce \"" + std::string(word) + "\": only letters and apostrophes");
  const std::string w = lower(word);
  if (auto p = dictionary_pronunciation(w)) return {std::move(*p), Source::Dictionary};
  if (auto p = known_part(w)) return {std::move(*p), Source::Compound};
  if (w.size() >= 6)
    if (auto p = split_compound(w, 1)) return {std::move(*p), Source::Compound};
  return {rule_pronunciation(w), Source::Rules};
}

std::string to_arpabet(const Pronunciation& phones) {
  std::string out;
  for (const Phone& p : phones) {
    if (!out.empty()) out += ' ';
    out += phoneme_info(p.phoneme).name;
    if (is_vowel(p.phoneme)) out += static_cast<char>('0' + p.stress);
  }
  return out;
}

}  // namespace speech
