#!/usr/bin/env bash
# Proves that libnn's folders read bottom-up (docs/backends.md, "Layout"): a file in nn/LAYER/ includes only headers
# of its own layer or of layers below it, in this order — core, backends, autograd, ops, layers, optim, io, models, data,
# train — and nn/nn.h, the one include for programs, sits above them all. Prints every include that runs upward and
# exits 1 when there is one.
#   scripts/check_layers.sh [SOURCE_DIR]
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"
layers=(core backends autograd ops layers optim io models data train)
layers+=(distributed)  # nn::distributed (data-parallel training on MPI) sits on the Trainer
level_of() {
  local i
  for i in "${!layers[@]}"; do
    if [[ $1 == "${layers[$i]}" ]]; then
      echo "$i"
      return
    fi
  done
  echo -1
}
status=0
checked=0
while IFS= read -r file; do
  layer=${file#nn/}
  layer=${layer%%/*}
  from=$(level_of "$layer")
  if ((from < 0)); then
    echo "check_layers: $file is in no layer folder (${layers[*]})"
    status=1
    continue
  fi
  checked=$((checked + 1))
  while IFS= read -r included; do
    to_layer=${included#nn/}
    to_layer=${to_layer%%/*}
    to=$(level_of "$to_layer")
    if ((to < 0 || to > from)); then
      echo "check_layers: $file (layer $layer) includes $included, which is above it"
      status=1
    fi
  done < <(sed -n 's/^#include "\(nn\/[^"]*\)".*/\1/p' "$file")
done < <(find nn -mindepth 2 \( -name '*.h' -o -name '*.cpp' -o -name '*.h.in' \) | sort)
stray=$(find nn -maxdepth 1 -type f \( -name '*.h' -o -name '*.cpp' \) ! -name nn.h | sort)
if [[ -n $stray ]]; then
  echo "check_layers: files outside the layer folders: $stray"
  status=1
fi
((status == 0)) && echo "check_layers: $checked files, no include runs upward"
exit $status
