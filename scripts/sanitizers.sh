#!/usr/bin/env bash
# The test suite again under AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), in build-asan/.
# CI runs it after the README's test command. The outside-project (install) tests are left out: they build
# against the uninstrumented install.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --tests
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# Build time is most of this script's (and of CI's) time: the library at -O1 (what ASan's authors advise), line tables
# only (-g1: the reports' stack traces need no more); the test programs' own code at -O0 and under ASan alone (UBSan
# doubled their compile time; the library's and the programs' .cpp files keep both — but the test programs' copies of
# header-inline library code are uninstrumented, and the linker may keep those copies, and UBSan's vptr check of
# casts and virtual calls made in test code is gone); a unity build (every target's files compiled eight to a batch:
# each header parsed and each template instantiated once a batch — scripts/build.sh's release build keeps one file a
# compile, which checks each file's own includes; a name that two files of a batch define, in anonymous namespaces or
# as macros, fails here only); lld links. With
# -O2 -g for all, this script took 32.5 min on a 2-core AMD EPYC (Zen 3) machine of this project (51 min of CPU to
# build); -O1/-O0/-g1 made it 15 min; the rest cut the build from 13.1 to 7.3 min there (23.8 → 13.2 min of CPU).
# The digits example trains 20 epochs here, not its 60: under the sanitizers its GEMM ran 50 times slower, 340 s for
# the 60 (tests/CMakeLists.txt).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DNN_TEST_COMPILE_OPTIONS="-O0;-fno-sanitize=undefined" -DCMAKE_UNITY_BUILD=ON -DNN_BUILD_TESTS=ON \
  -DNN_BUILD_EXAMPLES=ON -DNN_BUILD_BENCHMARKS=OFF -DNN_DIGITS_TEST_EPOCHS=20 -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined -fuse-ld=lld" >&2
cmake --build build-asan -j"$(nproc)" >&2
cd build-asan
# ctest runs tests side by side, each with every core's worth of OpenMP threads: threads that spin while they wait
# (OpenMP's default) then steal the cores the others need — 14.4 s against 1.2 s for test_xception and test_conv at
# -j2 on the busy 2-core machine. Sleeping waits, unless the caller chose otherwise.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# mpi: Open MPI's own allocations trip LeakSanitizer (about 120 kB in 3,300 blocks from MPI_Init_thread …
# MPI_Finalize in a bare two-rank program), so the mpirun tests (test_distributed) stay out of this run.
# The benchmarks are not built here: conv_kernels' own checks (of kernels the tests check too) took 45 s each under
# the sanitizers. isa_confinement reads the instrumented objects' instructions, which say nothing about the shipped ones.
LSAN_OPTIONS=suppressions=$PWD/../fuzz/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$(nproc)" -LE "full|package|browser|emulated|mpi" \
  -E "^isa_confinement$" "$@"
