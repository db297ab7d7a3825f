/// @file
/// Word ids for captions. Ids are given by descending frequency, ties by first appearance (as Keras's Tokenizer),
/// after four reserved ids that no caption word can take: the original wrapped captions in "<start>"/"<end>", which
/// Keras's tokenizer turned into the ordinary words "start" and "end", merging them with real uses of those words.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

/// The captioning application: Flickr8k and synthetic data, tokenizer, caption models, training, generation,
/// evaluation and the Describer behind the programs (target nn::captioning).
namespace captioning {

/// A caption vocabulary: words ↔ ids, fitted on training captions and saved inside model bundles.
class Tokenizer {
 public:
  /// The reserved ids: padding, start and end of a caption, and every word not in the vocabulary.
  /// @{
  static constexpr int32_t kPad = 0, kStart = 1, kEnd = 2, kUnknown = 3;
  /// @}
  static constexpr int32_t kFirstWord = 4;  ///< the most frequent word's id

  /// Learns the vocabulary of `captions` (words separated by spaces); words seen fewer than `min_count` times map
  /// to kUnknown. Throws nn::Error for min_count < 1.
  static Tokenizer fit(const std::vector<std::string>& captions, int min_count = 1);

  /// Ids including the reserved ones (the output layer's width).
  int32_t vocab_size() const { return static_cast<int32_t>(words_.size()) + kFirstWord; }
  int min_count() const { return min_count_; }  ///< as fitted

  /// [kStart] ids… [kEnd] (without the two when `start_and_end` is false), unknown words as kUnknown.
  std::vector<int32_t> encode(std::string_view caption, bool start_and_end = true) const;
  /// Words up to the first kEnd; kStart and kPad skipped, kUnknown as "<unk>".
  std::string decode(std::span<const int32_t> ids) const;
  int32_t id(std::string_view word) const;  ///< kUnknown when absent
  /// The word of `id`: "<pad>", "<start>", "<end>", "<unk>" for the reserved ids; nn::Error for an id outside
  /// [0, vocab_size()).
  std::string word(int32_t id) const;

  /// A text form for model files: a header line, then one word per line in id order.
  std::string serialize() const;
  /// Throws nn::Error naming `where` on anything malformed.
  static Tokenizer deserialize(std::string_view text, const std::string& where);

 private:
  std::vector<std::string> words_;  // words_[k] has id kFirstWord + k
  std::unordered_map<std::string, int32_t> ids_;
  int min_count_ = 1;
};

}  // namespace captioning
