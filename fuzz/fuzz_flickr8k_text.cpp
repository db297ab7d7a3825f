// The Flickr8k token-file reader, caption cleaning, and the split reader, on the same bytes.
#include <captioning/flickr8k.h>
#include <nn/core/error.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch_file(data, size, "Flickr8k.token.txt");
  for (bool strict : {false, true}) {
    try {
      captioning::ReadReport report;
      captioning::Descriptions d =
          captioning::clean_descriptions(captioning::read_token_file(path, report, strict), report);
      captioning::read_split(path, d, report);
    } catch (const nn::Error&) {
    }
  }
  return 0;
}
