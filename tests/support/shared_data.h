// The project's real data outside the repository (../shared/data beside the clone: the Flickr8k text files and 269
// of its images, Keras's Xception manifest), which users do not have. Tests that read it skip that part, saying
// which folder is missing, when it is absent. NN_SHARED_DATA names another folder; CI runs the suite a second time
// with it pointing nowhere, as a fresh clone would run.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace test {

// The folder `sub` of the shared data (e.g. "flickr8k"), whether or not it exists.
inline std::filesystem::path shared_data(const std::string& sub) {
  const char* root = std::getenv("NN_SHARED_DATA");
  return (root && *root ? std::filesystem::path(root)
                        : std::filesystem::path(NN_SOURCE_DIR) / ".." / "shared" / "data") /
         sub;
}

// The photos copied into the repository (tests/data/photos, public domain and CC0; see LICENSES.md there).
inline std::filesystem::path test_photos() {
  return std::filesystem::path(NN_SOURCE_DIR) / "tests" / "data" / "photos";
}

}  // namespace test
