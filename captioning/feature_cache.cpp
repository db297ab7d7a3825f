#include "captioning/feature_cache.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nn/autograd.h>
#include <nn/checkpoint.h>
#include <nn/error.h>
#include <nn/fault.h>
#include <nn/ops.h>

#include "captioning/progress.h"

namespace captioning {

namespace fs = std::filesystem;

namespace {

constexpr std::array<unsigned char, 8> kMagic{0x89, 'N', 'N', 'F', 'E', 'A', 'T', '\n'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxId = 1024, kMaxExtractor = 4096;

// The whole header: magic, version, dim, extractor.
std::string header_bytes(int64_t dim, const std::string& extractor) {
  std::string h(kMagic.begin(), kMagic.end());
  auto put = [&](uint32_t v) { h.append(reinterpret_cast<const char*>(&v), 4); };
  put(kVersion);
  put(static_cast<uint32_t>(dim));
  put(static_cast<uint32_t>(extractor.size()));
  return h + extractor;
}

}  // namespace

FeatureCache::FeatureCache(fs::path path, int64_t dim, std::string extractor)
    : path_(std::move(path)), dim_(dim), extractor_(std::move(extractor)) {
  if (dim < 1 || dim > (1 << 20)) nn::fail_expected("FeatureCache", "a feature size in [1, 2^20]", std::to_string(dim));
  const std::string where = path_.string();
  if (!fs::exists(path_)) {
    nn::write_file_atomically(path_, [&](std::FILE* f) {
      std::string h = header_bytes(dim_, extractor_);
      if (std::fwrite(h.data(), 1, h.size(), f) != h.size()) throw nn::Error("write failed");
    });
    return;
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) nn::fail(where, std::string("cannot open: ") + std::strerror(errno));
  const uint64_t size = fs::file_size(path_);
  std::array<unsigned char, 8> magic{};
  uint32_t version = 0, file_dim = 0, extractor_size = 0;
  in.read(reinterpret_cast<char*>(magic.data()), 8);
  in.read(reinterpret_cast<char*>(&version), 4);
  in.read(reinterpret_cast<char*>(&file_dim), 4);
  in.read(reinterpret_cast<char*>(&extractor_size), 4);
  if (!in || magic != kMagic) nn::fail(where, "is not a libnn feature cache (bad magic or too short)");
  if (version != kVersion) nn::fail_expected(where, "feature cache version 1", "version " + std::to_string(version));
  if (extractor_size > kMaxExtractor || 20 + extractor_size > size) nn::fail(where, "has a corrupt header");
  std::string file_extractor(extractor_size, '\0');
  in.read(file_extractor.data(), extractor_size);
  if (file_dim != dim_ || file_extractor != extractor_) {
    nn::fail_expected(where, "features of " + std::to_string(dim_) + " values from '" + extractor_ + "'",
                      std::to_string(file_dim) + " values from '" + file_extractor + "' (delete it to recompute)");
  }
  // Records: u32 id length, id, dim floats, u32 CRC-32 of all three. A bad or short record ends the good part.
  uint64_t good_end = 20 + extractor_size;
  const uint64_t record_floats = static_cast<uint64_t>(dim_) * 4;
  std::vector<float> values(dim_);
  while (good_end < size) {
    uint32_t id_size = 0, stored = 0;
    if (!in.read(reinterpret_cast<char*>(&id_size), 4) || id_size == 0 || id_size > kMaxId ||
        good_end + 8 + id_size + record_floats > size) {
      break;
    }
    std::string id(id_size, '\0');
    in.read(id.data(), id_size);
    in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(record_floats));
    in.read(reinterpret_cast<char*>(&stored), 4);
    if (!in) break;
    uint32_t crc = nn::crc32(&id_size, 4);
    crc = nn::crc32(id.data(), id.size(), crc);
    crc = nn::crc32(values.data(), record_floats, crc);
    if (crc != stored) break;
    features_[id] = values;
    good_end += 8 + id_size + record_floats;
  }
  if (good_end < size) {
    // A torn tail from an interrupted append: cut it, so that new records follow the last complete one.
    dropped_ = 1;
    in.close();
    if (::truncate(path_.c_str(), static_cast<off_t>(good_end)) != 0) {
      nn::fail(where, std::string("cannot cut its incomplete last record: ") + std::strerror(errno));
    }
  }
}

nn::Tensor FeatureCache::get(const std::string& id) const {
  auto it = features_.find(id);
  if (it == features_.end()) nn::fail(path_.string(), "has no features for image '" + id + "'");
  return nn::Tensor::from_data({1, dim_}, it->second);
}

void FeatureCache::append(const std::vector<std::pair<std::string, nn::Tensor>>& records) {
  const std::string where = path_.string();
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  if (f == nullptr) nn::fail(where, std::string("cannot append: ") + std::strerror(errno));
  bool ok = true;
  for (const auto& [id, t] : records) {
    if (id.empty() || id.size() > kMaxId || t.numel() != dim_) {
      std::fclose(f);
      nn::fail_expected(where, "records of a 1–1024-byte id and " + std::to_string(dim_) + " values",
                        "'" + id + "' with " + nn::to_string(t.shape()));
    }
    uint32_t id_size = static_cast<uint32_t>(id.size());
    uint32_t crc = nn::crc32(&id_size, 4);
    crc = nn::crc32(id.data(), id.size(), crc);
    crc = nn::crc32(t.data(), static_cast<size_t>(dim_) * 4, crc);
    ok = ok && std::fwrite(&id_size, 4, 1, f) == 1 && std::fwrite(id.data(), 1, id.size(), f) == id.size() &&
         std::fwrite(t.data(), 4, dim_, f) == static_cast<size_t>(dim_);
    if (&id == &records.front().first && records.size() > 1) {
      std::fflush(f);
      nn::fault_point("feature_append");  // tests: killed with a record on disk but its checksum missing
    }
    ok = ok && std::fwrite(&crc, 4, 1, f) == 1;
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) nn::fail(where, std::string("append failed: ") + std::strerror(errno));
  for (const auto& [id, t] : records) features_[id] = t.to_vector();
}

ExtractReport extract_features(FeatureCache& cache, nn::Xception& model,
                               const std::vector<std::pair<std::string, fs::path>>& images,
                               const ExtractOptions& options) {
  ExtractReport report;
  std::vector<std::pair<std::string, fs::path>> todo;
  for (const auto& item : images) {
    if (cache.contains(item.first)) {
      ++report.already_cached;
    } else {
      todo.push_back(item);
    }
  }
  const bool was_training = model.is_training();
  model.eval();
  nn::NoGradGuard no_grad;
  Progress progress("features", todo.size(), "img", options.progress && !todo.empty());
  const size_t chunk = static_cast<size_t>(std::max(1, options.chunk));
  for (size_t start = 0; start < todo.size(); start += chunk) {
    std::vector<nn::Tensor> inputs;
    std::vector<std::string> ids;
    for (size_t k = start; k < std::min(todo.size(), start + chunk); ++k) {
      try {
        inputs.push_back(nn::load_xception_input(todo[k].second, options.filter));
        ids.push_back(todo[k].first);
      } catch (const nn::Error& e) {
        if (options.strict) {
          model.train(was_training);
          throw;
        }
        report.unreadable.push_back(e.what());
      }
      progress.advance();
    }
    if (inputs.empty()) continue;
    nn::Tensor features = model.forward(nn::concat(inputs, 0));  // (B, dim)
    std::vector<std::pair<std::string, nn::Tensor>> records;
    for (size_t i = 0; i < ids.size(); ++i) {
      records.emplace_back(ids[i], nn::slice(features, 0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1));
    }
    cache.append(records);
    report.computed += ids.size();
  }
  progress.finish();
  model.train(was_training);
  return report;
}

}  // namespace captioning
