// Opening a feature cache file (header, records, a torn tail) and reading records back.
#include <captioning/feature_cache.h>
#include <nn/core/error.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_file(data, size, "features.bin");
  try {
    captioning::FeatureCache cache(path, 4, "fuzz extractor");
    for (const char* id : {"a.jpg", "b", "img"})
      if (cache.contains(id)) cache.get(id);
  } catch (const nn::Error&) {
  }
  return 0;
}
