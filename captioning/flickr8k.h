/// @file
/// Flickr8k's text: the token file (`<image>.jpg#<k>\t<caption>`), the split files, and the original captioner's
/// cleaning. Both layouts are found: the official zips unpacked (Flickr8k_text/, Flickr8k_Dataset/) and
/// ../shared/data/flickr8k (text/, images/).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace captioning {

/// Where find_flickr8k found the files of a Flickr8k copy.
struct Flickr8kPaths {
  /// The token file, the three split files and the image folder.
  /// @{
  std::filesystem::path token_file, train_split, dev_split, test_split, images;
  /// @}
};

/// Throws nn::Error naming `dir` and the file it could not find.
Flickr8kPaths find_flickr8k(const std::filesystem::path& dir);

/// What a reader met besides good data: counted, with the first few described.
struct ReadReport {
  size_t lines = 0;                   ///< lines read
  size_t malformed_lines = 0;         ///< no '#' image key or no tab-separated caption
  size_t empty_captions = 0;          ///< empty, or empty once cleaned
  size_t unknown_ids = 0;             ///< split ids with no caption
  std::vector<std::string> warnings;  ///< the first 10, "file:line: what"
  /// Keeps `message` if fewer than 10 are kept.
  void warn(std::string message);
};

/// Image id (the file name before its first '.', which also copes with the one key written `….jpg.1#k`) → captions,
/// in file order.
using Descriptions = std::map<std::string, std::vector<std::string>>;
/// The captions of a token file. Malformed lines and empty captions are counted in `report` and skipped; `strict`
/// makes them errors (nn::Error naming the file and line).
Descriptions read_token_file(const std::filesystem::path& path, ReadReport& report, bool strict = false);

/// The original captioner's cleaning: split on white space, lowercase, strip ASCII punctuation, drop one-character
/// words and words that are not all letters.
std::string clean_caption(std::string_view caption);
/// Every caption cleaned; captions that end up empty are dropped and counted.
Descriptions clean_descriptions(const Descriptions& raw, ReadReport& report);

/// `id caption` per line, written atomically.
void write_descriptions(const std::filesystem::path& path, const Descriptions& descriptions);

/// The ids of a split file that have captions, in file order; ids without captions are counted and skipped.
std::vector<std::string> read_split(const std::filesystem::path& path, const Descriptions& descriptions,
                                    ReadReport& report);

}  // namespace captioning
