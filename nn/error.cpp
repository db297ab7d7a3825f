#include "nn/error.h"

namespace nn {

void fail_expected(std::string_view where, std::string_view expected, std::string_view got) {
  std::string message(where);
  message += ": expected ";
  message += expected;
  message += ", got ";
  message += got;
  throw Error(message);
}

void fail(std::string_view where, std::string_view message) {
  std::string text(where);
  text += ": ";
  text += message;
  throw Error(text);
}

}  // namespace nn
