#include "nn/core/version.h"

namespace nn {

const char* version() {
  return NN_VERSION;
}

}  // namespace nn
