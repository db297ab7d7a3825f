#!/usr/bin/env bash
# The full-scale rehearsal of scripts/flickr8k.sh (issue 19), on demand — not in CI: about 35 minutes and 3 GB on a
# 2-core machine. Keras's weights and the Flickr8k images cannot be downloaded here, so it builds a stand-in of the
# same size and layout and runs the one command on it from --from archives:
#   • Flickr8k_Dataset.zip: all 8,091 image names of the real set (from scripts/flickr8k/Flickr8k_Dataset.sha256.tsv),
#     each the real image where ../shared/data/flickr8k/images has it (269 of them) and otherwise one of those 269 in
#     turn — so the JPEGs are real photos at real sizes, inside the real archive's folder Flicker8k_Dataset/;
#   • Flickr8k_text.zip: the eight official text files (../shared/data/flickr8k/text);
#   • xception_weights_tf_dim_ordering_tf_kernels_notop.h5: a full-width Xception with random weights in Keras's
#     official Keras-1 .h5 layout (tests/reference/make_keras_h5.py; needs Debian's python3-h5py);
#   • replacement checksum lists for those stand-in files (--checksums), since they are not the originals.
# Then it runs the command with the README's settings, a second time (which must do nothing), and moves the
# installed bundle and weights to check they still describe a photo. It prints the time of each stage, the peak
# memory of the whole run and the disk used.
#   scripts/rehearse_full.sh [WORK_DIR (default /tmp/libnn-rehearsal)] [extra flickr8k.sh options, e.g. --epochs 2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${NN_SHARED_DATA:-$root/../shared/data}
work=${1:-/tmp/libnn-rehearsal}
build=$root/${BUILD_DIR:-build}
shift || true
[ -d "$shared/flickr8k/images" ] || { echo "rehearse_full.sh: needs $shared/flickr8k (the 269 real images)" >&2; exit 1; }
for tool in zip sha256sum md5sum /usr/bin/time /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "rehearse_full.sh: needs $tool" >&2; exit 1; }
done
/usr/bin/python3 -c 'import h5py' 2>/dev/null || { echo "rehearse_full.sh: needs python3-h5py" >&2; exit 1; }

stamp() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(stamp)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$work"
archives=$work/archives checksums=$work/checksums
mkdir -p "$archives" "$checksums"

# 1. The stand-in archives (made once; delete WORK_DIR to make them again).
t=$(stamp)
if [ ! -f "$archives/Flickr8k_Dataset.zip" ]; then
  stage=$work/stage
  rm -rf "$stage" && mkdir -p "$stage/Flicker8k_Dataset"
  mapfile -t real < <(ls "$shared/flickr8k/images")
  printf 'image\tsha256\tbytes\n' >"$checksums/Flickr8k_Dataset.sha256.tsv"
  i=0
  tail -n +2 "$root/scripts/flickr8k/Flickr8k_Dataset.sha256.tsv" | cut -f1 | while read -r name; do
    if [ -f "$shared/flickr8k/images/$name" ]; then source=$shared/flickr8k/images/$name; else
      source=$shared/flickr8k/images/${real[$((i % ${#real[@]}))]}; i=$((i + 1)); fi
    ln "$source" "$stage/Flicker8k_Dataset/$name" 2>/dev/null || cp "$source" "$stage/Flicker8k_Dataset/$name"
  done
  (cd "$stage/Flicker8k_Dataset" && sha256sum -- *.jpg | awk '{ print $2 "\t" $1 }') >"$stage/sums"
  (cd "$stage/Flicker8k_Dataset" && stat -c '%n %s' -- *.jpg) >"$stage/sizes"
  join -t $'\t' <(sort "$stage/sums") <(tr ' ' '\t' <"$stage/sizes" | sort) >>"$checksums/Flickr8k_Dataset.sha256.tsv"
  (cd "$stage" && zip -q -r -0 "$archives/Flickr8k_Dataset.zip.part" Flicker8k_Dataset)
  mv "$archives/Flickr8k_Dataset.zip.part" "$archives/Flickr8k_Dataset.zip"
  rm -rf "$stage"
fi
if [ ! -f "$archives/Flickr8k_text.zip" ]; then
  (cd "$shared/flickr8k/text" && zip -q -X "$archives/Flickr8k_text.zip.part" -- *.txt)
  mv "$archives/Flickr8k_text.zip.part" "$archives/Flickr8k_text.zip"
fi
cp "$root/scripts/flickr8k/Flickr8k_text.sha256.tsv" "$checksums/"
h5=$archives/xception_weights_tf_dim_ordering_tf_kernels_notop.h5
if [ ! -f "$h5" ]; then
  /usr/bin/python3 "$root/tests/reference/make_keras_h5.py" 1 "$h5.part" "$work/xception_sums.txt" --notop --fan-in-scaled
  mv "$h5.part" "$h5"
fi
echo "$(md5sum "$h5" | cut -d' ' -f1)  $(basename "$h5")" >"$checksums/xception_notop.md5"
echo "stand-in archives: $(du -sh "$archives" | cut -f1) in $(since "$t") s"

# 2. The one command, as a user runs it (from archives they already have). Each line of its output is prefixed with
# the minutes and seconds since the start, which times the stages; /usr/bin/time gives the peak memory (the largest
# of the processes it ran).
elapsed_prefix() {
  local line start=$SECONDS
  while IFS= read -r line; do printf '[%02d:%02d] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$line"; done
}
run() {
  /usr/bin/time -v -o "$work/time.txt" "$root/scripts/flickr8k.sh" --from "$archives" --checksums "$checksums" \
    --dir "$work/flickr8k" --weights-dir "$work/weights" --build "$build" "$@" 2>&1 | elapsed_prefix |
    tee "$work/run.log"
  grep -E 'Elapsed|Maximum resident' "$work/time.txt"
}
t=$(stamp)
run "$@"
echo "first run: $(since "$t") s"
echo "disk: $(du -sh "$work/flickr8k" | cut -f1) in $work/flickr8k, $(du -sh "$work/weights" | cut -f1) in $work/weights"
du -sh "$work/flickr8k"/* "$work/weights"/* 2>/dev/null
t=$(stamp)
run "$@"
echo "second run: $(since "$t") s"
grep -q "nothing to do" "$work/run.log" || { echo "rehearse_full.sh: the second run did not say 'nothing to do'" >&2; exit 1; }

# 3. The bundle stands alone: moved with its weights, renamed weights, it still describes a photo.
moved=$work/moved
rm -rf "$moved" && mkdir -p "$moved"
cp "$work/weights/flickr8k.nnck" "$moved/"
cp "$work/weights/xception_notop.nnck" "$moved/renamed_xception.nnck"
photo=$root/tests/data/photos/chelsea.png
"$build/examples/describe" --model "$moved/flickr8k.nnck" "$photo"
