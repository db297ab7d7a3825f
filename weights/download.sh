#!/usr/bin/env bash
# Downloads Keras's official Xception ImageNet weights and the ImageNet class index into weights/, checking each
# file's MD5 (the checksums Keras itself uses) before it is used. Files already present and correct are skipped;
# a download goes to a .part file and is renamed only once its checksum matches.
#   weights/download.sh            # both weight files and the class index
#   weights/download.sh notop      # only what the captioner needs (no classifier top)
set -euo pipefail
cd "$(dirname "$0")"

base=https://storage.googleapis.com/tensorflow/keras-applications/xception
mirror=https://github.com/fchollet/deep-learning-models/releases/download/v0.4
files=(
  "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 b0042744bf5b25fce3cb969f33bebb97 $base $mirror"
  "xception_weights_tf_dim_ordering_tf_kernels.h5 0a58e3b7378bc2990ea3b43d5981f1f6 $base $mirror"
  "imagenet_class_index.json c2c37ea517e94d9795004a39431a14cb https://storage.googleapis.com/download.tensorflow.org/data https://s3.amazonaws.com/deep-learning-models/image-models"
)

md5_of() { md5sum "$1" | cut -d' ' -f1; }

fetch() {  # fetch URL OUTPUT
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"; else wget -O "$2" "$1"; fi
}

for entry in "${files[@]}"; do
  read -r name md5 url mirror_url <<<"$entry"
  if [ "${1:-all}" = notop ] && [ "$name" != xception_weights_tf_dim_ordering_tf_kernels_notop.h5 ]; then continue; fi
  if [ -f "$name" ] && [ "$(md5_of "$name")" = "$md5" ]; then
    echo "$name: present, checksum ok"
    continue
  fi
  ok=0
  for source in "$url" "$mirror_url"; do
    echo "$name: downloading from $source" >&2
    if fetch "$source/$name" "$name.part" && [ "$(md5_of "$name.part")" = "$md5" ]; then
      mv "$name.part" "$name"
      ok=1
      break
    fi
    echo "$name: download failed or checksum mismatch (expected MD5 $md5)" >&2
    rm -f "$name.part"
  done
  [ "$ok" = 1 ] || { echo "$name: could not be downloaded with the right checksum" >&2; exit 1; }
  echo "$name: ok"
done

cat <<'NEXT'
next: convert the weights to libnn's format, e.g.
  build/examples/convert_keras_weights weights/xception_weights_tf_dim_ordering_tf_kernels_notop.h5 weights/xception_notop.nnck
  build/examples/convert_keras_weights weights/xception_weights_tf_dim_ordering_tf_kernels.h5 weights/xception.nnck
NEXT
