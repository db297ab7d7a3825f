/// @file
/// A file of image features keyed by image id (format: docs/feature-cache-format.md). Appended in chunks, each
/// record framed by a mark and checksummed: after an interruption, reopening keeps every whole record, cuts a torn
/// tail, drops a damaged record wherever it lies (the file is then rewritten without it), and extraction resumes
/// with the images not yet done. Only an index (id → offset) is held in memory; get() reads a record from the file
/// (the system's page cache keeps a file read every epoch, outside the process's memory: 66 MB for Flickr8k).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nn/core/tensor.h>
#include <nn/io/image.h>
#include <nn/models/xception.h>

namespace captioning {

/// Image features on disk, keyed by image id, that survive interruption (see the file comment above).
class FeatureCache {
 public:
  /// Whether a cache labelled `old_label` holds features of this very extractor under an older name (such as
  /// "xception /abs/path/w.nnck filter=nearest", written before labels named the weights' content). Called once the
  /// records are read and before anything is rewritten, with the cache, so that it can check a record (get()): a
  /// path names a file, not its content, which may have changed since.
  using SameExtractor = std::function<bool(const std::string& old_label, const FeatureCache& records)>;

  /// Opens PATH, or creates it, for features of `dim` values made by `extractor` (a description such as
  /// "xception sha256=HEX filter=nearest"). A file made for another dim or extractor is an error naming both
  /// labels, unless `same_extractor` accepts its label: then the file is relabelled in place (atomically, every
  /// record kept) and relabelled_from() says what it was.
  FeatureCache(std::filesystem::path path, int64_t dim, std::string extractor,
               const SameExtractor& same_extractor = {});

  /// Whether features of `id` are in the file.
  bool contains(const std::string& id) const { return features_.count(id) != 0; }
  /// (1, dim), read from the file; throws nn::Error naming the file and the id when absent, or when the record on
  /// disk no longer holds its checksum (changed since it was opened). Thread-safe.
  nn::Tensor get(const std::string& id) const;
  size_t size() const { return features_.size(); }             ///< images held
  int64_t dim() const { return dim_; }                         ///< values per image
  const std::filesystem::path& path() const { return path_; }  ///< the file
  const std::string& extractor() const { return extractor_; }  ///< the label its features are made under
  /// What opening the file repaired, one sentence each (empty when nothing): damaged records dropped (how many and
  /// their ids), a version-1 file cut at its damage, an incomplete last record cut.
  std::vector<std::string> repairs() const;
  size_t damaged_on_open() const { return damaged_; }  ///< records dropped for damage (not counting a torn tail)
  bool incomplete_tail_on_open() const { return incomplete_tail_; }  ///< whether a torn last record was cut
  /// The label the file had when it was relabelled on open (empty when it was not).
  const std::string& relabelled_from() const { return relabelled_from_; }

  /// Appends (id, features (1, dim) or (dim)) records, flushed and synced together. Throws nn::Error naming the
  /// file when it cannot be written or a record has another shape or an id outside 1–1024 bytes.
  void append(const std::vector<std::pair<std::string, nn::Tensor>>& records);

 private:
  std::filesystem::path path_;
  int64_t dim_;
  std::string extractor_, relabelled_from_;
  std::map<std::string, uint64_t> features_;  // id → the offset of its first value in the file
  bool incomplete_tail_ = false;
  size_t damaged_ = 0, damaged_unreadable_ = 0;  // damaged records; those of them whose id cannot be read
  std::vector<std::string> damaged_ids_;         // the others' ids, printable
  size_t version1_lost_ = 0, version1_damage_at_ = 0;

  // Each reads records from `pos` into features_ and returns where the whole ones end.
  size_t read_version1(std::string_view bytes, size_t pos);
  size_t read_records(std::string_view bytes, size_t pos);
  void classify_damage(std::string_view piece, bool last_in_file);
  void keep(std::string_view bytes, size_t pos);  // the whole record whose id length is at `pos`
  void rewrite(std::string_view bytes);           // the records kept (offsets into `bytes`), compacted
};

/// How extract_features works through a list of images.
struct ExtractOptions {
  /// Images per forward batch and append. A batch's activations bound the memory (about 80 MB per image at full
  /// width, measured: 2 images keep extraction near 260 MB, 8 near 770 MB, at much the same speed), and a stop
  /// request waits for at most one batch.
  int chunk = 2;
  bool strict = false;                                  ///< an unreadable image is fatal instead of listed and skipped
  nn::ResizeFilter filter = nn::ResizeFilter::nearest;  ///< resizing to Xception's input (Keras's loader: nearest)
  bool progress = true;  ///< a progress bar of the images saved, with rate and ETA, on stderr
  /// Asked after every batch is saved: true stops there, every record appended so far kept (ExtractReport::stopped).
  std::function<bool()> stop;
};

/// What extract_features did.
struct ExtractReport {
  /// Images computed now; images the cache already held.
  /// @{
  size_t computed = 0, already_cached = 0;
  /// @}
  std::vector<std::string> unreadable;  ///< "path: reason"
  bool stopped = false;                 ///< ExtractOptions::stop ended it before every image was done
};

/// Computes the pooled features of every (id, image file) not in `cache` with `model` (eval mode), appending them.
ExtractReport extract_features(FeatureCache& cache, nn::Xception& model,
                               const std::vector<std::pair<std::string, std::filesystem::path>>& images,
                               const ExtractOptions& options = {});

}  // namespace captioning
