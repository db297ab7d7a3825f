// The speech front end (UTF-8 decoding, normalisation, pronunciation) and, for short inputs, synthesis.
#include <stdexcept>
#include <string_view>

#include <captioning/speech/speech.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    speech::phonemize(text);
    if (size <= 64) speech::synthesize(text, {.sample_rate = 8000, .rate = 4.0f});
  } catch (const speech::TextError&) {
  }
  return 0;
}
