#include "nn/io/checkpoint.h"
#include "nn/io/fault.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "nn/core/error.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/scheduler.h"

static_assert(std::endian::native == std::endian::little, "the checkpoint reader assumes a little-endian host");

namespace nn {

namespace {

constexpr std::array<unsigned char, 8> kMagic{0x89, 'N', 'N', 'C', 'K', 'P', '\r', '\n'};
constexpr uint8_t kFloat32 = 1, kText = 2;
constexpr uint32_t kMaxName = 4096;
constexpr uint8_t kMaxRank = 8;
constexpr const char* kOptimizerPrefix = "optimizer/";
constexpr const char* kSchedulerPrefix = "scheduler/";

std::string quoted(const std::filesystem::path& path) {
  return path.string();
}

// ---- writing ----

struct Writer {
  std::FILE* file;
  uint32_t crc = 0;
  void bytes(const void* data, size_t size) {
    if (size == 0) return;
    if (std::fwrite(data, 1, size, file) != size) throw Error(std::string("write failed: ") + std::strerror(errno));
    crc = nn::crc32(data, size, crc);
  }
  template <class T>
  void value(T v) {
    bytes(&v, sizeof v);
  }
  void header(const std::string& name, uint8_t kind, const std::vector<uint64_t>& extents) {
    value(static_cast<uint32_t>(name.size()));
    bytes(name.data(), name.size());
    value(kind);
    value(static_cast<uint8_t>(extents.size()));
    for (uint64_t e : extents) value(e);
  }
};

void check_name(const std::filesystem::path& path, const std::string& name, std::set<std::string>& seen) {
  if (name.empty() || name.size() > kMaxName) {
    fail_expected(quoted(path), "entry names of 1 to 4096 bytes", "'" + printable(name) + "'");
  }
  if (!seen.insert(name).second) fail(quoted(path), "entry '" + printable(name) + "' appears twice");
}

// ---- reading ----

// Reads a checkpoint front to back through a stream, keeping the CRC of everything read and never reading past
// the checksum at the end. Payloads are either skipped (still checksummed) or read into memory the caller owns, so
// loading a model needs no second copy of the file.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(quoted(path), "is a directory, not a checkpoint file");
    in_.open(path, std::ios::binary);
    if (!in_) fail(quoted(path), std::string("cannot open: ") + std::strerror(errno));
    in_.seekg(0, std::ios::end);
    std::streamoff size = in_.tellg();
    in_.seekg(0);
    if (size < 0) fail(quoted(path), "cannot determine its size");
    size_ = static_cast<uint64_t>(size);
    end_ = size_ >= 4 ? size_ - 4 : 0;
  }

  uint64_t size() const { return size_; }
  uint64_t remaining() const { return end_ - pos_; }
  uint64_t position() const { return pos_; }
  uint32_t crc() const { return crc_; }

  template <class T>
  T value(const std::string& what) {
    T v;
    take(&v, sizeof v, what);
    return v;
  }
  void take(void* out, uint64_t size, const std::string& what) {
    if (size > remaining()) failure(what + " runs past the end of the file (truncated?)");
    if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(size))) failure(what + ": read failed");
    crc_ = nn::crc32(out, size, crc_);
    pos_ += size;
  }
  // Reads and checksums `size` bytes without keeping them.
  void skip(uint64_t size, const std::string& what) {
    char chunk[1 << 16];
    while (size > 0) {
      uint64_t n = std::min<uint64_t>(size, sizeof chunk);
      take(chunk, n, what);
      size -= n;
    }
  }
  uint32_t stored_crc() {
    uint32_t crc = 0;
    in_.seekg(static_cast<std::streamoff>(end_));
    if (!in_.read(reinterpret_cast<char*>(&crc), 4)) failure("cannot read the checksum");
    return crc;
  }
  // Reads `size` bytes at `offset` (a payload found by a scan) into `out`.
  void read_at(uint64_t offset, void* out, uint64_t size, const std::string& what) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(size))) failure(what + ": read failed");
  }
  [[noreturn]] void failure(const std::string& message) const { fail(quoted(path_), message); }
  std::string path() const { return quoted(path_); }

 private:
  const std::filesystem::path& path_;
  std::ifstream in_;
  uint64_t size_ = 0, end_ = 0, pos_ = 0;
  uint32_t crc_ = 0;
};

// What a scan finds: every entry's name, kind, shape and where its payload lies (texts are read on the way).
struct Entry {
  std::string name;
  uint8_t kind;
  Shape shape;
  uint64_t offset, bytes;
};

// Reads and checksums a float32 payload without keeping it; the first non-finite value of the file goes into
// `problem` (reported only once the checksum holds, so that a damaged file is called damaged).
void scan_floats(Reader& r, uint64_t bytes, const std::string& where, std::string& problem) {
  float chunk[1 << 14];
  uint64_t index = 0;
  while (bytes > 0) {
    const uint64_t n = std::min<uint64_t>(bytes, sizeof chunk);
    r.take(chunk, n, where + " data");
    if (problem.empty()) {
      try {
        check_finite(r.path(), where, chunk, n / sizeof(float), index);
      } catch (const Error& e) {
        problem = e.what();
      }
    }
    index += n / sizeof(float);
    bytes -= n;
  }
}

// Checks the whole file — structure, sizes against the file length, names, checksum — without keeping payloads.
std::vector<Entry> scan(Reader& r, std::vector<std::pair<std::string, std::string>>& texts) {
  std::array<unsigned char, 8> magic{};
  if (r.size() < kMagic.size() + 12) r.failure("not a libnn checkpoint (bad magic or too short)");
  r.take(magic.data(), magic.size(), "magic");
  if (magic != kMagic) r.failure("not a libnn checkpoint (bad magic or too short)");
  uint32_t version = r.value<uint32_t>("version");
  if (version != kCheckpointVersion) {
    r.failure("expected checkpoint version " + std::to_string(kCheckpointVersion) + ", got version " +
              std::to_string(version));
  }
  uint32_t count = r.value<uint32_t>("entry count");
  constexpr uint64_t kSmallestEntry = 4 + 1 + 1 + 1;  // name length, one name byte, kind, rank
  if (count > r.remaining() / kSmallestEntry) {
    r.failure("entry count " + std::to_string(count) + " cannot fit in a file of this size (corrupt header)");
  }
  std::vector<Entry> entries;
  std::set<std::string> seen;
  std::string problem;  // the first non-finite value or text that is not UTF-8
  for (uint32_t i = 0; i < count; ++i) {
    std::string where = "entry " + std::to_string(i);
    uint32_t name_size = r.value<uint32_t>(where + " name length");
    if (name_size == 0 || name_size > kMaxName) {
      r.failure(where + ": name length " + std::to_string(name_size) + " is not in [1, 4096]");
    }
    Entry e;
    e.name.resize(name_size);
    r.take(e.name.data(), name_size, where + " name");
    where = "tensor '" + printable(e.name) + "'";
    if (!seen.insert(e.name).second) r.failure(where + " appears twice");
    e.kind = r.value<uint8_t>(where + " kind");
    uint8_t rank = r.value<uint8_t>(where + " rank");
    if (e.kind != kFloat32 && e.kind != kText) r.failure(where + ": unknown kind " + std::to_string(e.kind));
    if (rank > kMaxRank || (e.kind == kText && rank != 1)) r.failure(where + ": bad rank " + std::to_string(rank));
    e.shape.resize(rank);
    const uint64_t element_size = e.kind == kFloat32 ? 4 : 1;
    uint64_t elements = 1;
    bool overflow = false;
    for (uint8_t a = 0; a < rank; ++a) {
      uint64_t extent = r.value<uint64_t>(where + " shape");
      if (extent != 0 && elements > (uint64_t{1} << 60) / extent) overflow = true;
      elements = overflow ? 0 : elements * extent;
      e.shape[a] = static_cast<int64_t>(extent);
    }
    // The size is checked against the bytes left before anything is allocated from it.
    if (overflow || elements * element_size > r.remaining()) {
      r.failure(where + ": needs " + (overflow ? std::string("over 2^60") : std::to_string(elements * element_size)) +
                " bytes of data but " + std::to_string(r.remaining()) +
                " remain in the file (truncated, or a corrupt size field)");
    }
    e.offset = r.position();
    e.bytes = elements * element_size;
    if (e.kind == kText) {
      std::string text(e.bytes, '\0');
      r.take(text.data(), e.bytes, where + " text");
      if (const size_t bad = invalid_utf8_at(text); bad != std::string::npos && problem.empty())
        problem =
            r.path() + ": text '" + printable(e.name) + "' is not valid UTF-8 (at byte " + std::to_string(bad) + ")";
      texts.emplace_back(e.name, std::move(text));
    } else {
      scan_floats(r, e.bytes, where, problem);
      entries.push_back(std::move(e));
    }
  }
  if (r.remaining() != 0) r.failure(std::to_string(r.remaining()) + " unexpected bytes after the last entry");
  if (r.crc() != r.stored_crc()) r.failure("checksum mismatch (the file is corrupted)");
  if (!problem.empty()) throw Error(problem);
  return entries;
}

}  // namespace

const Tensor* Checkpoint::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

const std::string* Checkpoint::find_text(const std::string& name) const {
  for (const auto& [n, t] : texts) {
    if (n == name) return &t;
  }
  return nullptr;
}

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void make_directories(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) fail(path.string(), "cannot create the folder: " + ec.message());
}

void check_model_fits(const std::filesystem::path& path, int64_t state_numel) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(quoted(path), "cannot determine its size: " + ec.message());
  const double needed = 4.0 * static_cast<double>(state_numel);
  if (needed > static_cast<double>(size)) {
    fail_expected(quoted(path),
                  "a file of at least " + std::to_string(static_cast<uint64_t>(needed)) +
                      " bytes (the tensors of the model its options describe)",
                  std::to_string(size) + " bytes");
  }
}

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::FILE*)>& write) {
  // Temporaries of this path left by a writer that was killed: nothing else would ever remove them. Only those of
  // this process and of processes that no longer exist (NAME.tmp-PID): another live process may be writing its own.
  std::error_code ec;
  const std::string stale_prefix = path.filename().string() + ".tmp-";
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stale_prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(stale_prefix.size());
    const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    const bool dead = pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    if (pid == ::getpid() || dead) std::filesystem::remove(entry.path(), ec);
  }
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) fail(quoted(path), std::string("cannot write: ") + std::strerror(errno));
  try {
    write(file);
    if (std::fflush(file) != 0) throw Error(std::string("write failed: ") + std::strerror(errno));
    fault_point("checkpoint_write");  // tests: killed with the temporary written but not in place
    if (::fsync(::fileno(file)) != 0) throw Error(std::string("write failed: ") + std::strerror(errno));
    if (std::fclose(file) != 0) {
      file = nullptr;
      throw Error(std::string("write failed: ") + std::strerror(errno));
    }
    file = nullptr;
    std::filesystem::rename(temporary, path);
  } catch (const std::exception& e) {
    if (file != nullptr) std::fclose(file);
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    fail(quoted(path), e.what());
  }
}

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  std::set<std::string> seen;
  for (const auto& [name, t] : checkpoint.tensors) {
    check_name(path, name, seen);
    if (!t.defined()) fail(quoted(path), "tensor '" + name + "' is undefined");
    if (t.rank() > kMaxRank)
      fail_expected(quoted(path), "tensors of rank ≤ 8", "'" + name + "' of rank " + std::to_string(t.rank()));
  }
  for (const auto& [name, text] : checkpoint.texts) check_name(path, name, seen);

  write_file_atomically(path, [&](std::FILE* file) {
    Writer w{file};
    w.bytes(kMagic.data(), kMagic.size());
    w.value(kCheckpointVersion);
    w.value(static_cast<uint32_t>(checkpoint.tensors.size() + checkpoint.texts.size()));
    for (const auto& [name, t] : checkpoint.tensors) {
      w.header(name, kFloat32, std::vector<uint64_t>(t.shape().begin(), t.shape().end()));
      // Checkpoints hold float32: a bf16 tensor (a model converted with to(nn::bf16)) is written widened, exactly.
      const Tensor values = t.dtype() == DType::f32 ? t : t.detach().to(DType::f32);
      w.bytes(values.data(), sizeof(float) * values.numel());
    }
    for (const auto& [name, text] : checkpoint.texts) {
      w.header(name, kText, {text.size()});
      w.bytes(text.data(), text.size());
    }
    uint32_t crc = w.crc;
    if (std::fwrite(&crc, sizeof crc, 1, file) != 1) throw Error(std::string("write failed: ") + std::strerror(errno));
  });
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  Reader r(path);
  Checkpoint out;
  for (const Entry& e : scan(r, out.texts)) {
    Tensor t = Tensor::empty(e.shape);
    r.read_at(e.offset, t.data(), e.bytes, "tensor '" + printable(e.name) + "' data");
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> read_checkpoint_texts(const std::filesystem::path& path) {
  Reader r(path);
  std::vector<std::pair<std::string, std::string>> texts;
  scan(r, texts);
  return texts;
}

void save(const std::filesystem::path& path, const Module& module, const Optimizer* optimizer,
          std::vector<std::pair<std::string, std::string>> texts, const LRScheduler* scheduler) {
  Checkpoint c;
  c.tensors = module.named_parameters();
  for (auto& entry : module.named_buffers()) c.tensors.push_back(entry);
  if (optimizer != nullptr) {
    for (auto& [name, t] : optimizer->state()) c.tensors.emplace_back(kOptimizerPrefix + name, t);
  }
  if (scheduler != nullptr) {
    for (auto& [name, t] : scheduler->state()) c.tensors.emplace_back(kSchedulerPrefix + name, t);
  }
  c.texts = std::move(texts);
  write_checkpoint(path, c);
}

std::vector<std::pair<std::string, std::string>> load(const std::filesystem::path& path, Module& module,
                                                      Optimizer* optimizer, LRScheduler* scheduler) {
  return load(path, module, LoadOptions{}, optimizer, scheduler).texts;
}

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// The state of `entries` under `prefix`, read from the file, with the prefix taken off the names.
NamedTensors read_state(Reader& r, const std::vector<const Entry*>& entries, const char* prefix) {
  NamedTensors state;
  for (const Entry* e : entries) {
    Tensor t = Tensor::empty(e->shape);
    r.read_at(e->offset, t.data(), e->bytes, "tensor '" + printable(e->name) + "' data");
    state.emplace_back(e->name.substr(std::strlen(prefix)), t);
  }
  return state;
}

// Restores the optimiser (when given) and then the scheduler (when given; its load_state sets the optimiser's rates
// from the schedule). Both load_states change nothing when they throw; if the scheduler refuses its state after
// the optimiser took its own, the optimiser is put back as it was, so that an error changes neither.
void load_training_state(Reader& r, const std::vector<const Entry*>& optimizer_entries,
                         const std::vector<const Entry*>& scheduler_entries, Optimizer* optimizer,
                         LRScheduler* scheduler) {
  if (optimizer != nullptr && optimizer_entries.empty()) r.failure("holds no optimizer state");
  if (scheduler != nullptr && scheduler_entries.empty()) r.failure("holds no learning-rate scheduler state");
  NamedTensors before;  // the optimiser's state as it was, copied (state() shares the live buffers)
  if (optimizer != nullptr && scheduler != nullptr) {
    for (const auto& [name, t] : optimizer->state()) before.emplace_back(name, t.clone());
  }
  if (optimizer != nullptr) {
    try {
      optimizer->load_state(read_state(r, optimizer_entries, kOptimizerPrefix));
    } catch (const Error& e) {
      r.failure(printable(e.what()));  // it may quote a state name from the file
    }
  }
  if (scheduler == nullptr) return;
  NamedTensors state = read_state(r, scheduler_entries, kSchedulerPrefix);
  try {
    scheduler->load_state(state);
  } catch (const Error& e) {
    if (optimizer != nullptr) optimizer->load_state(before);
    r.failure(printable(e.what()));
  }
}

}  // namespace

std::string LoadReport::summary() const {
  std::string out = "loaded " + std::to_string(loaded.size()) + " tensors";
  if (!missing.empty()) out += "; missing (left as they were): " + joined(missing);
  if (!unused.empty()) out += "; unused: " + joined(unused);
  if (!mismatched.empty()) {
    out += "; shapes differ (left as they were):";
    for (const ShapeMismatch& m : mismatched)
      out += " " + m.name + " (file " + to_string(m.in_file) + ", model " + to_string(m.in_module) + ")";
  }
  return out;
}

LoadReport load(const std::filesystem::path& path, Module& module, const LoadOptions& options, Optimizer* optimizer,
                LRScheduler* scheduler) {
  Reader r(path);
  LoadReport report;
  const std::vector<Entry> entries = scan(r, report.texts);  // the whole file is checked before anything changes
  std::map<std::string, const Entry*> given;                 // by the module's name: prefix + the file's
  std::vector<const Entry*> optimizer_entries, scheduler_entries;
  for (const Entry& e : entries) {
    if (e.name.starts_with(kOptimizerPrefix)) {
      optimizer_entries.push_back(&e);
    } else if (e.name.starts_with(kSchedulerPrefix)) {
      scheduler_entries.push_back(&e);
    } else {
      given[options.prefix + e.name] = &e;
    }
  }
  // Decide every tensor first; copy only once nothing can fail.
  NamedTensors wanted = module.named_state();
  std::vector<std::pair<Tensor, const Entry*>> copies;
  std::set<std::string> names;
  for (const auto& [name, t] : wanted) {
    names.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      if (options.strict && name.starts_with(options.prefix))
        fail(quoted(path), "tensor '" + name + "' is missing (the model has it)");
      report.missing.push_back(name);
    } else if (it->second->shape != t.shape()) {
      if (!options.skip_mismatched) {
        fail_expected(quoted(path) + ": tensor '" + name + "'", "shape " + to_string(t.shape()) + " (the model's)",
                      to_string(it->second->shape));
      }
      report.mismatched.push_back({name, it->second->shape, t.shape()});
    } else {
      copies.emplace_back(t, it->second);
      report.loaded.push_back(name);
    }
  }
  for (const Entry& e : entries) {
    if (e.name.starts_with(kOptimizerPrefix) || e.name.starts_with(kSchedulerPrefix) ||
        names.count(options.prefix + e.name))
      continue;
    if (options.strict) fail(quoted(path), "tensor '" + printable(e.name) + "' is not in the model");
    report.unused.push_back(printable(e.name));
  }
  load_training_state(r, optimizer_entries, scheduler_entries, optimizer, scheduler);
  // Payloads go straight into the model's tensors: no second copy of the weights in memory.
  for (auto& [t, e] : copies) {
    const std::string what = "tensor '" + printable(e->name) + "' data";
    if (t.dtype() == DType::f32) {
      r.read_at(e->offset, t.data(), e->bytes, what);
    } else {  // a converted model (to(nn::bf16)): read the float32 values, then round them into its tensor
      Tensor values = Tensor::empty(t.shape());
      r.read_at(e->offset, values.data(), e->bytes, what);
      t.copy_from(values.to(t.dtype()));
    }
  }
  return report;
}

}  // namespace nn
