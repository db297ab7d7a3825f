/// @file
/// Checkpoints: one versioned little-endian file of named float32 tensors and named texts, checksummed
/// (format in docs/checkpoint-format.md). Every write is atomic (temporary file, fsync, rename); every read checks
/// magic, version, every size against the file length before allocating, names, shapes and the checksum, and
/// throws nn::Error naming the file and the tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers/module.h"

namespace nn {

class Optimizer;
class LRScheduler;

/// A whole checkpoint in memory.
struct Checkpoint {
  NamedTensors tensors;                                    ///< in file order
  std::vector<std::pair<std::string, std::string>> texts;  ///< metadata: configuration, vocabulary, …

  /// The tensor or text called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
  /// The text called `name`, or nullptr.
  const std::string* find_text(const std::string& name) const;
};

/// The format version written into, and required of, every checkpoint file.
inline constexpr uint32_t kCheckpointVersion = 1;

/// Writes `checkpoint` atomically. Throws nn::Error naming the file on an empty, over-long or repeated name, an
/// undefined tensor or one of rank > 8, or a failed write.
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
/// Reads a whole checkpoint after checking all of it (see the file comment).
Checkpoint read_checkpoint(const std::filesystem::path& path);
/// Only the texts, after checking the whole file (no tensor is kept in memory).
std::vector<std::pair<std::string, std::string>> read_checkpoint_texts(const std::filesystem::path& path);

/// A module's parameters and buffers under their dotted names, an optimiser's state under "optimizer/…", a
/// learning-rate scheduler's state() under "scheduler/…", and texts.
void save(const std::filesystem::path& path, const Module& module, const Optimizer* optimizer = nullptr,
          std::vector<std::pair<std::string, std::string>> texts = {}, const LRScheduler* scheduler = nullptr);
/// Loads into `module` (and `optimizer`, `scheduler` when given), in place. Every module tensor must be present with
/// its shape and nothing else may be (optimizer and scheduler entries are skipped when no optimiser, no scheduler is
/// given). A scheduler given to a file without "scheduler/…" entries, or whose load_state refuses them, is an
/// nn::Error naming the file. Returns the checkpoint's texts. Nothing is modified unless the whole file is valid.
std::vector<std::pair<std::string, std::string>> load(const std::filesystem::path& path, Module& module,
                                                      Optimizer* optimizer = nullptr, LRScheduler* scheduler = nullptr);

/// How nn::load matches a file's tensors to a module's.
struct LoadOptions {
  /// true: every module tensor must be in the file and every file tensor in the module (the default, as the
  /// three-argument nn::load). false (fine-tuning): the tensors present in both are loaded, the others are left as
  /// they are and listed in the LoadReport.
  bool strict = true;
  /// A tensor in both with different shapes is an error (it usually means a model built with other options),
  /// unless this is set, when it is left as it is and listed in LoadReport::mismatched.
  bool skip_mismatched = false;
  /// The file's names are taken as names under this prefix of the module's: "backbone." loads a saved Xception
  /// ("block1_conv1.kernel") into a model that holds one as "backbone" ("backbone.block1_conv1.kernel"). The
  /// module's tensors outside the prefix are left as they are and listed as missing, strict or not; `strict` then
  /// applies to the tensors under the prefix.
  std::string prefix;
};

/// A tensor whose shape differs between the file and the module.
struct ShapeMismatch {
  std::string name;  ///< the module's name
  /// The tensor's shape in the file.
  Shape in_file, in_module;
  /// \var in_module
  /// The shape of the module's tensor.
};

/// What nn::load (or nn::assign_keras_weights) did, by the module's tensor names.
struct LoadReport {
  std::vector<std::pair<std::string, std::string>> texts;  ///< the checkpoint's texts
  std::vector<std::string> loaded;                         ///< module tensors given the file's values
  std::vector<std::string> missing;                        ///< module tensors the file does not have (unchanged)
  std::vector<std::string> unused;                         ///< file tensors the module does not have (the file's names)
  std::vector<ShapeMismatch> mismatched;                   ///< in both, shapes differ (unchanged; skip_mismatched only)
  /// One line: "loaded 12 tensors; missing (left as they were): head.kernel, head.bias; unused: …".
  std::string summary() const;
};

/// Loads `path` into `module` (and `optimizer`, `scheduler` when given, whose states must match as in the strict
/// load) as `options` say, and reports what was loaded, missing, unused and mismatched. The whole file is checked
/// (structure, checksum, values) before anything is modified; an error leaves module, optimiser and scheduler
/// unchanged. Throws nn::Error naming the file and the tensor: "m.nnck: tensor 'head.kernel': expected shape [8,5]
/// (the model's), got [8,7]".
LoadReport load(const std::filesystem::path& path, Module& module, const LoadOptions& options,
                Optimizer* optimizer = nullptr, LRScheduler* scheduler = nullptr);

/// Throws nn::Error naming `path` when a model of `state_numel` floats (parameters and buffers) cannot be in it,
/// i.e. the file is smaller than those tensors would be. Called before a model is built from a file's options, so
/// that options a damaged or crafted file makes large never allocate: "m.nnck: expected a file of at least 8000000
/// bytes (the tensors of the model its options describe), got 1234 bytes".
void check_model_fits(const std::filesystem::path& path, int64_t state_numel);

/// Creates `path` atomically: `write` fills a temporary file beside it, which is flushed, synced and renamed over
/// `path`; on any failure the temporary file is removed and `path` is untouched. Throws nn::Error naming `path`.
/// The temporary is PATH.tmp-PID; those of this process and of ended processes (a killed writer's) are removed
/// first, another live process's are left alone (pids are per machine: writers on several machines sharing a folder
/// must not write the same path, as only rank 0 of a data-parallel job does).
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::FILE*)>& write);

/// std::filesystem::create_directories with an nn::Error naming the path ("PATH: cannot create the folder: …").
void make_directories(const std::filesystem::path& path);

/// CRC-32 (IEEE 802.3, the one zlib.crc32 computes), continuing from `crc` (0 to start).
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace nn
