#include "captioning/xception_weights.h"

#include <nn/error.h>

namespace captioning {

// Stub: implemented by the "weights by content" work (issue 19).
std::string weights_sha256(const nn::Module&) {
  nn::fail("weights_sha256", "not implemented yet");
}
std::string extractor_label(const std::string&, nn::ResizeFilter) {
  nn::fail("extractor_label", "not implemented yet");
}
XceptionWeights load_feature_xception(const std::filesystem::path&) {
  nn::fail("load_feature_xception", "not implemented yet");
}
XceptionWeights find_xception_weights(const std::string&, const std::string&, const std::vector<std::filesystem::path>&,
                                      const std::string&) {
  nn::fail("find_xception_weights", "not implemented yet");
}

}  // namespace captioning
