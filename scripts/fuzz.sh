#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, build-fuzz/) and runs each on its committed seed corpus.
#   scripts/fuzz.sh [RUNS]          each target for RUNS executions (default 1,000,000) or 30 minutes, whichever first
#   scripts/fuzz.sh RUNS TARGET…    only those targets
# New interesting inputs go to build-fuzz/corpus/<target>/ (not committed); crashes to build-fuzz/findings/<target>/.
# Prints one line per target: executions, coverage (edges, features), corpus size, findings.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_image fuzz_checkpoint fuzz_feature_cache fuzz_flickr8k_text fuzz_keras_h5 fuzz_speech_text)
command -v clang++ >/dev/null || { echo "fuzz: needs clang (apt-get install clang libclang-rt-14-dev libomp-14-dev)" >&2; exit 1; }
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNN_BUILD_FUZZERS=ON \
  -DNN_BUILD_TESTS=OFF -DNN_BUILD_EXAMPLES=OFF -DNN_BUILD_BENCHMARKS=OFF -DNN_NATIVE=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >&2
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >&2
printf "%-20s %12s %8s %9s %7s %s\n" target executions edges features corpus findings
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/findings/$t"
  log="build-fuzz/$t.log"
  set +e
  NN_NUM_THREADS=1 OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp \
    "build-fuzz/fuzz/$t" "build-fuzz/corpus/$t" "fuzz/corpus/$t" -runs="$runs" -max_total_time=1800 \
    -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -oE '(DONE|#[0-9]+) +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  edges=$(echo "$cov" | sed -E 's/.*cov: ([0-9]+).*/\1/')
  ft=$(echo "$cov" | sed -E 's/.*ft: ([0-9]+).*/\1/')
  corp=$(echo "$cov" | sed -E 's/.*corp: ([0-9]+).*/\1/')
  findings=$(ls "build-fuzz/findings/$t" | wc -l)
  printf "%-20s %12s %8s %9s %7s %s\n" "$t" "$execs" "$edges" "$ft" "$corp" "$findings"
  [ "$rc" -eq 0 ] && [ "$findings" -eq 0 ] || status=1
done
exit $status
