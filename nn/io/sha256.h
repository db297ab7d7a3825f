/// @file
/// SHA-256 (FIPS 180-4), incremental: feed bytes with update() in as many pieces as you like, then read the digest.
/// Used to know weights by their content (captioning/xception_weights.h) and to check downloads.
///
///     nn::Sha256 h;
///     h.update("ab");
///     h.update("c");
///     h.hex_digest();  // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace nn {

/// An incremental SHA-256. Plain value type: copy it to fork a running hash.
class Sha256 {
 public:
  /// Appends `size` bytes at `data` to the message.
  void update(const void* data, size_t size);
  /// Appends the bytes of `text`.
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// The 32-byte digest of everything fed so far; the hash itself is not changed (more may be fed afterwards).
  std::array<uint8_t, 32> digest() const;
  /// digest() as 64 lowercase hex digits, as sha256sum prints it.
  std::string hex_digest() const;

 private:
  void compress(const uint8_t* block);  // one 64-byte block into state_

  std::array<uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> buffer_{};  // the bytes of an unfinished block
  size_t buffered_ = 0;               // how many of buffer_ are used
  uint64_t length_ = 0;               // message length in bytes
};

/// The SHA-256 of `text` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view text);

/// The SHA-256 of a file's bytes as 64 lowercase hex digits (what `sha256sum FILE` prints). Throws nn::Error naming
/// the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace nn
