#include "nn/core/shape.h"

#include <limits>

#include "nn/core/error.h"

namespace nn {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail_expected("shape", "non-negative extents", to_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      fail("shape", "element count overflows: " + to_string(shape));
    n *= d;
  }
  return n;
}

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int normalize_axis(int axis, int rank, const char* where) {
  int resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 0 || resolved >= rank) {
    fail_expected(where, "an axis in [" + std::to_string(-rank) + "," + std::to_string(rank - 1) + "]",
                  std::to_string(axis));
  }
  return resolved;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* where) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      fail_expected(where, "shapes that broadcast", to_string(a) + " and " + to_string(b));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  int64_t stride = 1;
  size_t offset = target.size() - shape.size();
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i + offset] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

}  // namespace nn
