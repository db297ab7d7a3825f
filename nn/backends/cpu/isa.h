// Instruction-set levels of the hot kernels. The library is built for baseline x86-64, so that one build runs on
// every x86-64 processor; each fast kernel file of nn/backends/cpu/ (the *_fast.cpp files: conv2d, depthwise, pool,
// pointwise, rows, adam, lstm_cell, bf16, gemm_narrow; and gemm_avx512 for the avx512 level only) is compiled once per
// level with that level's -march and defines that level's specialisation of its kernels (template <> void
// conv2d_forward<Isa::avx2>(…)). The plain functions (conv2d_forward(…)) dispatch to the active level; nothing
// compiled for a higher level runs unless the processor has it. See docs/decisions.md.
#pragma once

namespace nn::kernels {

enum class Isa {
  scalar,  // baseline x86-64 (SSE2, which every x86-64 has; also the only level on other processors)
  avx2,    // x86-64-v3: AVX2 + FMA
  avx512,  // x86-64-v4: AVX-512 F/BW/DQ/VL/CD
};

// The level the dispatchers use: the best this processor runs, or the one NN_ISA=scalar|avx2|avx512 names (read
// once, at the first call). Throws nn::Error for an unknown name or a level this processor cannot run.
Isa active_isa();
// Whether this processor runs code compiled for `isa` (and this build compiled it).
bool cpu_supports(Isa isa);
const char* isa_name(Isa isa);
// Whether the bf16 GEMM runs on AVX512_BF16 (vdpbf16ps): the processor has it and the active level is avx512
// (NN_ISA=avx2 or scalar turns it off, so that the conversion fallback can be tested on any machine).
bool cpu_supports_bf16();
// Whether int8 products may use AVX512-VNNI (vpdpbusd): the processor has it and the active level is avx512.
bool cpu_supports_vnni();
// Whether the bf16 GEMM runs on AMX tiles (tdpbf16ps): cpu_supports_bf16(), the processor has AMX-BF16, NN_AMX is
// not 0, and Linux granted this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once here).
bool cpu_supports_amx();
// Whether int8 products may use AMX tiles (tdpbusd): cpu_supports_vnni(), the processor has AMX-INT8, and the tile
// data state is granted as for cpu_supports_amx() (NN_AMX=0 turns both off).
bool cpu_supports_amx_int8();

// The one switch every dispatcher goes through: calls f.template operator()<level>() for the active level.
template <class F>
decltype(auto) with_active_isa(F&& f) {
  switch (active_isa()) {
#if defined(__x86_64__)
    case Isa::avx512:
      return f.template operator()<Isa::avx512>();
    case Isa::avx2:
      return f.template operator()<Isa::avx2>();
#endif
    default:
      return f.template operator()<Isa::scalar>();
  }
}

#ifdef NN_KERNEL_ISA
// In a kernel file: the level this copy of it is being compiled for (set by nn/CMakeLists.txt).
inline constexpr Isa kCompiledIsa = Isa::NN_KERNEL_ISA;
#endif

}  // namespace nn::kernels
