#include "captioning/sharded_features.h"

#include <algorithm>
#include <system_error>

#include <nn/core/error.h>

namespace captioning {

namespace fs = std::filesystem;

namespace {

// The part files of `cache`: PATH.part-*, sorted by name.
std::vector<fs::path> part_files(const fs::path& path) {
  std::vector<fs::path> parts;
  const std::string prefix = path.filename().string() + ".part-";
  std::error_code ec;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().starts_with(prefix)) parts.push_back(entry.path());
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

// Waits until every process has come here (a sum of nothing).
void barrier(nn::Parallel& parallel) {
  std::vector<double> nothing{0};
  parallel.sum(nothing);
}

}  // namespace

size_t merge_feature_parts(FeatureCache& cache, const std::vector<std::pair<std::string, fs::path>>& images) {
  const std::vector<fs::path> names = part_files(cache.path());
  if (names.empty()) return 0;
  std::vector<FeatureCache> parts;
  for (const fs::path& name : names) parts.emplace_back(name, cache.dim(), cache.extractor());
  size_t appended = 0;
  std::vector<std::pair<std::string, nn::Tensor>> batch;  // appended (and synced) 64 records at a time
  auto flush = [&] {
    if (!batch.empty()) cache.append(batch);
    appended += batch.size();
    batch.clear();
  };
  for (const auto& [id, file] : images) {
    if (cache.contains(id)) continue;
    for (const FeatureCache& part : parts) {
      if (!part.contains(id)) continue;
      batch.emplace_back(id, part.get(id));
      if (batch.size() == 64) flush();
      break;
    }
  }
  flush();
  for (const fs::path& name : names) {  // only once every record is in the cache, synced
    std::error_code ec;
    fs::remove(name, ec);
    if (ec)
      nn::fail(name.string(), "cannot be removed after merging it into " + cache.path().string() + ": " + ec.message());
  }
  return appended;
}

ExtractReport extract_features_sharded(FeatureCache& cache, nn::Xception& model,
                                       const std::vector<std::pair<std::string, fs::path>>& images,
                                       const ExtractOptions& options, nn::Parallel& parallel) {
  const int rank = parallel.rank(), size = parallel.size();
  // This process's chunks of the images the cache lacks (the same list on every process: the same file).
  std::vector<std::pair<std::string, fs::path>> todo, mine;
  size_t cached = 0;
  for (const auto& item : images) {
    if (cache.contains(item.first)) {
      ++cached;
    } else {
      todo.push_back(item);
    }
  }
  const size_t chunk = static_cast<size_t>(std::max(1, options.chunk));
  for (size_t k = 0; k < todo.size(); ++k) {
    if ((k / chunk) % static_cast<size_t>(size) == static_cast<size_t>(rank)) mine.push_back(todo[k]);
  }
  ExtractReport report;
  {
    FeatureCache part(cache.path().string() + ".part-" + std::to_string(rank), cache.dim(), cache.extractor());
    report = extract_features(part, model, mine, options);
  }
  std::vector<double> totals{static_cast<double>(report.computed), report.stopped ? 1.0 : 0.0};
  parallel.sum(totals);  // every part is complete (or stopped) from here
  if (rank == 0) merge_feature_parts(cache, images);
  barrier(parallel);
  if (rank != 0) cache = FeatureCache(cache.path(), cache.dim(), cache.extractor());  // with the merged records
  report.computed = static_cast<size_t>(totals[0]);
  report.already_cached = cached;
  report.stopped = totals[1] > 0;
  return report;
}

}  // namespace captioning
