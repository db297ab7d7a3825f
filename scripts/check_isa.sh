#!/usr/bin/env bash
# Proves that a portable build carries instructions beyond baseline x86-64 only inside the dispatched kernels
# (nn/backends/cpu/isa.h): every function of the given libraries or programs that uses AVX, AVX2, AVX-512, BMI or other
# post-baseline instructions must be a kernel file's own code — a level's specialisation (…<(nn::kernels::Isa)2>…),
# or code with internal linkage in a *_fast.cpp / gemm_avx512.cpp object. Anything else (a shared template such
# as std::vector<float>'s, compiled for AVX-512 in a kernel file and kept by the linker for the whole program)
# would crash on an older processor.
#   scripts/check_isa.sh build/nn/libnn.a [more archives, objects or programs]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/check_isa.sh FILE..." >&2; exit 2; }
for file in "$@"; do
  [ -f "$file" ] || { echo "check_isa: $file: no such file" >&2; exit 2; }
  objdump -d -C --no-show-raw-insn "$file"
done | awk '
  BEGIN {
    # Non-VEX instructions beyond x86-64 (SSE3…SSE4.2, BMI1/2, LZCNT, POPCNT, MOVBE) a v3/v4 compile may emit, and
    # the tile instructions of AMX (the bf16 GEMM, the screen of the caption decoder).
    # Not tzcnt: its encoding is "rep bsf", which baseline code uses on purpose (GCC emits it for a count of
    # trailing zeros of a non-zero value, e.g. in std::from_chars): older processors run it as bsf, same result.
    post_baseline = "^(andn|bextr|blsi|blsmsk|blsr|bzhi|lzcnt|pdep|pext|mulx|rorx|sarx|shlx|shrx|movbe|popcnt|" \
      "crc32|pshufb|palignr|pmulld|ptest|round[ps][sd]|blendvp[sd]|pblendvb|insertps|pinsr[bdq]|pextr[bdq]|" \
      "pmins[bd]|pmaxs[bd]|pminu[dw]|pmaxu[dw]|haddp[sd]|movshdup|movsldup|lddqu|" \
      "ldtilecfg|sttilecfg|tileloaddt?1?|tilestored|tilerelease|tilezero|tdpb[su][su]d|tdpbf16ps|tdpfp16ps)[bwlq]?$"
  }
  # "In archive X:" and "X.o:     file format" name the member; "ADDR <name>:" starts a function.
  /file format/ { member = $1; sub(/:$/, "", member); next }
  /^[0-9a-f]+ <.*>:$/ {
    func = $0; sub(/^[0-9a-f]+ </, "", func); sub(/>:$/, "", func); level = ""; next
  }
  /^ +[0-9a-f]+:\t/ {
    split($0, parts, "\t"); insn = parts[2]; mnemonic = insn; sub(/ .*/, "", mnemonic)
    if (insn ~ /zmm|%k[0-7]|[xy]mm(1[6-9]|2[0-9]|3[01])/) this = "avx512"
    else if (mnemonic ~ /^v/ || mnemonic ~ post_baseline) this = "avx2"
    else next
    key = member SUBSEP func
    if (key in seen) { if (this == "avx512") seen[key] = "avx512"; next }
    seen[key] = this
  }
  END {
    bad = 0; allowed512 = 0; allowed2 = 0
    for (key in seen) {
      split(key, kf, SUBSEP); m = kf[1]; f = kf[2]
      kernel_file = (m ~ /_fast\.cpp\.o$/ || m ~ /gemm_avx512\.cpp\.o$/)
      own_code = (f ~ /\(anonymous namespace\)/ || f ~ /_omp_fn\./ || f ~ /<\(nn::kernels::Isa\)[0-9]>/)
      if (kernel_file && own_code) { if (seen[key] == "avx512") allowed512++; else allowed2++; continue }
      printf "check_isa: %s instructions outside a dispatched kernel: %s (in %s)\n", seen[key], f, m
      bad++
    }
    printf "isa check: %d kernel functions with AVX-512, %d with AVX2/BMI, %d functions elsewhere with either\n",
           allowed512, allowed2, bad
    exit bad > 0
  }'
