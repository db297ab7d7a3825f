// A small, read-only HDF5 reader for the files Keras saves weights in — libnn's own, so that no byte of an untrusted
// .h5 file reaches libhdf5 (which crashes and hangs on crafted files: fuzz/regressions/fuzz_keras_h5/libhdf5_*).
//
// It reads the layout h5py writes by default (libver "earliest", the only one Keras's weight files use): superblock
// version 0 or 1, version-1 object headers with continuation blocks, groups as symbol tables (a version-1 B-tree of
// symbol-table nodes and a local heap of names), datasets stored contiguously or compactly (no chunks, no filters),
// little- or big-endian IEEE floats, and attributes of fixed-length or variable-length strings (the latter in global
// heap collections). Anything else is refused with a message naming the file and the feature, never guessed at.
//
// Every address, size and count read from the file is checked against the file before it is used; nothing is
// allocated from a size field that the file's own length does not back; B-tree walks are depth- and node-limited
// and visit no node twice, so no file can make the reader loop, recurse without bound or read out of bounds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nn/core/tensor.h"

namespace nn::hdf5 {

// An object in the file: the address of its object header.
struct Object {
  uint64_t header = 0;
};

class File {
 public:
  // Reads the whole file and its superblock. Throws nn::Error naming the file when it is not HDF5 or uses a layout
  // this reader does not handle.
  explicit File(const std::filesystem::path& path);

  Object root() const { return root_; }
  // The members of the group `group` (name, object), in the B-tree's order. Throws when `group` is not a group.
  std::vector<std::pair<std::string, Object>> members(Object group) const;
  // The member `name` (one path component) of the group `group`; nullopt when there is none.
  std::optional<Object> child(Object group, const std::string& name) const;
  // The member at a '/'-separated path below `group`; nullopt when any component is missing.
  std::optional<Object> find(Object group, const std::string& path) const;
  // The attribute `name` of `object` as a list of strings (a scalar gives one; an empty attribute of any type gives
  // none); nullopt when the object has no such attribute. Throws when it holds something other than strings.
  std::optional<std::vector<std::string>> string_attribute(Object object, const std::string& name) const;
  // The dataset `object` as float32 (float64 is converted). `what` names it in errors.
  Tensor float_dataset(Object object, const std::string& what) const;
  uint64_t size() const { return bytes_.size(); }

  const std::string& name() const { return name_; }

  struct Span {  // a byte range of the file
    uint64_t offset = 0, size = 0;
  };
  // Throw nn::Error naming the file: "is a damaged HDF5 file: what", or that it uses a layout not handled here.
  [[noreturn]] void corrupt(const std::string& what) const;
  [[noreturn]] void unsupported(const std::string& what) const;

 private:
  struct Message {
    uint16_t type = 0;
    uint8_t flags = 0;
    Span data;
  };

  std::vector<Message> messages(Object object) const;
  // Where `address` (relative to the base address) lies in the file; throws when it does not.
  uint64_t locate(uint64_t address, const char* what) const;

  friend class Reader;
  std::string name_;
  std::vector<uint8_t> bytes_;
  uint64_t base_ = 0;  // the superblock's base address: file addresses are relative to it
  int offset_size_ = 8, length_size_ = 8;
  Object root_;
};

}  // namespace nn::hdf5
