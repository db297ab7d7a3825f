// An AVX-512 SGEMM in the BLIS style — packed panels, a 14×32 register-blocked micro-kernel — used by
// kernels::gemm on processors that have AVX-512 (checked at run time). It exists because OpenBLAS is pinned to its
// AVX2 kernels on machines it does not know (OPENBLAS_CORETYPE=Haswell on this project's Zen 5 machines), which
// halves its speed there.
#pragma once

#include "nn/kernels/gemm.h"

namespace nn::kernels {

// Whether this processor runs gemm_avx512.
bool has_avx512();

// The same contract as gemm(); requires has_avx512().
void gemm_avx512(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);

}  // namespace nn::kernels
