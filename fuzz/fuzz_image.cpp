// Image decoding (libjpeg-turbo and libpng behind nn::decode_image's checks and budgets) and the preprocessing describe
// applies to it.
#include <nn/core/error.h>
#include <nn/io/image.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // A 4-megapixel limit keeps each run fast; the limit logic itself is what is exercised, and a 16-pixel target
    // side exercises reduced decoding (JPEG DCT scaling, PNG boxes) wherever the input is larger.
    nn::Tensor image = nn::decode_image(
        {data, size}, "fuzz",
        {.max_side = 4096, .max_pixels = 4'000'000, .min_side = size % 2 ? 16 : 0, .max_seconds = 5, .max_scans = 200});
    for (auto filter : {nn::ResizeFilter::nearest, nn::ResizeFilter::bilinear})
      nn::xception_preprocess(nn::resize_image(image, 24, 31, filter));
  } catch (const nn::Error&) {
  }
  return 0;
}
