#!/usr/bin/env bash
# The full-width Xception parity check (ctest label "full", off by default; needs python3-torch, python3-h5py and
# python3-pil): random weights at width 1 in Keras's official .h5 layout (88 MB, generated here, not committed),
# PyTorch's reference outputs on three real photos, then libnn's, compared to 1e-4 relative.
#   cmake -S . -B build -DNN_TEST_FULL_WIDTH=ON && cmake --build build -j && ctest --test-dir build -L full
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: full_width_parity.sh BUILD_DIR}
photos="$here/../../../shared/data/photos/skimage"
work="$build/full_width"
mkdir -p "$work"
/usr/bin/python3 "$here/make_keras_h5.py" 1 "$work/xception_full.h5" "$work/xception_full_sums.txt"
/usr/bin/python3 "$here/xception_reference.py" "$work/xception_full.h5" "$work/xception_full_outputs.txt" \
  "$photos/chelsea.png" "$photos/coffee.png" "$photos/astronaut.png"
NN_XCEPTION_H5="$work/xception_full.h5" NN_XCEPTION_OUTPUTS="$work/xception_full_outputs.txt" NN_XCEPTION_WIDTH=1 \
  "$build/tests/test_keras_h5" --test-case="features and class probabilities*"
