#!/usr/bin/env bash
# Downloads Keras's official Xception ImageNet weights and the ImageNet class index into weights/, checking each
# file's MD5 (the checksums Keras itself uses) before it is used. Files already present and correct are skipped;
# a download goes to a .part file, continues from it when interrupted (also when this script is run again), and is
# renamed only once its checksum matches. scripts/flickr8k.sh fetches the no-top file the same way (scripts/lib).
#   weights/download.sh            # both weight files and the class index
#   weights/download.sh notop      # only what the captioner needs (no classifier top)
set -euo pipefail
cd "$(dirname "$0")"
NN_INTERRUPT_HINT="run weights/download.sh again to continue"
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/download.sh
. ../scripts/lib/download.sh

base=https://storage.googleapis.com/tensorflow/keras-applications/xception
mirror=https://github.com/fchollet/deep-learning-models/releases/download/v0.4
files=(
  "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 b0042744bf5b25fce3cb969f33bebb97 $base $mirror"
  "xception_weights_tf_dim_ordering_tf_kernels.h5 0a58e3b7378bc2990ea3b43d5981f1f6 $base $mirror"
  "imagenet_class_index.json c2c37ea517e94d9795004a39431a14cb https://storage.googleapis.com/download.tensorflow.org/data https://s3.amazonaws.com/deep-learning-models/image-models"
)

for entry in "${files[@]}"; do
  read -r name md5 url mirror_url <<<"$entry"
  if [ "${1:-all}" = notop ] && [ "$name" != xception_weights_tf_dim_ordering_tf_kernels_notop.h5 ]; then continue; fi
  if [ -f "$name" ] && [ "$(nn_md5 "$name")" = "$md5" ]; then
    echo "$name: present, checksum ok"
    continue
  fi
  nn_fetch_md5 "$name" "$md5" "$url/$name" "$mirror_url/$name" || exit 1
  echo "$name: ok"
done

cat <<'NEXT'
next: convert the weights to libnn's format, e.g.
  build/examples/convert_keras_weights weights/xception_weights_tf_dim_ordering_tf_kernels_notop.h5 weights/xception_notop.nnck
  build/examples/convert_keras_weights weights/xception_weights_tf_dim_ordering_tf_kernels.h5 weights/xception.nnck
NEXT
