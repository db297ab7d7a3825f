// Test helpers for files and errors: a temporary folder removed afterwards, and the message of an nn::Error.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include <nn/core/error.h>

namespace test {

// A fresh folder under the system's temporary directory, removed with everything in it when the object goes.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "nn_test") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The message of the nn::Error `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nn::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace test
