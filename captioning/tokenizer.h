// Word ids for captions. Ids are given by descending frequency, ties by first appearance (as Keras's Tokenizer),
// after four reserved ids that no caption word can take: the original wrapped captions in "<start>"/"<end>", which
// Keras's tokenizer turned into the ordinary words "start" and "end", merging them with real uses of those words.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace captioning {

class Tokenizer {
 public:
  static constexpr int32_t kPad = 0, kStart = 1, kEnd = 2, kUnknown = 3;
  static constexpr int32_t kFirstWord = 4;

  // Learns the vocabulary of `captions` (words separated by spaces); words seen fewer than `min_count` times map
  // to kUnknown.
  static Tokenizer fit(const std::vector<std::string>& captions, int min_count = 1);

  // Ids including the reserved ones (the output layer's width).
  int32_t vocab_size() const { return static_cast<int32_t>(words_.size()) + kFirstWord; }
  int min_count() const { return min_count_; }

  // [kStart] ids… [kEnd], unknown words as kUnknown.
  std::vector<int32_t> encode(std::string_view caption, bool start_and_end = true) const;
  // Words up to the first kEnd; kStart and kPad skipped, kUnknown as "<unk>".
  std::string decode(std::span<const int32_t> ids) const;
  int32_t id(std::string_view word) const;  // kUnknown when absent
  std::string word(int32_t id) const;       // "<pad>", "<start>", "<end>", "<unk>" for the reserved ids

  // A text form for model files: a header line, then one word per line in id order.
  std::string serialize() const;
  // Throws nn::Error naming `where` on anything malformed.
  static Tokenizer deserialize(std::string_view text, const std::string& where);

 private:
  std::vector<std::string> words_;  // words_[k] has id kFirstWord + k
  std::unordered_map<std::string, int32_t> ids_;
  int min_count_ = 1;
};

}  // namespace captioning
