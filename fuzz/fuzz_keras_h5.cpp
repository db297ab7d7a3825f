// The Keras .h5 weight reader: libnn's HDF5 container parser (nn/io/hdf5_file.h) and the Keras layout checks on top.
#include <nn/core/error.h>
#include <nn/io/keras_h5.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_file(data, size, "weights.h5");
  try {
    nn::read_keras_h5(path);
  } catch (const nn::Error&) {
  }
  return 0;
}
