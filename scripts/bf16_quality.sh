#!/usr/bin/env bash
# bf16 against f32 on real photos (issue 16): the same programs and weights, --precision f32 then bf16.
#   1. Xception features (no top, average pooling): the cosine similarity of bf16 to f32 for every image of
#      ../shared/data (the six photos and the Flickr8k images), and its minimum, mean and maximum.
#   2. Xception with the ImageNet top on the six photos: whether the top-1 class is unchanged, and the top-5 overlap.
#   3. describe's caption of the bundled sample (weights/sample_shapes.jpg, --model shapes) in both precisions.
# Weights: a full-width random Xception in Keras's official layout (tests/reference/make_keras_h5.py --fan-in-scaled,
# so that activations have a trained model's size), converted by convert_keras_weights; that needs Debian's
# python3-h5py. Without it, xception_features' own random initialisation (--random-width 1, seeded) serves for the
# features and the top-5 table is left out. Pass a converted model of your own with --features MODEL.nnck and
# --top MODEL_WITH_TOP.nnck (e.g. the real ImageNet weights from weights/download.sh).
#
#   scripts/bf16_quality.sh [--build DIR] [--limit N] [--features MODEL.nnck] [--top MODEL.nnck]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
limit=0
features_model=""
top_model=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --features) features_model=$2; shift 2 ;;
    --top) top_model=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bf16_quality.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
data="$here/../shared/data"
[[ -d "$data" ]] || { echo "bf16_quality.sh: $data is not here (the photos live there)" >&2; exit 1; }
for program in xception_features describe convert_keras_weights; do
  [[ -x "$build/examples/$program" ]] || { echo "bf16_quality.sh: build $build/examples/$program first" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The images: the six photos, then the Flickr8k images (--limit N: the first N of those).
mapfile -t photos < <(find "$data/photos" -type f \( -name '*.png' -o -name '*.jpg' \) | sort)
mapfile -t flickr < <(find "$data/flickr8k/images" -type f -name '*.jpg' | sort)
if [[ $limit -gt 0 ]]; then flickr=("${flickr[@]:0:$limit}"); fi

if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  if [[ -z $features_model ]]; then
    features_model="$scratch/notop.nnck"
    "$here/tests/reference/make_keras_h5.py" 1 "$scratch/notop.h5" "$scratch/sums.txt" --notop --fan-in-scaled >/dev/null
    "$build/examples/convert_keras_weights" "$scratch/notop.h5" "$features_model" >"$scratch/log" 2>&1 ||
      { cat "$scratch/log" >&2; exit 1; }
  fi
  if [[ -z $top_model ]]; then
    top_model="$scratch/top.nnck"
    "$here/tests/reference/make_keras_h5.py" 1 "$scratch/top.h5" "$scratch/sums.txt" --fan-in-scaled >/dev/null
    "$build/examples/convert_keras_weights" "$scratch/top.h5" "$top_model" >"$scratch/log" 2>&1 ||
      { cat "$scratch/log" >&2; exit 1; }
  fi
fi
weights=(--random-width 1)
what="xception_features' random full-width Xception (no python3-h5py)"
if [[ -n $features_model ]]; then
  weights=(--weights "$features_model")
  what="$(basename "$features_model")"
fi

echo "features: ${#photos[@]} photos and ${#flickr[@]} Flickr8k images, weights: $what"
for precision in f32 bf16; do
  start=$SECONDS
  "$build/examples/xception_features" "${weights[@]}" --precision $precision "${photos[@]}" "${flickr[@]}" \
    >"$scratch/features_$precision.txt"
  echo "  $precision pass: $((SECONDS - start)) s"
done
python3 - "$scratch/features_f32.txt" "$scratch/features_bf16.txt" "${#photos[@]}" <<'EOF'
import math, os, sys
def read(path):
    out = {}
    for line in open(path):
        words = line.split()
        out[words[0]] = [float(v) for v in words[1:]]
    return out
f32, bf16, photos = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
rows = []
for path, a in f32.items():
    b = bf16[path]
    dot = sum(x * y for x, y in zip(a, b))
    cos = dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    worst = max(abs(x - y) for x, y in zip(a, b)) / max(max(abs(x) for x in a), 1e-30)
    rows.append((os.path.basename(path), cos, worst))
print("%-32s %12s %18s" % ("image", "cosine", "max |Δ| / max |f32|"))
for i, (name, cos, worst) in enumerate(rows):
    if i < photos or cos < 0.999:
        print("%-32s %12.7f %18.2e" % (name, cos, worst))
if len(rows) > photos:
    print("%-32s (the other %d Flickr8k rows: all >= 0.999)" % ("...", sum(1 for r in rows[photos:] if r[1] >= 0.999)))
cosines = [r[1] for r in rows]
print("cosine over %d images: min %.7f, mean %.7f, max %.7f; below 0.999: %d" %
      (len(rows), min(cosines), sum(cosines) / len(cosines), max(cosines), sum(c < 0.999 for c in cosines)))
EOF

if [[ -n $top_model ]]; then
  echo
  echo "classifier top ($(basename "$top_model")) on the ${#photos[@]} photos:"
  for precision in f32 bf16; do
    "$build/examples/xception_features" --weights "$top_model" --precision $precision "${photos[@]}" \
      >"$scratch/top_$precision.txt"
  done
  python3 - "$scratch/top_f32.txt" "$scratch/top_bf16.txt" <<'EOF'
import os, sys
def read(path):  # path, rank, class, probability per line
    out = {}
    for line in open(path):
        path_, rank, label, p = line.rstrip("\n").split("\t")
        out.setdefault(path_, []).append((label, float(p)))
    return out
f32, bf16 = read(sys.argv[1]), read(sys.argv[2])
same = 0
print("%-24s %10s %10s %6s %8s %22s" % ("image", "top-1 f32", "top-1 bf16", "same", "top-5 ∩", "f32 p1 − p2 (margin)"))
for path, a in f32.items():
    b = bf16[path]
    overlap = len({l for l, _ in a} & {l for l, _ in b})
    same += a[0][0] == b[0][0]
    print("%-24s %10s %10s %6s %6d/5 %22.4f" % (os.path.basename(path), a[0][0], b[0][0],
                                                 "yes" if a[0][0] == b[0][0] else "NO", overlap, a[0][1] - a[1][1]))
print("top-1 unchanged for %d of %d photos" % (same, len(f32)))
EOF
fi

echo
sample="$here/weights/sample_shapes.jpg"
f32_caption=$("$build/examples/describe" --model shapes --precision f32 "$sample")
bf16_caption=$("$build/examples/describe" --model shapes --precision bf16 "$sample")
echo "caption f32:  ${f32_caption#*: }"
echo "caption bf16: ${bf16_caption#*: }"
[[ "$f32_caption" == "$bf16_caption" ]] && echo "the same caption" || echo "the captions DIFFER"
