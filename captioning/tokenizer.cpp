#include "captioning/tokenizer.h"

#include <algorithm>
#include <sstream>

#include <nn/core/error.h>

namespace captioning {

namespace {

template <class F>
void for_each_word(std::string_view text, F f) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) f(text.substr(i, j - i));
    i = j;
  }
}

const char* const kReservedNames[] = {"<pad>", "<start>", "<end>", "<unk>"};
constexpr std::string_view kHeader = "libnn-tokenizer 1";

}  // namespace

Tokenizer Tokenizer::fit(const std::vector<std::string>& captions, int min_count) {
  if (min_count < 1) nn::fail_expected("Tokenizer::fit", "min_count ≥ 1", std::to_string(min_count));
  std::vector<std::pair<std::string, int64_t>> counts;  // in order of first appearance
  std::unordered_map<std::string, size_t> where;
  for (const std::string& caption : captions) {
    for_each_word(caption, [&](std::string_view w) {
      auto [it, inserted] = where.try_emplace(std::string(w), counts.size());
      if (inserted) counts.emplace_back(std::string(w), 0);
      ++counts[it->second].second;
    });
  }
  // Descending frequency; stable, so ties keep their order of first appearance.
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  Tokenizer t;
  t.min_count_ = min_count;
  for (const auto& [word, count] : counts) {
    if (count < min_count) break;
    t.ids_[word] = kFirstWord + static_cast<int32_t>(t.words_.size());
    t.words_.push_back(word);
  }
  return t;
}

int32_t Tokenizer::id(std::string_view word) const {
  auto it = ids_.find(std::string(word));
  return it == ids_.end() ? kUnknown : it->second;
}

std::string Tokenizer::word(int32_t id) const {
  if (id >= 0 && id < kFirstWord) return kReservedNames[id];
  if (id < 0 || id >= vocab_size()) {
    nn::fail_expected("Tokenizer::word", "an id in [0," + std::to_string(vocab_size()) + ")", std::to_string(id));
  }
  return words_[id - kFirstWord];
}

std::vector<int32_t> Tokenizer::encode(std::string_view caption, bool start_and_end) const {
  std::vector<int32_t> ids;
  if (start_and_end) ids.push_back(kStart);
  for_each_word(caption, [&](std::string_view w) { ids.push_back(id(w)); });
  if (start_and_end) ids.push_back(kEnd);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id == kEnd) break;
    if (id == kStart || id == kPad) continue;
    if (!out.empty()) out += ' ';
    out += word(id);
  }
  return out;
}

std::string Tokenizer::serialize() const {
  std::string out = std::string(kHeader) + " min_count=" + std::to_string(min_count_) + "\n";
  for (const std::string& w : words_) out += w + "\n";
  return out;
}

Tokenizer Tokenizer::deserialize(std::string_view text, const std::string& where) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line.rfind(std::string(kHeader) + " min_count=", 0) != 0) {
    nn::fail(where, "is not a libnn tokenizer (bad header)");
  }
  Tokenizer t;
  t.min_count_ = std::atoi(line.c_str() + kHeader.size() + 11);
  while (std::getline(in, line)) {
    const std::string entry = "tokenizer word '" + nn::printable(line) + "'";
    if (line.empty() || line.find(' ') != std::string::npos) nn::fail(where, entry + " is malformed");
    if (const size_t bad = nn::invalid_utf8_at(line); bad != std::string::npos)
      nn::fail(where, entry + " is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
    if (!t.ids_.emplace(line, kFirstWord + static_cast<int32_t>(t.words_.size())).second)
      nn::fail(where, entry + " appears twice");
    t.words_.push_back(line);
  }
  return t;
}

}  // namespace captioning
