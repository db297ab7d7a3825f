#!/usr/bin/env bash
# The bad-input table: every kind of wrong input a user can give each program, the message it gets and the exit
# status, and — for outputs — that nothing half-written is left behind. Run by ctest (test "bad_inputs");
#   tests/bad_inputs/run.sh BUILD_DIR [--markdown FILE]   also writes the table docs/bad-inputs.md holds.
set -uo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
markdown=${3:-}
bin=$build/examples
T=$(mktemp -d /tmp/nn_bad_inputs.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
rows=()

# Inputs.
sample=$src/weights/sample_shapes.jpg
: > "$T/empty.jpg"
echo "this is a text file, not a photo" > "$T/text.jpg"
head -c 1500 "$sample" > "$T/truncated.jpg"
# A PNG whose header claims 100000 × 100000 pixels (a 1×1 image's bytes with the IHDR size fields changed).
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x00\x00\x00\x00' > "$T/huge.png"
# Big images in small files (made by tests/bad_inputs/make_images.cpp, kept gzipped): 8000×8000 pixels as a 1 MB
# JPEG and a 200 KB PNG, and a 2 MB progressive JPEG whose AC scan is repeated 20,000 times (a scan bomb).
for f in big_8000.jpg big_8000.png scan_bomb.jpg; do gzip -dc "$src/tests/bad_inputs/$f.gz" > "$T/$f"; done
head -c 100000 "$src/weights/shapes.nnck" > "$T/truncated.nnck"
head -c 600000 "$src/tests/reference/fixtures/xception_w16_keras1.h5" > "$T/truncated.h5"
"$bin/convert_keras_weights" "$src/tests/reference/fixtures/xception_w32_keras2.h5" "$T/xception.nnck" --width 0.03125 \
  > /dev/null 2>&1 || { echo "bad_inputs: cannot make the Xception checkpoint" >&2; exit 1; }
mkdir -p "$T/resume" && cp "$src/weights/shapes.nnck" "$T/resume/last.nnck"
# A tiny data set in Flickr8k's layout, made here (no Flickr8k files needed): six copies of the sample image, each
# with two captions, four in the training split and one each in dev and test.
mkdir -p "$T/f8k/text" "$T/f8k/images"
for i in 1 2 3 4 5 6; do
  cp "$sample" "$T/f8k/images/img$i.jpg"
  printf 'img%s.jpg#0\tA yellow triangle next to a white square .\nimg%s.jpg#1\tThree shapes on grey .\n' "$i" "$i" \
    >> "$T/f8k/text/Flickr8k.token.txt"
done
printf 'img1.jpg\nimg2.jpg\nimg3.jpg\nimg4.jpg\n' > "$T/f8k/text/Flickr_8k.trainImages.txt"
echo img5.jpg > "$T/f8k/text/Flickr_8k.devImages.txt"
echo img6.jpg > "$T/f8k/text/Flickr_8k.testImages.txt"

# The image-input cases pin --model shapes: once scripts/flickr8k.sh has installed the photo model it is the default,
# and these rows (and their memory bounds) must not depend on whether it is there.

# check ID STATUS MESSAGE_SUBSTRING -- COMMAND…: runs COMMAND, compares its status and the first line of stderr.
check() {
  local id=$1 want_status=$2 want=$3
  shift 4
  local err status
  err=$("$@" 2>&1 >/dev/null)
  status=$?
  # The program's own error line ("describe: …"), else the first line (a usage text).
  local program first
  program=$(basename "$([ "$1" = full_disk ] || [ "$1" = measured ] && echo "$2" || echo "$1")")
  first=$(printf '%s\n' "$err" | grep -m1 "^$program: ")
  [ -n "$first" ] || first=$(printf '%s\n' "$err" | head -1)
  local shown=${*//$bin\//}
  shown=${shown//$T/\$T}
  shown=${shown//$src/\$SRC}
  first=${first//$T/\$T}
  first=${first//$src/\$SRC}
  if [ "$status" != "$want_status" ] || [[ "$first" != *"$want"* ]]; then
    echo "FAIL $id: $shown" >&2
    echo "  expected status $want_status and a message containing: $want" >&2
    echo "  got status $status: $first" >&2
    failures=$((failures + 1))
  fi
  rows+=("| $id | \`$shown\` | $status | ${first//|/\\|} |")
}
# No file named $1, and no temporary beside it.
nothing_left() {
  if [ -e "$1" ] || compgen -G "$1.tmp*" > /dev/null; then
    echo "FAIL: $1 (or a temporary of it) was left behind" >&2
    failures=$((failures + 1))
  fi
}
full_disk() { (trap '' XFSZ; ulimit -f 16; "$@"); }  # writes past 16 KB fail with EFBIG instead of killing
# measured COMMAND…: runs it, keeping its peak resident memory (KB) and seconds in $T/measured (GNU time, where
# installed); within MB SECONDS then checks the last measured case and notes the bounds in its row.
measured() {
  if [ -x /usr/bin/time ]; then /usr/bin/time -q -f "%M %e" -o "$T/measured" "$@"; else rm -f "$T/measured"; "$@"; fi
}
within() {
  local last=$((${#rows[@]} - 1)) kb seconds
  if [ -s "$T/measured" ]; then
    read -r kb seconds < <(tail -1 "$T/measured")
    if [ "$kb" -gt $(($1 * 1024)) ] || awk -v s="$seconds" -v l="$2" 'BEGIN { exit !(s > l) }'; then
      echo "FAIL ${rows[$last]}: peak $((kb / 1024)) MB in $seconds s, expected at most $1 MB and $2 s" >&2
      failures=$((failures + 1))
    fi
  fi
  rows[$last]="${rows[$last]% |} (peak memory ≤ $1 MB, time ≤ $2 s) |"
}

check describe-missing 1 "none.jpg: cannot open: No such file or directory" -- "$bin/describe" --model shapes "$T/none.jpg"
check describe-directory 1 "is a directory, not an image" -- "$bin/describe" --model shapes "$T"
check describe-empty 1 "empty.jpg: is empty, not an image" -- "$bin/describe" --model shapes "$T/empty.jpg"
check describe-truncated-jpeg 1 "truncated.jpg: cannot be decoded" -- "$bin/describe" --model shapes "$T/truncated.jpg"
check describe-huge-png 1 "got 100000×100000 in its header" -- "$bin/describe" --model shapes "$T/huge.png"
check describe-scan-bomb 1 "scan_bomb.jpg: is refused: more than 100 progressive scans" -- \
  measured "$bin/describe" --model shapes "$T/scan_bomb.jpg"
within 300 5
check describe-8000px-jpeg 0 "" -- measured "$bin/describe" --model shapes "$T/big_8000.jpg"
within 300 10
check describe-8000px-png 0 "" -- measured "$bin/describe" --model shapes "$T/big_8000.png"
within 300 10
check describe-text-as-jpeg 1 "text.jpg: is not a JPEG or PNG image" -- "$bin/describe" --model shapes "$T/text.jpg"
check describe-other-model 1 "is neither an image captioner nor a caption model" -- \
  "$bin/describe" "$sample" --model "$T/xception.nnck"
check describe-truncated-model 1 "truncated.nnck: " -- "$bin/describe" "$sample" --model "$T/truncated.nnck"
check describe-unknown-flag 2 "unknown option '--frobnicate'" -- "$bin/describe" "$sample" --frobnicate
check describe-misspelt-flag 2 "unknown option '--bem' (did you mean '--beam'?)" -- "$bin/describe" "$sample" --bem 3
check describe-missing-value 2 "--model needs a value (BUNDLE)" -- "$bin/describe" "$sample" --model
check describe-negative-beam 2 "--beam expects a whole number in [1, 16], got '-3'" -- "$bin/describe" "$sample" --beam -3
check describe-absurd-beam 2 "--beam expects a whole number in [1, 16], got '100000000000'" -- \
  "$bin/describe" "$sample" --beam 100000000000
check describe-unwritable-wav 1 "/proc/speech.wav: cannot write WAV" -- "$bin/describe" "$sample" --wav /proc/speech.wav
check describe-full-disk 1 "full.wav: cannot write WAV: File too large" -- full_disk "$bin/describe" "$sample" --wav "$T/full.wav"
nothing_left "$T/full.wav"
check say-no-text 2 "say: missing TEXT" -- "$bin/say" --wav "$T/x.wav"
check say-bad-rate 2 "--rate expects a number in [0.25, 4], got 'fast'" -- "$bin/say" "hello" --wav "$T/x.wav" --rate fast
check say-absurd-pitch 2 "--pitch expects a number in [50, 400], got '1e6'" -- "$bin/say" "hello" --wav "$T/x.wav" --pitch 1e6
check say-unknown-voice 2 "--voice expects male or female, got 'robot'" -- "$bin/say" "hello" --wav "$T/x.wav" --voice robot
check say-unreadable-text 1 "cannot read character U+1F600 at byte 6" -- "$bin/say" "hello 😀" --wav "$T/x.wav"
check say-unknown-flag 2 "unknown option '--loud'" -- "$bin/say" "hello" --wav "$T/x.wav" --loud 1
check say-missing-directory 1 "cannot write WAV: No such file or directory" -- "$bin/say" "hello" --wav "$T/no/dir/x.wav"
check say-full-disk 1 "cannot write WAV: File too large" -- full_disk "$bin/say" "a dog runs on the grass" --wav "$T/full2.wav"
nothing_left "$T/full2.wav"
check train-missing-data 1 "no_data" -- "$bin/train_flickr8k" --data "$T/no_data" --out "$T/out" --random-xception-width 0.03125
check train-data-is-file 1 "text.jpg" -- "$bin/train_flickr8k" --data "$T/text.jpg" --out "$T/out" --random-xception-width 0.03125
check train-negative-epochs 2 "--epochs expects a whole number in [1, 10000], got '-1'" -- \
  "$bin/train_flickr8k" --data "$T" --out "$T/out" --random-xception-width 0.03125 --epochs -1
check train-absurd-batch 2 "--batch-size expects a whole number in [1, 65536], got '99999999999'" -- \
  "$bin/train_flickr8k" --data "$T" --out "$T/out" --random-xception-width 0.03125 --batch-size 99999999999
check train-unknown-flag 2 "unknown option '--turbo'" -- "$bin/train_flickr8k" --turbo
check train-resume-other-model 1 "last.nnck: is not a caption model bundle" -- "$bin/train_flickr8k" \
  --data "$T/f8k" --out "$T/resume" --random-xception-width 0.03125 --limit 5 --epochs 1 \
  --resume --no-progress
check train-unwritable-out 1 "/proc/nn_out" -- "$bin/train_flickr8k" --data "$T/f8k" \
  --out /proc/nn_out --random-xception-width 0.03125 --limit 5 --epochs 1 --no-progress
check convert-missing 1 "none.h5" -- "$bin/convert_keras_weights" "$T/none.h5" "$T/out.nnck"
check convert-text-file 1 "text.jpg" -- "$bin/convert_keras_weights" "$T/text.jpg" "$T/out.nnck"
check convert-truncated 1 "is a damaged HDF5 file: it is truncated (600000 bytes of the" -- "$bin/convert_keras_weights" "$T/truncated.h5" "$T/out.nnck"
nothing_left "$T/out.nnck"
check convert-crafted 1 "is a damaged HDF5 file" -- "$bin/convert_keras_weights" \
  "$src/fuzz/regressions/fuzz_keras_h5/libhdf5_memcpy_overlap_global_heap.h5" "$T/out.nnck"
check convert-newer-layout 1 "does not handle (superblock version 3" -- "$bin/convert_keras_weights" \
  "$src/tests/reference/fixtures/h5/latest.h5" "$T/out.nnck"
check convert-compressed 1 "is compressed or filtered" -- "$bin/convert_keras_weights" \
  "$src/tests/reference/fixtures/h5/chunked.h5" "$T/out.nnck"
check convert-wrong-shape 1 "expected" -- "$bin/convert_keras_weights" \
  "$src/tests/reference/fixtures/xception_w32_keras2.h5" "$T/wrong.nnck" --width 0.0625
nothing_left "$T/wrong.nnck"
check convert-full-disk 1 "File too large" -- full_disk "$bin/convert_keras_weights" \
  "$src/tests/reference/fixtures/xception_w16_keras1.h5" "$T/full.nnck" --width 0.0625
nothing_left "$T/full.nnck"
check features-negative-width 2 "random-width" -- "$bin/xception_features" --random-width -1 "$sample"
check features-truncated-weights 1 "truncated.nnck" -- "$bin/xception_features" --weights "$T/truncated.nnck" "$sample"
check features-scan-bomb 1 "scan_bomb.jpg: is refused: more than 100 progressive scans" -- \
  measured "$bin/xception_features" --weights "$T/xception.nnck" "$T/scan_bomb.jpg"
within 300 5
check features-8000px-jpeg 0 "" -- measured "$bin/xception_features" --weights "$T/xception.nnck" "$T/big_8000.jpg"
within 300 10
check features-8000px-png 0 "" -- measured "$bin/xception_features" --weights "$T/xception.nnck" "$T/big_8000.png"
within 300 10
check bleu-missing 1 "none.txt" -- "$bin/bleu_score" "$T/none.txt" "$T/none.txt"
check server-bad-port 2 "--port expects a whole number in [0, 65535], got '99999'" -- "$bin/describe_server" --port 99999
check server-bad-host 1 "cannot listen on 256.0.0.1:8080" -- "$bin/describe_server" --host 256.0.0.1
check server-other-model 1 "is neither an image captioner nor a caption model" -- \
  "$bin/describe_server" --model "$T/xception.nnck"

if [ -n "$markdown" ]; then
  {
    echo "| case | command | exit | first line of the message |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } > "$markdown"
fi
echo "bad inputs: ${#rows[@]} cases, $failures failures"
[ "$failures" -eq 0 ]
