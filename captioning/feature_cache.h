// A file of image features keyed by image id (format: docs/feature-cache-format.md). Appended in chunks, each
// record checksummed: after an interruption, reopening keeps every complete record, cuts a torn tail, and
// extraction resumes with the images not yet done.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nn/image.h>
#include <nn/models/xception.h>
#include <nn/tensor.h>

namespace captioning {

class FeatureCache {
 public:
  // Opens PATH, or creates it, for features of `dim` values made by `extractor` (a description such as
  // "xception width=1 filter=nearest"). A file made for another dim or extractor is an error naming both.
  FeatureCache(std::filesystem::path path, int64_t dim, std::string extractor);

  bool contains(const std::string& id) const { return features_.count(id) != 0; }
  // (1, dim); throws nn::Error naming the id when absent.
  nn::Tensor get(const std::string& id) const;
  size_t size() const { return features_.size(); }
  int64_t dim() const { return dim_; }
  // Records cut from a torn tail when the file was opened.
  size_t dropped_on_open() const { return dropped_; }

  // Appends (id, features (1, dim) or (dim)) records, flushed and synced together.
  void append(const std::vector<std::pair<std::string, nn::Tensor>>& records);

 private:
  std::filesystem::path path_;
  int64_t dim_;
  std::string extractor_;
  std::map<std::string, std::vector<float>> features_;
  size_t dropped_ = 0;
};

struct ExtractOptions {
  int chunk = 16;       // images per append (and per forward batch)
  bool strict = false;  // an unreadable image is fatal instead of listed and skipped
  nn::ResizeFilter filter = nn::ResizeFilter::nearest;
  bool progress = true;  // a progress bar with rate and ETA on stderr
};

struct ExtractReport {
  size_t computed = 0, already_cached = 0;
  std::vector<std::string> unreadable;  // "path: reason"
};

// Computes the pooled features of every (id, image file) not in `cache` with `model` (eval mode), appending them.
ExtractReport extract_features(FeatureCache& cache, nn::Xception& model,
                               const std::vector<std::pair<std::string, std::filesystem::path>>& images,
                               const ExtractOptions& options = {});

}  // namespace captioning
