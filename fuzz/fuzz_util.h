// Shared by the fuzz targets: the loaders under test read files, so each input is written to a per-process
// scratch file first. Every target accepts only the library's documented failure (an exception with a message);
// anything else — a crash, a sanitizer report, a leak, an allocation beyond -rss_limit_mb — is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace fuzz {

inline std::filesystem::path scratch_file(const uint8_t* data, size_t size, const char* name) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("nn_fuzz_" + std::to_string(::getpid()) + "_" + name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace fuzz
