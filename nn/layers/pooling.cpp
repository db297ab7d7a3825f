#include "nn/layers/pooling.h"

namespace nn {

namespace {
std::string describe(const char* name, const PoolOptions& o) {
  int64_t sh = o.strides[0] ? o.strides[0] : o.size[0], sw = o.strides[1] ? o.strides[1] : o.size[1];
  return std::string(name) + "(size=" + std::to_string(o.size[0]) + "x" + std::to_string(o.size[1]) +
         ", strides=" + std::to_string(sh) + "x" + std::to_string(sw) + ", padding=" + to_string(o.padding) + ")";
}
}  // namespace

std::string MaxPool2D::to_string() const {
  return describe("MaxPool2D", options_);
}
std::string AvgPool2D::to_string() const {
  return describe("AvgPool2D", options_);
}

}  // namespace nn
