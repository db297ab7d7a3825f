// The checkpoint reader and the two model-bundle loaders built on it (caption model, image captioner).
#include <captioning/bundle.h>
#include <captioning/captioner.h>
#include <nn/core/error.h>
#include <nn/io/checkpoint.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_file(data, size, "checkpoint.nnck");
  try {
    nn::read_checkpoint(path);
  } catch (const nn::Error&) {
  }
  try {
    captioning::load_bundle(path);
  } catch (const nn::Error&) {
  }
  try {
    captioning::load_captioner(path);
  } catch (const nn::Error&) {
  }
  return 0;
}
