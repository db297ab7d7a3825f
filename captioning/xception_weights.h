/// @file
/// Xception weights known by their content, not their path: a feature cache and a Flickr8k bundle record the
/// weights' SHA-256 (over the tensors' names, shapes and values) and the file name they were trained with, and the
/// weights are found again by searching folders for that content — so moving the folder, renaming the file or
/// naming it by an equivalent path keeps working, while other weights are refused by name.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nn/image.h>
#include <nn/models/xception.h>

namespace captioning {

/// Loaded Xception weights with their content key.
struct XceptionWeights {
  std::unique_ptr<nn::Xception> model;  ///< in eval mode
  std::filesystem::path file;           ///< where they were read from
  std::string sha256;                   ///< 64 lowercase hex digits: weights_sha256(*model)
};

/// SHA-256 of a module's named_state(): for each tensor in order its name, its shape and its float32 values (little
/// endian). Independent of the file's path, container version and texts.
std::string weights_sha256(const nn::Module& module);

/// The label of features made by those weights: "xception sha256=HEX filter=nearest" (or filter=bilinear).
std::string extractor_label(const std::string& sha256, nn::ResizeFilter filter);

/// Loads weights for feature extraction: a model converted from Keras's file *without* the top. A file with the
/// ImageNet classifier (include_top) is refused, naming it and the no-top file to use instead.
XceptionWeights load_feature_xception(const std::filesystem::path& file);

/// Finds the weights whose content is `sha256` in `search` (in order; in each folder the file named `name_hint`
/// first, then the other *.nnck files that hold an Xception). Throws nn::Error naming `who` (the bundle), the
/// hash, the hint and every folder searched, and any file of that name found with other content.
XceptionWeights find_xception_weights(const std::string& sha256, const std::string& name_hint,
                                      const std::vector<std::filesystem::path>& search, const std::string& who);

}  // namespace captioning
