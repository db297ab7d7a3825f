/// @file
/// What a tensor's elements are (DType) and where they live (Device). float32 is every op's type; bfloat16 is the
/// second, for inference and feature extraction on processors with AVX512_BF16 (docs/backends.md, "How dtypes
/// flow"). f16 and int8 are named so that files and tables have room for them; no backend computes in them yet, and
/// creating such a tensor is an nn::Error.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace nn {

/// The element type of a tensor.
enum class DType : uint8_t {
  f32,   ///< IEEE float32: every op, every gradient
  bf16,  ///< bfloat16: float32's exponent, 8 bits of mantissa (2 bytes)
  f16,   ///< IEEE float16: reserved, not computed yet
  i8,    ///< int8: reserved, not computed yet
};

/// Where a tensor's storage lives.
enum class Device : uint8_t {
  cpu,  ///< host memory, from the caching allocator (nn/core/allocator.h)
};

/// The names programs write: `x.to(nn::bf16)`, `model.to(nn::f32)`.
inline constexpr DType f32 = DType::f32;
inline constexpr DType bf16 = DType::bf16;

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::bf16:
    case DType::f16:
      return 2;
    case DType::i8:
      return 1;
  }
  return 0;
}

/// "f32", "bf16", "f16", "i8".
const char* dtype_name(DType t);
/// "cpu".
const char* device_name(Device d);
/// The DType named `name` ("f32"/"float32", "bf16"/"bfloat16"); nn::Error naming `who` and the choices otherwise.
DType parse_dtype(const std::string& name, const std::string& who);
/// Whether a backend computes in `t` (f32 and bf16 today).
constexpr bool dtype_is_computed(DType t) {
  return t == DType::f32 || t == DType::bf16;
}

/// One bfloat16 value: the upper 16 bits of a float32. A struct (not uint16_t) so that Tensor::data<bfloat16>()
/// cannot be confused with integer data.
struct bfloat16 {
  uint16_t bits = 0;
};

/// float32 → bfloat16, rounded to nearest even (as vcvtneps2bf16 does); a NaN stays a (quiet) NaN.
inline bfloat16 to_bfloat16(float value) {
  uint32_t u = std::bit_cast<uint32_t>(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40)};  // NaN: keep it quiet
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<uint16_t>(u >> 16)};
}

/// bfloat16 → float32, exact.
inline float to_float(bfloat16 value) {
  return std::bit_cast<float>(static_cast<uint32_t>(value.bits) << 16);
}

/// The DType of a C++ element type: dtype_of<float>() is f32, dtype_of<bfloat16>() is bf16.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<bfloat16>() {
  return DType::bf16;
}

}  // namespace nn
