// Field layouts follow the HDF5 File Format Specification version 2.0 (sections II–IV); the section of each structure
// is named where it is read.
#include "nn/io/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "nn/core/error.h"

namespace nn::hdf5 {

namespace {

constexpr uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr uint64_t kUndefined = ~uint64_t{0};  // the "undefined address", whatever the offset size

// Object header message types (IV.A.2).
enum : uint16_t {
  kDataspace = 0x0001,
  kLinkInfo = 0x0002,
  kDatatype = 0x0003,
  kLink = 0x0006,
  kLayout = 0x0008,
  kFilterPipeline = 0x000B,
  kAttribute = 0x000C,
  kContinuation = 0x0010,
  kSymbolTable = 0x0011,
};

constexpr size_t kMaxMessages = 1 << 16;      // messages in one object header
constexpr size_t kMaxHeaderBlocks = 1 << 10;  // an object header's first block and its continuations
constexpr int kMaxTreeDepth = 32;             // B-tree levels
constexpr size_t kMaxTreeNodes = 1 << 20;     // B-tree and symbol-table nodes in one group walk
constexpr uint64_t kMaxElements = uint64_t{1} << 31;

uint64_t align8(uint64_t n) {
  return (n + 7) & ~uint64_t{7};
}

// The parts of a datatype message (IV.A.2.d) this reader uses.
struct Datatype {
  enum Kind { floating, fixed_string, variable_string, other } kind = other;
  uint32_t size = 0;          // bytes per element as stored
  bool big_endian = false;    // floats
  bool space_padded = false;  // fixed strings
};

// A dataspace message (IV.A.2.b): the dimensions, or none for a scalar; `null` for an empty dataspace.
struct Dataspace {
  std::vector<uint64_t> dims;
  bool null = false;
  uint64_t elements() const {
    if (null) return 0;
    uint64_t n = 1;
    for (uint64_t d : dims) n = (d != 0 && n > kMaxElements / d) ? kMaxElements + 1 : n * d;
    return std::min(n, kMaxElements + 1);  // anything over the limit reads as "limit + 1"
  }
};

}  // namespace

// Reads little-endian fields from one byte range of the file; a read past the range's end is a damaged file.
class Reader {
 public:
  Reader(const File& file, uint64_t offset, uint64_t size, const char* what) : file_(file), what_(what) {
    if (offset > file.bytes_.size() || size > file.bytes_.size() - offset) {
      file.corrupt(std::string(what) + " lies outside the file");
    }
    end_ = offset + size, at_ = offset;
  }
  Reader(const File& file, File::Span span, const char* what) : Reader(file, span.offset, span.size, what) {}

  uint64_t remaining() const { return end_ - at_; }
  uint64_t position() const { return at_; }

  uint64_t uint(int bytes) {
    const uint8_t* p = take_bytes(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(uint(1)); }
  uint16_t u16() { return static_cast<uint16_t>(uint(2)); }
  uint32_t u32() { return static_cast<uint32_t>(uint(4)); }
  uint64_t length() { return uint(file_.length_size_); }
  // A file address, kUndefined when all its bits are set.
  uint64_t address() {
    const uint64_t a = uint(file_.offset_size_);
    const uint64_t all = file_.offset_size_ == 8 ? kUndefined : (uint64_t{1} << (8 * file_.offset_size_)) - 1;
    return a == all ? kUndefined : a;
  }
  void skip(uint64_t n) { take_bytes(n); }
  const uint8_t* take_bytes(uint64_t n) {
    if (n > remaining()) file_.corrupt(std::string(what_) + " is truncated");
    const uint8_t* p = file_.bytes_.data() + at_;
    at_ += n;
    return p;
  }
  File::Span take(uint64_t n) {
    const uint64_t at = at_;
    take_bytes(n);
    return {at, n};
  }
  void expect_signature(const char* signature) {
    if (std::memcmp(take_bytes(4), signature, 4) != 0) {
      file_.corrupt(std::string(what_) + " lacks its '" + signature + "' signature");
    }
  }

 private:
  const File& file_;
  const char* what_;
  uint64_t end_ = 0, at_ = 0;
};

namespace {

Datatype read_datatype(const File& file, File::Span span) {
  Reader r(file, span, "a datatype message");
  Datatype t;
  const uint8_t class_and_version = r.u8();
  const uint8_t bits0 = r.u8();
  r.skip(2);
  t.size = r.u32();
  switch (class_and_version & 0x0F) {
    case 1: {  // floating point: bit 0 byte order, bit 6 VAX order
      const uint16_t bit_offset = r.u16(), precision = r.u16();
      if ((bits0 & 0x40) == 0 && (t.size == 4 || t.size == 8) && bit_offset == 0 && precision == 8 * t.size) {
        t.kind = Datatype::floating;
        t.big_endian = bits0 & 1;
      }
      break;
    }
    case 3:  // fixed-length string: bits 0–3 padding (2 = space padded)
      t.kind = Datatype::fixed_string;
      t.space_padded = (bits0 & 0x0F) == 2;
      break;
    case 9:  // variable length: bits 0–3 say sequence (0) or string (1)
      if ((bits0 & 0x0F) == 1) t.kind = Datatype::variable_string;
      break;
    default:
      break;
  }
  return t;
}

Dataspace read_dataspace(const File& file, File::Span span, int length_size) {
  Reader r(file, span, "a dataspace message");
  Dataspace s;
  const uint8_t version = r.u8(), rank = r.u8();
  r.u8();  // flags: maximum dimensions follow the dimensions; not needed
  if (version == 1) {
    r.skip(5);
  } else if (version == 2) {
    const uint8_t type = r.u8();  // 0 scalar, 1 simple, 2 null
    if (type > 2) file.corrupt("a dataspace has type " + std::to_string(type));
    s.null = type == 2;
  } else {
    file.corrupt("a dataspace message has version " + std::to_string(version));
  }
  if (rank > 32) file.corrupt("a dataspace has " + std::to_string(rank) + " dimensions");
  for (int i = 0; i < rank; ++i) s.dims.push_back(r.uint(length_size));
  return s;
}

}  // namespace

File::File(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(name_, "is not a file");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(name_, "cannot be read: " + ec.message());
  if (size > (uintmax_t{1} << 36)) fail(name_, "is larger than 64 GiB: not a weights file this reader will load");
  std::ifstream in(path, std::ios::binary);
  bytes_.resize(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes_.data()), static_cast<std::streamsize>(size))) {
    fail(name_, "cannot be read");
  }
  // The superblock (II.A) sits at 0, 512, 1024, 2048, … (after a user block).
  uint64_t superblock = kUndefined;
  for (uint64_t at = 0; at + 8 <= bytes_.size(); at = at ? at * 2 : 512) {
    if (std::memcmp(bytes_.data() + at, kSignature, 8) == 0) {
      superblock = at;
      break;
    }
  }
  if (superblock == kUndefined) fail(name_, "is not an HDF5 file");
  Reader r(*this, superblock, bytes_.size() - superblock, "the superblock");
  r.skip(8);
  const uint8_t version = r.u8();
  if (version > 1) unsupported("superblock version " + std::to_string(version) + ", written with libver='latest'");
  r.skip(4);  // free-space and root group symbol table versions, a reserved byte, the shared header version
  offset_size_ = r.u8();
  length_size_ = r.u8();
  if ((offset_size_ != 4 && offset_size_ != 8) || (length_size_ != 4 && length_size_ != 8)) {
    unsupported("offsets of " + std::to_string(offset_size_) + " bytes and lengths of " + std::to_string(length_size_));
  }
  r.skip(1 + 2 + 2 + 4);        // reserved, group leaf and internal node K, consistency flags
  if (version == 1) r.skip(4);  // indexed storage internal node K and reserved
  const uint64_t base = r.address();
  base_ = base == kUndefined ? superblock : base;
  r.address();                       // free-space info
  const uint64_t end = r.address();  // the file's size when written (absolute, user block included)
  if (end != kUndefined && end > bytes_.size()) {
    corrupt("it is truncated (" + std::to_string(bytes_.size()) + " bytes of the " + std::to_string(end) +
            " its superblock gives)");
  }
  r.address();  // driver info
  // The root group's symbol table entry (III.C): link name offset, object header address, cache.
  r.address();
  root_.header = r.address();
  if (root_.header == kUndefined) corrupt("the root group has no object header");
}

void File::corrupt(const std::string& what) const {
  fail(name_, "is a damaged HDF5 file: " + what);
}

void File::unsupported(const std::string& what) const {
  fail(name_, "uses an HDF5 layout this reader does not handle (" + what +
                  "); Keras weight files as h5py writes them by default are read");
}

uint64_t File::locate(uint64_t address, const char* what) const {
  if (address == kUndefined || address > bytes_.size() || base_ > bytes_.size() - address) {
    corrupt(std::string(what) + " lies outside the file");
  }
  return base_ + address;
}

std::vector<File::Message> File::messages(Object object) const {
  // Version 1 object header (IV.A.1.a): version, reserved, message count, reference count, header size, then the
  // messages, 8-byte aligned, each with type, size, flags and 3 reserved bytes. Continuation messages name further
  // blocks of messages.
  const uint64_t at = locate(object.header, "an object header");
  Reader head(*this, at, 16, "an object header");
  if (at + 4 <= bytes_.size() && std::memcmp(bytes_.data() + at, "OHDR", 4) == 0) {
    unsupported("version 2 object headers, written with libver='latest'");
  }
  const uint8_t version = head.u8();
  if (version != 1) corrupt("an object header has version " + std::to_string(version));
  head.skip(1 + 2 + 4);  // reserved, message count (the blocks' contents are what count), reference count
  const uint32_t header_size = head.u32();
  std::vector<Span> blocks{{at + 16, header_size}};
  std::set<uint64_t> seen{at + 16};
  std::vector<Message> out;
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (b >= kMaxHeaderBlocks) corrupt("an object header has too many continuation blocks");
    Reader r(*this, blocks[b], "an object header's message block");
    while (r.remaining() >= 8) {
      Message m;
      m.type = r.u16();
      const uint16_t size = r.u16();
      m.flags = r.u8();
      r.skip(3);
      m.data = r.take(size);
      if (m.type == kContinuation) {
        Reader c(*this, m.data, "a continuation message");
        const uint64_t block = locate(c.address(), "an object header continuation");
        const uint64_t length = c.length();
        if (seen.insert(block).second) blocks.push_back({block, length});
      } else if (m.type != 0) {  // 0: padding
        if (out.size() >= kMaxMessages) corrupt("an object header has too many messages");
        out.push_back(m);
      }
    }
  }
  return out;
}

std::vector<std::pair<std::string, Object>> File::members(Object group) const {
  const std::vector<Message> all = messages(group);
  auto table = std::find_if(all.begin(), all.end(), [](const Message& m) { return m.type == kSymbolTable; });
  if (table == all.end()) {
    const bool links =
        std::any_of(all.begin(), all.end(), [](const Message& m) { return m.type == kLink || m.type == kLinkInfo; });
    if (links) unsupported("groups stored as link messages, written with libver='latest' or track_order");
    fail(name_, "an object expected to be a group is not one");
  }
  // Symbol table message (IV.A.2.r): the group's v1 B-tree and its local heap of member names.
  Reader t(*this, table->data, "a symbol table message");
  const uint64_t tree = t.address(), heap = t.address();
  // Local heap (III.D): signature, version, reserved, data segment size, free list offset, data segment address.
  Reader h(*this, locate(heap, "a local heap"), 8 + 2 * static_cast<uint64_t>(length_size_) + offset_size_,
           "a local heap");
  h.expect_signature("HEAP");
  h.skip(4);
  const uint64_t names_size = h.length();
  h.length();
  const uint64_t names_at = locate(h.address(), "a local heap's data");
  Reader names(*this, names_at, names_size, "a local heap's data");
  auto name_at = [&](uint64_t offset) {
    if (offset >= names_size) corrupt("a group member's name lies outside its local heap");
    const char* begin = reinterpret_cast<const char*>(bytes_.data() + names_at + offset);
    const char* end = static_cast<const char*>(std::memchr(begin, 0, names_size - offset));
    if (!end) corrupt("a group member's name is not terminated");
    return std::string(begin, end);
  };

  std::vector<std::pair<std::string, Object>> out;
  std::set<uint64_t> visited;
  // B-tree node (III.A.1): signature, type (0 = group), level, entries used, siblings, then keys and children;
  // level-0 children are symbol table nodes (III.B), each a list of symbol table entries (III.C).
  auto walk = [&](auto&& self, uint64_t address, int level, int depth) -> void {
    const uint64_t at = locate(address, "a group B-tree node");
    if (!visited.insert(at).second) corrupt("a group B-tree refers to one node twice");
    if (visited.size() > kMaxTreeNodes || depth > kMaxTreeDepth) corrupt("a group B-tree is too large");
    Reader node(*this, at, 8 + 2 * static_cast<uint64_t>(offset_size_), "a group B-tree node");
    node.expect_signature("TREE");
    if (node.u8() != 0) corrupt("a group's B-tree is not a group B-tree");
    const int node_level = node.u8();
    if (level >= 0 && node_level != level) corrupt("a group B-tree's levels are inconsistent");
    const uint16_t entries = node.u16();
    Reader body(*this, node.position() + 2 * static_cast<uint64_t>(offset_size_),
                entries * static_cast<uint64_t>(length_size_ + offset_size_) + length_size_, "a group B-tree node");
    for (uint16_t i = 0; i < entries; ++i) {
      body.length();  // key: the heap offset of the largest name below
      const uint64_t child = body.address();
      if (node_level > 0) {
        self(self, child, node_level - 1, depth + 1);
        continue;
      }
      const uint64_t symbols = locate(child, "a symbol table node");
      if (!visited.insert(symbols).second) corrupt("a group B-tree refers to one symbol table node twice");
      Reader s(*this, symbols, 8, "a symbol table node");
      s.expect_signature("SNOD");
      s.skip(2);  // version, reserved
      const uint16_t count = s.u16();
      Reader list(*this, symbols + 8, count * (2 * static_cast<uint64_t>(offset_size_) + 24), "a symbol table node");
      for (uint16_t k = 0; k < count; ++k) {
        const uint64_t name = list.address();
        const uint64_t header = list.address();
        list.skip(24);  // cache type, reserved, scratch pad
        out.emplace_back(name_at(name), Object{header});
      }
    }
  };
  walk(walk, tree, -1, 0);
  return out;
}

std::optional<Object> File::child(Object group, const std::string& name) const {
  for (auto& [member, object] : members(group)) {
    if (member == name) return object;
  }
  return std::nullopt;
}

std::optional<Object> File::find(Object group, const std::string& path) const {
  std::optional<Object> at = group;
  size_t start = 0;
  while (at && start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    if (slash > start) at = child(*at, path.substr(start, slash - start));
    start = slash + 1;
  }
  return at;
}

std::optional<std::vector<std::string>> File::string_attribute(Object object, const std::string& name) const {
  for (const Message& m : messages(object)) {
    if (m.type != kAttribute) continue;
    // Attribute message (IV.A.2.m): version 1 pads name, datatype and dataspace to 8 bytes; 2 and 3 do not (3 adds
    // the name's character set).
    Reader r(*this, m.data, "an attribute message");
    const uint8_t version = r.u8();
    if (version < 1 || version > 3) corrupt("an attribute message has version " + std::to_string(version));
    const uint8_t flags = r.u8();
    const uint16_t name_size = r.u16(), type_size = r.u16(), space_size = r.u16();
    if (version == 3) r.u8();
    auto field = [&](uint16_t size) { return r.take(version == 1 ? align8(size) : size); };
    const Span name_span = field(name_size);
    const Span type_span{field(type_size).offset, type_size}, space_span{field(space_size).offset, space_size};
    const char* name_begin = reinterpret_cast<const char*>(bytes_.data() + name_span.offset);
    const std::string attribute(name_begin, strnlen(name_begin, name_size));
    if (attribute != name) continue;
    if (version > 1 && (flags & 3)) unsupported("attribute '" + name + "' has a shared datatype or dataspace");
    const Datatype type = read_datatype(*this, type_span);
    const uint64_t count = read_dataspace(*this, space_span, length_size_).elements();
    if (count == 0) return std::vector<std::string>{};
    if (type.kind != Datatype::fixed_string && type.kind != Datatype::variable_string) {
      fail(name_, "attribute '" + name + "' is not a list of strings");
    }
    if (type.size == 0 || count > r.remaining() / type.size) corrupt("attribute '" + name + "' is truncated");
    std::vector<std::string> out;
    if (type.kind == Datatype::fixed_string) {
      for (uint64_t i = 0; i < count; ++i) {
        const char* s = reinterpret_cast<const char*>(r.take_bytes(type.size));
        std::string value(s, strnlen(s, type.size));
        if (type.space_padded) value.erase(value.find_last_not_of(' ') + 1);
        out.push_back(std::move(value));
      }
      return out;
    }
    // Variable-length strings: each element is its length, then a global heap ID (collection address, index).
    if (type.size != 4 + static_cast<uint64_t>(offset_size_) + 4)
      corrupt("attribute '" + name + "' has a bad string size");
    std::map<uint64_t, std::map<uint32_t, Span>> collections;  // each collection parsed once
    for (uint64_t i = 0; i < count; ++i) {
      const uint32_t length = r.u32();
      const uint64_t collection = r.address();
      const uint32_t index = r.u32();
      if (length == 0) {
        out.emplace_back();
        continue;
      }
      const uint64_t at = locate(collection, "a global heap collection");
      auto [objects, fresh] = collections.try_emplace(at);
      if (fresh) {
        // Global heap collection (III.E): signature, version, reserved, size; then objects, each with index,
        // reference count, reserved, size and data padded to 8 bytes; index 0 is the free space that ends them.
        Reader head(*this, at, 8 + static_cast<uint64_t>(length_size_), "a global heap collection");
        head.expect_signature("GCOL");
        head.skip(4);
        const uint64_t size = head.length();
        if (size < 8 + static_cast<uint64_t>(length_size_)) corrupt("a global heap collection is too small");
        Reader c(*this, at, size, "a global heap collection");
        c.skip(8 + static_cast<uint64_t>(length_size_));
        while (c.remaining() >= 8 + static_cast<uint64_t>(length_size_)) {
          const uint16_t id = c.u16();
          c.skip(6);
          const uint64_t object_size = c.length();
          if (id == 0) break;
          objects->second[id] = c.take(object_size);
          c.skip(std::min(c.remaining(), align8(object_size) - object_size));
        }
      }
      auto object = objects->second.find(index);
      if (object == objects->second.end() || object->second.size < length) {
        corrupt("attribute '" + name + "' refers to a missing string");
      }
      out.emplace_back(reinterpret_cast<const char*>(bytes_.data() + object->second.offset), length);
    }
    return out;
  }
  return std::nullopt;
}

Tensor File::float_dataset(Object object, const std::string& what) const {
  const std::vector<Message> all = messages(object);
  auto find_message = [&](uint16_t type) -> const Message* {
    for (const Message& m : all) {
      if (m.type == type) return &m;
    }
    return nullptr;
  };
  const Message *space = find_message(kDataspace), *type = find_message(kDatatype), *layout = find_message(kLayout);
  if (!space || !type || !layout) fail(name_, what + " is not a dataset");
  if (find_message(kFilterPipeline)) unsupported(what + " is compressed or filtered");
  if ((space->flags | type->flags) & 2) unsupported(what + " has a shared datatype or dataspace");
  const Datatype t = read_datatype(*this, type->data);
  if (t.kind != Datatype::floating) fail(name_, what + " does not hold 32- or 64-bit floating-point numbers");
  const Dataspace s = read_dataspace(*this, space->data, length_size_);
  Shape shape;
  for (uint64_t d : s.dims) shape.push_back(static_cast<int64_t>(std::min(d, kMaxElements + 1)));
  const uint64_t count = s.elements();
  if (count > kMaxElements) fail(name_, what + " is too large: " + to_string(shape));
  // Data layout message (IV.A.2.i): versions 1–2 (dimensionality, class, address, sizes) and 3–4 (class first).
  Reader l(*this, layout->data, "a data layout message");
  const uint8_t version = l.u8();
  Span data;
  if (version == 3 || version == 4) {
    const uint8_t layout_class = l.u8();
    if (layout_class == 0) {
      data = l.take(l.u16());
    } else if (layout_class == 1) {
      const uint64_t address = l.address();
      const uint64_t size = l.length();
      if (address == kUndefined) fail(name_, what + " has no data stored");
      data = {locate(address, "a dataset's data"), size};
    } else {
      unsupported(what + " is stored in chunks");
    }
  } else if (version == 1 || version == 2) {
    const uint8_t rank = l.u8(), layout_class = l.u8();
    l.skip(5);
    uint64_t address = kUndefined;
    if (layout_class != 0) address = l.address();
    l.skip(4 * static_cast<uint64_t>(rank));
    if (layout_class == 0) {
      data = l.take(l.u32());
    } else if (layout_class == 1) {
      if (address == kUndefined) fail(name_, what + " has no data stored");
      data = {locate(address, "a dataset's data"), count * t.size};
    } else {
      unsupported(what + " is stored in chunks");
    }
  } else {
    corrupt(what + "'s data layout message has version " + std::to_string(version));
  }
  if (data.size < count * t.size) corrupt(what + " holds fewer bytes than its shape " + to_string(shape) + " needs");
  Reader values(*this, data.offset, count * t.size, "a dataset's data");  // checks it lies inside the file
  const uint8_t* p = values.take_bytes(count * t.size);
  Tensor out = Tensor::empty(shape);
  float* dst = out.data();
  for (uint64_t i = 0; i < count; ++i, p += t.size) {
    uint8_t b[8];
    for (uint32_t k = 0; k < t.size; ++k) b[k] = t.big_endian ? p[t.size - 1 - k] : p[k];
    if (t.size == 4) {
      std::memcpy(&dst[i], b, 4);
    } else {
      double d;
      std::memcpy(&d, b, 8);
      dst[i] = static_cast<float>(d);
    }
  }
  check_finite(name_, what, dst, count);  // NaN or inf weights would load and silently ruin every output
  return out;
}

}  // namespace nn::hdf5
