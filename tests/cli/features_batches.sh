#!/usr/bin/env bash
# xception_features over several images: decoded on a thread a batch ahead of the forward pass, in batches of
# --batch. Checked: the features of every image are the same at batch 1 and batch 3 (a batch of 3 runs other GEMM
# shapes than 3 of 1; the rows must not mix), the output keeps the order given, an unreadable file among them is
# reported by name (exit 1) without losing the others, and --rate prints the images per second.
#   tests/cli/features_batches.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
bin=$1/examples/xception_features
src=$2
T=$(mktemp -d /tmp/nn_features.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# Four different photos of the repository (tests/data/photos) and the bundled sample.
photos=$src/tests/data/photos
sample=$src/weights/sample_shapes.jpg
images=("$sample" "$photos/rocket.jpg" "$T/missing.jpg" "$photos/camera.png" "$photos/coffee.png")

"$bin" --random-width 0.125 --batch 1 "${images[@]}" > "$T/b1" 2> "$T/b1.err" < /dev/null
status1=$?
# One kernel thread: no batch-parallel workers (Xception's default with 2 threads or more), so batches of 3 run
# through the GEMMs whole.
NN_NUM_THREADS=1 "$bin" --random-width 0.125 --batch 3 --rate "${images[@]}" > "$T/b3" 2> "$T/b3.err" < /dev/null
status3=$?
[ "$status1" = 1 ] && [ "$status3" = 1 ] || fail "exit status $status1 / $status3 with one unreadable file (expected 1)"
grep -q "missing.jpg: cannot open" "$T/b3.err" || fail "the unreadable file is not named: $(cat "$T/b3.err")"
grep -Eq "^described 4 images in [0-9.]+ s: [0-9.]+ images/s end to end \(batch 3\)$" "$T/b3.err" ||
  fail "no --rate line: $(cat "$T/b3.err")"
# The paths, in the order given (the unreadable one left out), and the same values at both batch sizes.
expected=$(printf '%s\n' "$sample" "$photos/rocket.jpg" "$photos/camera.png" "$photos/coffee.png")
[ "$(cut -d' ' -f1 "$T/b3")" = "$expected" ] || fail "batch 3 printed the images in another order: $(cut -d' ' -f1 "$T/b3")"
# Row by row: the same path, every value within 1e-4 relative; and four distinct rows (the images did differ).
paste -d'\n' "$T/b1" "$T/b3" | awk '
  NR % 2 == 1 { n = split($0, a, " "); next }
  { m = split($0, b, " ")
    if (m != n || a[1] != b[1]) { bad = 1; next }
    for (i = 2; i <= n; ++i) { d = a[i] - b[i]; if (d < 0) d = -d; s = a[i] < 0 ? -a[i] : a[i]
                               if (d > 1e-4 * s + 1e-6) bad = 1 }
    rows[substr($0, length(b[1]) + 1)] = 1; ++count }
  END { distinct = 0; for (r in rows) ++distinct
        printf "rows %d, distinct %d\n", count, distinct; exit (bad || count != 4 || distinct != 4) }' ||
  fail "batch 3's features differ from batch 1's"
echo "features batches: $failures failures"
[ "$failures" = 0 ]
