#include "captioning/xception_weights.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <set>

#include <nn/core/error.h>
#include <nn/io/checkpoint.h>
#include <nn/io/options.h>
#include <nn/io/sha256.h>

namespace fs = std::filesystem;

namespace captioning {
namespace {

using Texts = std::vector<std::pair<std::string, std::string>>;

void update_u64(nn::Sha256& h, uint64_t v) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
  h.update(bytes, 8);
}

bool is_hex_sha256(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// "1234abcd5678…": enough of a hash to tell two apart in a message.
std::string short_hash(const std::string& sha256) {
  return sha256.substr(0, 12) + "…";
}

// What a file's texts say about the Xception in it, without reading its tensors: nullopt when it is no Xception
// model file (no "model" = "xception"). Options come from "xception.options" or the older separate texts.
std::optional<nn::XceptionOptions> xception_options_of(const Texts& texts, const fs::path& file) {
  auto text = [&](const std::string& key) -> const std::string* {
    for (const auto& [k, v] : texts)
      if (k == key) return &v;
    return nullptr;
  };
  const std::string* kind = text("model");
  if (kind == nullptr || *kind != "xception") return std::nullopt;
  if (auto read = nn::find_options<nn::XceptionOptions>(texts, "xception.options", file)) return read;
  nn::XceptionOptions legacy;  // only include_top matters here; nn::load_xception checks the rest
  const std::string* top = text("xception.include_top");
  legacy.include_top = top != nullptr && *top == "1";
  return legacy;
}

[[noreturn]] void refuse_top(const fs::path& file) {
  nn::fail(file.string(),
           "holds Xception with the ImageNet classifier (include_top); features need the file without it: convert "
           "xception_weights_tf_dim_ordering_tf_kernels_notop.h5 (weights/download.sh notop)");
}

}  // namespace

std::string weights_sha256(const nn::Module& module) {
  // The bytes hashed, tensor by tensor (docs/checkpoint-format.md): the name's length (u64 LE) and bytes, the rank
  // (u64 LE) and each dimension (u64 LE), then the values as float32 LE.
  nn::Sha256 h;
  std::vector<unsigned char> swapped;
  for (const auto& [name, tensor] : module.named_state()) {
    update_u64(h, name.size());
    h.update(name);
    update_u64(h, tensor.shape().size());
    for (int64_t d : tensor.shape()) update_u64(h, static_cast<uint64_t>(d));
    const size_t bytes = static_cast<size_t>(tensor.numel()) * sizeof(float);
    if constexpr (std::endian::native == std::endian::little) {
      h.update(tensor.data(), bytes);
    } else {
      swapped.resize(bytes);
      std::memcpy(swapped.data(), tensor.data(), bytes);
      for (size_t i = 0; i < bytes; i += 4) {
        std::swap(swapped[i], swapped[i + 3]);
        std::swap(swapped[i + 1], swapped[i + 2]);
      }
      h.update(swapped.data(), bytes);
    }
  }
  return h.hex_digest();
}

std::string precision_label(nn::DType precision) {
  return precision == nn::DType::f32 ? std::string() : std::string(" precision=") + nn::dtype_name(precision);
}

std::string extractor_label(const std::string& sha256, nn::ResizeFilter filter, nn::DType precision) {
  if (!is_hex_sha256(sha256)) nn::fail_expected("extractor_label", "64 lowercase hex digits", "'" + sha256 + "'");
  return "xception sha256=" + sha256 + precision_label(precision) +
         " filter=" + (filter == nn::ResizeFilter::nearest ? "nearest" : "bilinear");
}

XceptionWeights load_feature_xception(const fs::path& file) {
  // One read of the file (reading its texts first would read and checksum all of it as well).
  XceptionWeights w{.model = nn::load_xception(file), .file = file, .sha256 = ""};  // names a non-Xception file
  if (w.model->options().include_top) refuse_top(file);
  if (w.model->options().pooling == nn::XceptionPooling::none)
    nn::fail(file.string(),
             "holds Xception without pooling (pooling none: (N,10,10,2048) maps); features need "
             "average pooling, as convert_keras_weights writes it");
  w.sha256 = weights_sha256(*w.model);
  return w;
}

XceptionWeights find_xception_weights(const std::string& sha256, const std::string& name_hint,
                                      const std::vector<fs::path>& search, const std::string& who) {
  if (!is_hex_sha256(sha256))
    nn::fail_expected(who + ": Xception weights' sha256", "64 lowercase hex digits", "'" + nn::printable(sha256) + "'");
  // The hint is a file name from the bundle: only its last component is used, never a path.
  const std::string hint = fs::path(name_hint).filename().string();
  const bool usable_hint = !hint.empty() && hint != "." && hint != ".." && hint == name_hint;
  std::vector<std::string> folders, other_content, unreadable;
  std::set<fs::path> seen;  // files (canonical) already hashed, and folders already searched
  for (const fs::path& folder : search) {
    std::error_code error;
    const fs::path canonical = fs::weakly_canonical(folder, error);
    if (!seen.insert((error ? folder : canonical) / "").second) continue;
    folders.push_back(folder.empty() ? "." : folder.string());
    if (!fs::is_directory(folder, error)) {
      folders.back() += " (absent)";
      continue;
    }
    // In this folder: the hint first, then the other *.nnck files in name order.
    std::vector<fs::path> candidates;
    if (usable_hint && fs::is_regular_file(folder / hint, error)) candidates.push_back(folder / hint);
    std::vector<fs::path> others;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      const fs::path& p = it->path();
      if (p.extension() == ".nnck" && !(usable_hint && p.filename() == hint) && it->is_regular_file(error))
        others.push_back(p);  // a hint that was a path is not tried first, but its file name is still a candidate
    }
    std::sort(others.begin(), others.end());
    candidates.insert(candidates.end(), others.begin(), others.end());
    for (const fs::path& file : candidates) {
      const fs::path key = fs::weakly_canonical(file, error);
      if (!seen.insert(error ? file : key).second) continue;
      const bool named = usable_hint && file.filename() == hint;
      try {
        // Cheap first: the texts say whether it is a feature Xception at all (a caption bundle, a shapes model or
        // Xception with the top is ruled out without loading its tensors).
        const std::optional<nn::XceptionOptions> o = xception_options_of(nn::read_checkpoint_texts(file), file);
        if (!o || o->include_top || o->pooling == nn::XceptionPooling::none) {
          if (named) other_content.push_back(file.string() + " is not Xception feature weights");
          continue;
        }
        XceptionWeights w = load_feature_xception(file);
        if (w.sha256 == sha256) return w;
        if (named) other_content.push_back(file.string() + " has other weights (sha256 " + short_hash(w.sha256) + ")");
      } catch (const nn::Error& e) {
        if (named) unreadable.push_back(e.what());
      }
    }
  }
  std::string message = "needs the Xception weights it was trained with (sha256 " + short_hash(sha256) +
                        (usable_hint ? ", file " + hint : "") + "); none of the *.nnck files in ";
  for (size_t i = 0; i < folders.size(); ++i)
    message += (i == 0 ? "" : i + 1 == folders.size() ? " or " : ", ") + folders[i];
  message += folders.empty() ? "no folder (none given)" : "";
  message += " holds them";
  for (const std::string& line : other_content) message += "; " + line;
  for (const std::string& line : unreadable) message += "; " + line;
  nn::fail(who, message);
}

}  // namespace captioning
