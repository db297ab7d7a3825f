#include "captioning/feature_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include <nn/autograd/autograd.h>
#include <nn/core/allocator.h>
#include <nn/core/error.h>
#include <nn/data/dataloader.h>
#include <nn/io/checkpoint.h>
#include <nn/io/fault.h>
#include <nn/ops/ops.h>

#include "captioning/progress.h"

namespace captioning {

namespace fs = std::filesystem;

namespace {

constexpr std::array<unsigned char, 8> kMagic{0x89, 'N', 'N', 'F', 'E', 'A', 'T', '\n'};
constexpr uint32_t kVersion = 2;  // version 1 (records without marks) is still read, and rewritten as version 2
constexpr std::string_view kMark{"\xF7NNREC\r\n", 8};  // begins every version-2 record
constexpr uint32_t kMaxId = 1024, kMaxExtractor = 4096;
constexpr uint64_t kHeaderSize = 20;  // magic, version, dim, extractor length; then the extractor

// The whole header: magic, version, dim, extractor.
std::string header_bytes(int64_t dim, const std::string& extractor) {
  std::string h(kMagic.begin(), kMagic.end());
  auto put = [&](uint32_t v) { h.append(reinterpret_cast<const char*>(&v), 4); };
  put(kVersion);
  put(static_cast<uint32_t>(dim));
  put(static_cast<uint32_t>(extractor.size()));
  return h + extractor;
}

// One version-2 record: mark, u32 id length, id, dim floats, u32 CRC-32 of the id length, id and floats.
std::string record_bytes(const std::string& id, const float* values, int64_t dim) {
  const uint32_t id_size = static_cast<uint32_t>(id.size());
  const size_t value_bytes = static_cast<size_t>(dim) * 4;
  uint32_t crc = nn::crc32(&id_size, 4);
  crc = nn::crc32(id.data(), id.size(), crc);
  crc = nn::crc32(values, value_bytes, crc);
  std::string r(kMark);
  r.append(reinterpret_cast<const char*>(&id_size), 4);
  r += id;
  r.append(reinterpret_cast<const char*>(values), value_bytes);
  r.append(reinterpret_cast<const char*>(&crc), 4);
  return r;
}

uint32_t u32_at(std::string_view bytes, size_t pos) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + pos, 4);
  return v;
}

// The whole record of id length, id, values and CRC at `pos` (after a mark in version 2): its end when it fits in
// `bytes` and its checksum holds, else 0.
size_t whole_record(std::string_view bytes, size_t pos, uint64_t value_bytes) {
  if (bytes.size() - pos < 4) return 0;
  const uint32_t id_size = u32_at(bytes, pos);
  if (id_size == 0 || id_size > kMaxId || bytes.size() - pos < 8 + id_size + value_bytes) return 0;
  const size_t end = pos + 8 + id_size + value_bytes;
  return nn::crc32(bytes.data() + pos, end - 4 - pos) == u32_at(bytes, end - 4) ? end : 0;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) nn::fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) nn::fail(path.string(), "cannot be read: " + ec.message());
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) nn::fail(path.string(), "cannot be read");
  return bytes;
}

std::string quoted_list(const std::vector<std::string>& ids, size_t unreadable) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += i + 1 == ids.size() && unreadable == 0 ? " and " : ", ";
    out += "'" + ids[i] + "'";
  }
  if (unreadable > 0) {
    if (!ids.empty()) out += " and ";
    out += std::to_string(unreadable) + (unreadable == 1 ? " whose id is unreadable" : " whose ids are unreadable");
  }
  return out;
}

}  // namespace

FeatureCache::FeatureCache(fs::path path, int64_t dim, std::string extractor, const SameExtractor& same_extractor)
    : path_(std::move(path)), dim_(dim), extractor_(std::move(extractor)) {
  if (dim < 1 || dim > (1 << 20)) nn::fail_expected("FeatureCache", "a feature size in [1, 2^20]", std::to_string(dim));
  const std::string where = path_.string();
  std::error_code ec;
  if (!fs::exists(path_, ec)) {  // on an error (a name too long, no permission) creating it names the path
    nn::write_file_atomically(path_, [&](std::FILE* f) {
      std::string h = header_bytes(dim_, extractor_);
      if (std::fwrite(h.data(), 1, h.size(), f) != h.size()) throw nn::Error("write failed");
    });
    return;
  }
  const std::string bytes = read_file(path_);
  if (bytes.size() < kHeaderSize ||
      !std::equal(kMagic.begin(), kMagic.end(), bytes.begin(),
                  [](unsigned char a, char b) { return a == static_cast<unsigned char>(b); }))
    nn::fail(where, "is not a libnn feature cache (bad magic or too short)");
  const uint32_t version = u32_at(bytes, 8), file_dim = u32_at(bytes, 12), extractor_size = u32_at(bytes, 16);
  if (version != 1 && version != kVersion)
    nn::fail_expected(where, "feature cache version 1 or 2", "version " + std::to_string(version));
  if (extractor_size > kMaxExtractor || kHeaderSize + extractor_size > bytes.size())
    nn::fail(where, "has a corrupt header");
  const std::string file_extractor = bytes.substr(kHeaderSize, extractor_size);
  auto refuse = [&] {
    nn::fail_expected(
        where, "features of " + std::to_string(dim_) + " values from '" + nn::printable(extractor_) + "'",
        std::to_string(file_dim) + " values from '" + nn::printable(file_extractor) + "' (delete it to recompute)");
  };
  // Another label may still be this extractor under an older name: the caller decides once the records are read.
  const bool maybe_same = file_dim == dim_ && file_extractor != extractor_ && same_extractor;
  if (!maybe_same && (file_dim != dim_ || file_extractor != extractor_)) refuse();
  const size_t records_start = kHeaderSize + extractor_size;
  const size_t good_end = version == 1 ? read_version1(bytes, records_start) : read_records(bytes, records_start);
  if (maybe_same) {
    if (!same_extractor(file_extractor, *this)) refuse();  // the file is still as it was: nothing rewritten yet
    relabelled_from_ = file_extractor;
  }
  if (version == 1 || damaged_ > 0 || !relabelled_from_.empty()) {
    rewrite(bytes);  // compacted, as version 2, under the current label: damage is reported once, new records follow
  } else if (good_end < bytes.size() && ::truncate(path_.c_str(), static_cast<off_t>(good_end)) != 0) {
    nn::fail(where, std::string("cannot cut its incomplete last record: ") + std::strerror(errno));
  }
}

size_t FeatureCache::read_version1(std::string_view bytes, size_t pos) {
  // Records follow each other with nothing to find the next one by: the first bad one ends what can be read.
  const uint64_t value_bytes = static_cast<uint64_t>(dim_) * 4;
  while (size_t end = whole_record(bytes, pos, value_bytes)) {
    keep(bytes, pos);
    pos = end;
  }
  if (pos < bytes.size()) {
    const uint32_t id_size = bytes.size() - pos >= 4 ? u32_at(bytes, pos) : 0;
    if (bytes.size() - pos < 4 || (id_size >= 1 && id_size <= kMaxId && bytes.size() - pos < 8 + id_size + value_bytes))
      incomplete_tail_ = true;
    else
      version1_lost_ = bytes.size() - pos, version1_damage_at_ = pos;
  }
  return pos;
}

size_t FeatureCache::read_records(std::string_view bytes, size_t pos) {
  const uint64_t value_bytes = static_cast<uint64_t>(dim_) * 4;
  auto whole_at = [&](size_t at) {
    return bytes.substr(at, kMark.size()) == kMark ? whole_record(bytes, at + kMark.size(), value_bytes) : 0;
  };
  size_t good_end = pos;
  while (pos < bytes.size()) {
    if (size_t end = whole_at(pos)) {
      keep(bytes, pos + kMark.size());
      pos = good_end = end;
      continue;
    }
    // Damage: skip to the next mark that begins a whole record (a mark inside the damage is a record's start too).
    size_t next = pos;
    std::vector<size_t> starts{pos};
    while ((next = bytes.find(kMark, next + 1)) != std::string_view::npos && !whole_at(next)) starts.push_back(next);
    const size_t stop = next == std::string_view::npos ? bytes.size() : next;
    starts.push_back(stop);
    for (size_t k = 0; k + 1 < starts.size(); ++k)
      classify_damage(bytes.substr(starts[k], starts[k + 1] - starts[k]),
                      stop == bytes.size() && k + 2 == starts.size());
    pos = stop;
  }
  return good_end;
}

void FeatureCache::classify_damage(std::string_view piece, bool last_in_file) {
  const uint64_t value_bytes = static_cast<uint64_t>(dim_) * 4, fixed = kMark.size() + 8 + value_bytes;
  const uint32_t id_size = piece.size() >= kMark.size() + 4 ? u32_at(piece, kMark.size()) : 0;
  const bool plausible_size = id_size >= 1 && id_size <= kMaxId;
  // A torn append: the last record of the file, shorter than its own length field says (or than any record).
  if (last_in_file && (piece.size() < kMark.size() + 4 || (plausible_size && piece.size() < fixed + id_size))) {
    incomplete_tail_ = true;
    return;
  }
  ++damaged_;
  // The id, read from where the record's own length puts it (the length field itself may be what is damaged).
  const uint64_t inferred = piece.size() >= fixed ? piece.size() - fixed : 0;
  if (inferred >= 1 && inferred <= kMaxId)
    damaged_ids_.push_back(nn::printable(piece.substr(kMark.size() + 4, inferred)));
  else
    ++damaged_unreadable_;
}

void FeatureCache::keep(std::string_view bytes, size_t pos) {
  const uint32_t id_size = u32_at(bytes, pos);
  features_[std::string(bytes.substr(pos + 4, id_size))] = pos + 4 + id_size;
}

void FeatureCache::rewrite(std::string_view bytes) {
  std::map<std::string, uint64_t> moved;
  nn::write_file_atomically(path_, [&](std::FILE* f) {
    std::string out = header_bytes(dim_, extractor_);
    for (const auto& [id, offset] : features_) {
      moved[id] = out.size() + kMark.size() + 4 + id.size();
      out += record_bytes(id, reinterpret_cast<const float*>(bytes.data() + offset), dim_);
    }
    if (std::fwrite(out.data(), 1, out.size(), f) != out.size()) throw nn::Error("write failed");
  });
  features_ = std::move(moved);
}

std::vector<std::string> FeatureCache::repairs() const {
  std::vector<std::string> out;
  if (damaged_ > 0) {
    const bool one = damaged_ == 1;
    out.push_back(std::to_string(damaged_) + (one ? " damaged record was" : " damaged records were") +
                  " dropped (image" + (one ? " " : "s ") + quoted_list(damaged_ids_, damaged_unreadable_) + "), the " +
                  std::to_string(features_.size()) + " intact ones kept; " + (one ? "it is" : "they are") +
                  " computed again");
  }
  if (version1_lost_ > 0) {
    out.push_back("the cache (version 1, records without marks) is damaged at byte " +
                  std::to_string(version1_damage_at_) + ": the " + std::to_string(version1_lost_) +
                  " bytes from there on were dropped and the " + std::to_string(features_.size()) +
                  " records before it kept; the images dropped are computed again");
  }
  if (incomplete_tail_)
    out.push_back("an incomplete last record (from an interrupted run) was dropped; it is computed again");
  return out;
}

nn::Tensor FeatureCache::get(const std::string& id) const {
  auto it = features_.find(id);
  if (it == features_.end()) nn::fail(path_.string(), "has no features for image '" + id + "'");
  // The record from its id length to its checksum, read whole and checked, so that a file changed since it was
  // opened is an error rather than wrong features.
  const size_t value_bytes = static_cast<size_t>(dim_) * 4, start = it->second - 4 - id.size();
  std::string record(8 + id.size() + value_bytes, '\0');
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) nn::fail(path_.string(), std::string("cannot open: ") + std::strerror(errno));
  const ssize_t got = ::pread(fd, record.data(), record.size(), static_cast<off_t>(start));
  ::close(fd);
  if (got != static_cast<ssize_t>(record.size()) || whole_record(record, 0, value_bytes) != record.size() ||
      record.compare(4, id.size(), id) != 0)
    nn::fail(path_.string(), "changed since it was opened: the record of image '" + id + "' is not there whole");
  nn::Tensor t = nn::Tensor::empty({1, dim_});
  std::memcpy(t.data(), record.data() + 4 + id.size(), value_bytes);
  return t;
}

void FeatureCache::append(const std::vector<std::pair<std::string, nn::Tensor>>& records) {
  const std::string where = path_.string();
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  if (f == nullptr) nn::fail(where, std::string("cannot append: ") + std::strerror(errno));
  bool ok = std::fseek(f, 0, SEEK_END) == 0;
  const long end = std::ftell(f);  // where the first new record begins
  ok = ok && end >= 0;
  std::map<std::string, uint64_t> added;
  uint64_t at = static_cast<uint64_t>(std::max(end, 0L));
  for (const auto& [id, t] : records) {
    if (id.empty() || id.size() > kMaxId || t.numel() != dim_) {
      std::fclose(f);
      nn::fail_expected(where, "records of a 1–1024-byte id and " + std::to_string(dim_) + " values",
                        "'" + id + "' with " + nn::to_string(t.shape()));
    }
    const std::string r = record_bytes(id, t.data(), dim_);
    added[id] = at + kMark.size() + 4 + id.size();
    at += r.size();
    ok = ok && std::fwrite(r.data(), 1, r.size() - 4, f) == r.size() - 4;
    if (&id == &records.front().first && records.size() > 1) {
      std::fflush(f);
      nn::fault_point("feature_append");  // tests: killed with a record on disk but its checksum missing
    }
    ok = ok && std::fwrite(r.data() + r.size() - 4, 1, 4, f) == 4;
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) nn::fail(where, std::string("append failed: ") + std::strerror(errno));
  for (const auto& [id, offset] : added) features_[id] = offset;
}

namespace {

// One forward batch, decoded on the loader's thread: the images that could be read, and what could not.
struct DecodedImages {
  std::vector<std::string> ids;
  std::vector<nn::Tensor> images;       // (1, 299, 299, 3) each
  std::vector<std::string> unreadable;  // "path: reason"
  size_t count = 0;                     // images of the list this batch covers, readable or not
};

}  // namespace

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
  // JPEG decoding and resizing run on the loader's thread, a batch ahead of the forward pass (the DataLoader's
  // prefetch), in the list's order; an unreadable image is listed, or with `strict` its error reaches us at its batch.
  nn::VectorDataset<std::pair<std::string, fs::path>> list(todo);
  auto decode = [&options](std::vector<std::pair<std::string, fs::path>>&& chunk) {
    DecodedImages d;
    d.count = chunk.size();
    for (const auto& [id, path] : chunk) {
      try {
        d.images.push_back(nn::load_xception_input(path, options.filter));
        d.ids.push_back(id);
      } catch (const nn::Error& e) {
        if (options.strict) throw;
        d.unreadable.push_back(e.what());
      }
    }
    return d;
  };
  nn::DataLoader<std::pair<std::string, fs::path>, DecodedImages> loader(
      list, decode, {.batch_size = std::max(1, options.chunk), .shuffle = false, .prefetch = 1});
  const bool was_training = model.is_training();
  model.eval();
  struct RestoreMode {
    nn::Xception& model;
    bool training;
    ~RestoreMode() { model.train(training); }
  } restore{model, was_training};
  nn::NoGradGuard no_grad;
  Progress progress("features", todo.size(), "img", options.progress && !todo.empty());
  size_t done = 0;
  // Every full batch asks for the same blocks in the same order: planned from the first when more follow (a single
  // batch would only pay for the arena).
  std::optional<nn::MemoryPlan> plan;
  if (todo.size() > static_cast<size_t>(std::max(1, options.chunk))) plan.emplace();
  auto epoch = loader.epoch(1);
  while (auto decoded = epoch.next()) {
    report.unreadable.insert(report.unreadable.end(), decoded->unreadable.begin(), decoded->unreadable.end());
    if (!decoded->images.empty()) {
      nn::Tensor batch = nn::concat(decoded->images, 0);  // (B, 299, 299, 3)
      decoded->images.clear();                            // the decoded images are in the batch now
      nn::Tensor features;                                // (B, dim)
      {
        std::optional<nn::MemoryPlanScope> scope;  // the first batch's activations planned, later ones' served
        if (plan) scope.emplace(*plan);
        features = model.forward(batch);
      }
      batch = nn::Tensor();
      std::vector<std::pair<std::string, nn::Tensor>> records;
      for (size_t i = 0; i < decoded->ids.size(); ++i) {
        records.emplace_back(decoded->ids[i],
                             nn::slice(features, 0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1));
      }
      cache.append(records);
      report.computed += decoded->ids.size();
    }
    done += decoded->count;
    progress.advance(decoded->count);  // images saved (or found unreadable), never ahead of the file
    if (done < todo.size() && options.stop && options.stop()) {
      report.stopped = true;
      break;
    }
  }
  progress.finish();
  return report;
}

}  // namespace captioning
