#include "nn/backends/cpu/isa.h"

#include <omp.h>

#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "nn/core/error.h"

namespace nn::kernels {
namespace {

Isa best_supported() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

// The level NN_ISA names, or the best supported one; `error` says why a setting cannot be used (then `isa` is the
// best supported level).
struct Setting {
  Isa isa = Isa::scalar;
  std::string error;
};

Setting from_environment() {
  Setting setting{.isa = best_supported()};
  const char* name = std::getenv("NN_ISA");
  if (name == nullptr || *name == '\0') return setting;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (std::string(name) != isa_name(isa)) continue;
    if (cpu_supports(isa)) {
      setting.isa = isa;
    } else {
      setting.error = std::string("this processor cannot run the ") + name + " kernels (the best it runs is " +
                      isa_name(setting.isa) + ")";
    }
    return setting;
  }
  setting.error = std::string("expected one of scalar, avx2, avx512, got '") + name + "'";
  return setting;
}

}  // namespace

bool cpu_supports(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512cd") && cpu_supports(Isa::avx2);
    case Isa::avx2:
      // x86-64-v3 as GCC compiles for it: AVX2, FMA, BMI1/2, LZCNT (andn, tzcnt… appear in any code), F16C, MOVBE.
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
             __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("lzcnt") && __builtin_cpu_supports("f16c") &&
             __builtin_cpu_supports("movbe");
    case Isa::scalar:
      return true;
  }
  return false;
#else
  return isa == Isa::scalar;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    case Isa::scalar:
      break;
  }
  return "scalar";
}

bool cpu_supports_bf16() {
#if defined(__x86_64__)
  static const bool bf16 = active_isa() == Isa::avx512 && __builtin_cpu_supports("avx512bf16");
  return bf16;
#else
  return false;
#endif
}

bool cpu_supports_vnni() {
#if defined(__x86_64__)
  static const bool vnni = active_isa() == Isa::avx512 && __builtin_cpu_supports("avx512vnni");
  return vnni;
#else
  return false;
#endif
}

namespace {

// Whether NN_AMX allows AMX and Linux granted this process the tile registers' 8 KB of data state, which stay off
// until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM, Linux ≥ 5.16; asked once, for the whole process): a refusal
// means no AMX.
bool amx_tiles_granted() {
#if defined(__x86_64__) && defined(__linux__)
  static const bool granted = [] {
    if (!__builtin_cpu_supports("amx-tile")) return false;
    const char* setting = std::getenv("NN_AMX");
    if (setting != nullptr && std::string(setting) == "0") return false;
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
#else
  return false;
#endif
}

}  // namespace

bool cpu_supports_amx() {
#if defined(__x86_64__) && defined(__linux__)
  static const bool amx = cpu_supports_bf16() && __builtin_cpu_supports("amx-bf16") && amx_tiles_granted();
  return amx;
#else
  return false;
#endif
}

bool cpu_supports_amx_int8() {
#if defined(__x86_64__) && defined(__linux__)
  // cpu_supports_vnni() too: the kernels add the depths past a tile step's with vpdpbusd.
  static const bool amx = cpu_supports_vnni() && __builtin_cpu_supports("amx-int8") && amx_tiles_granted();
  return amx;
#else
  return false;
#endif
}

Isa active_isa() {
  static const Setting setting = from_environment();
  // No exception may leave an OpenMP parallel region (it would end the process): there a bad setting gives the best
  // supported level (which the results do not depend on), and the error is raised outside: cpu_backend(), which
  // every op asks for before its kernels run, and cast, which Tensor::to calls directly, ask for the level first.
  if (!setting.error.empty() && omp_in_parallel() == 0) fail("NN_ISA", setting.error);
  return setting.isa;
}

}  // namespace nn::kernels
