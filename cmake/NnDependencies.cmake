# Every dependency is a Debian 12 package (see scripts/deps.sh for the list).

find_package(OpenMP REQUIRED COMPONENTS CXX)

# DESIGN.md item 8: the OpenMP build of OpenBLAS, so that it shares libgomp's thread pool with our kernels.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
# Debian's cblas.h is an alternative that may point at the reference BLAS; prefer OpenBLAS's own header,
# which also declares openblas_set_num_threads.
find_path(NN_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas-openmp openblas x86_64-linux-gnu/openblas-openmp aarch64-linux-gnu/openblas-openmp
  REQUIRED)

find_package(Eigen3 3.3 REQUIRED NO_MODULE)

# Model options as JSON text entries of a checkpoint (nn/io/options.cpp): cereal's JSON archive, header-only and used
# only inside libnn's sources, so it is no dependency of an installed libnn (no public header includes it).
find_package(cereal 1.3 REQUIRED CONFIG)

# JPEG decoding: libjpeg-turbo (what PIL decodes with); PNG: libpng, read row by row within a memory budget. See
# docs/decisions.md.
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)

function(nn_set_warnings target)
  # Options aggregates are meant to be partly initialised with designated initialisers (.rate = 0.5f), so the
  # -Wextra warning about the members left out is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
endfunction()

# NN_NATIVE=ON compiles everything for this machine (-march=native): faster generic code, but the binaries then run
# only on processors like this one. Off by default: the hot kernels are compiled per instruction-set level anyway.
function(nn_set_arch target)
  if(NN_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  # ISO mode (-std=c++20) turns floating-point contraction off; kernels want their multiply-adds fused.
  target_compile_options(${target} PRIVATE -ffp-contract=fast)
endfunction()
