// Errors: every failure a user can cause is an nn::Error whose message names the operation (or file), what was
// expected and what arrived. The libraries never print, exit or abort.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace nn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The one helper that builds "where: expected WHAT, got GOT" so expected and actual are never swapped, e.g.
// fail_expected("conv2d", "input channels 3 (weight [3,3,3,32])", "7 (input [1,299,299,7])"). Throws nn::Error.
[[noreturn]] void fail_expected(std::string_view where, std::string_view expected, std::string_view got);

// "where: message". Throws nn::Error.
[[noreturn]] void fail(std::string_view where, std::string_view message);

}  // namespace nn
