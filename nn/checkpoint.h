// Checkpoints: one versioned little-endian file of named float32 tensors and named texts, checksummed
// (format in docs/checkpoint-format.md). Every write is atomic (temporary file, fsync, rename); every read checks
// magic, version, every size against the file length before allocating, names, shapes and the checksum, and
// throws nn::Error naming the file and the tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace nn {

class Optimizer;

struct Checkpoint {
  NamedTensors tensors;                                    // in file order
  std::vector<std::pair<std::string, std::string>> texts;  // metadata: configuration, vocabulary, …

  const Tensor* find(const std::string& name) const;
  const std::string* find_text(const std::string& name) const;
};

inline constexpr uint32_t kCheckpointVersion = 1;

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
Checkpoint read_checkpoint(const std::filesystem::path& path);
// Only the texts, after checking the whole file (no tensor is kept in memory).
std::vector<std::pair<std::string, std::string>> read_checkpoint_texts(const std::filesystem::path& path);

// A module's parameters and buffers under their dotted names, an optimiser's state under "optimizer/…", and texts.
void save(const std::filesystem::path& path, const Module& module, const Optimizer* optimizer = nullptr,
          std::vector<std::pair<std::string, std::string>> texts = {});
// Loads into `module` (and `optimizer` when given), in place. Every module tensor must be present with its shape
// and nothing else may be (optimizer entries are skipped when no optimiser is given). Returns the checkpoint's
// texts. Nothing is modified unless the whole file is valid.
std::vector<std::pair<std::string, std::string>> load(const std::filesystem::path& path, Module& module,
                                                      Optimizer* optimizer = nullptr);

// Creates `path` atomically: `write` fills a temporary file beside it, which is flushed, synced and renamed over
// `path`; on any failure the temporary file is removed and `path` is untouched. Throws nn::Error naming `path`.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::FILE*)>& write);

// std::filesystem::create_directories with an nn::Error naming the path ("PATH: cannot create the folder: …").
void make_directories(const std::filesystem::path& path);

// CRC-32 (IEEE 802.3, the one zlib.crc32 computes), continuing from `crc` (0 to start).
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace nn
