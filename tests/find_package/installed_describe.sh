#!/usr/bin/env bash
# An installed describe finds the model installed beside it (PREFIX/share/libnn), not the source tree's: the prefix
# is copied to a new place and the source tree's copy is out of reach (describe is run from an empty folder).
#   installed_describe.sh INSTALL_PREFIX
set -euo pipefail
copy=$(mktemp -d /tmp/nn_prefix.XXXXXX)
trap 'rm -rf "$copy"' EXIT
cp -r "$1"/. "$copy"
cd "$copy"
# The default is the installed photo model when scripts/flickr8k.sh had made one before installing, else the shapes
# model: either way a file of the copied prefix.
bin/describe --help | grep -E "$copy/share/libnn/(shapes|flickr8k)\.nnck" > /dev/null ||
  { echo "installed describe: its default model is not the installed one:"; bin/describe --help; exit 1; }
# The sample is a shapes-world picture: named by --model shapes, found in the prefix too.
bin/describe --model shapes share/libnn/sample_shapes.jpg
