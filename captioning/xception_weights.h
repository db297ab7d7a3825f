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

#include <nn/io/image.h>
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

/// The label of features made by those weights: "xception sha256=HEX filter=nearest" (or filter=bilinear); features
/// computed in another precision than f32 say so before the filter, "xception sha256=HEX precision=bf16
/// filter=nearest", so that a feature cache never mixes f32 and bf16 features.
std::string extractor_label(const std::string& sha256, nn::ResizeFilter filter, nn::DType precision = nn::DType::f32);
/// " precision=bf16" for a precision other than f32, else "": the part of extractor_label that names it.
std::string precision_label(nn::DType precision);

/// Loads weights for feature extraction: a model converted from Keras's file *without* the top. A file with the
/// ImageNet classifier (include_top) is refused, naming it and the no-top file to use instead (train_flickr8k
/// loads the weights before any slow work); so is one without pooling (its features would be (N,10,10,2048) maps, not
/// vectors). Other errors are nn::load_xception's.
XceptionWeights load_feature_xception(const std::filesystem::path& file);

/// Finds the weights whose content is `sha256` in `search` (in order; in each folder the file named `name_hint`
/// first, then the other *.nnck files in name order). A file whose texts show no feature Xception (another kind of
/// model, or Xception with the top) is passed over without reading its tensors; a folder given twice is searched
/// once. `name_hint` is a file name from a bundle: anything but a plain name (a path, "..") is not used as one.
/// Throws nn::Error naming `who` (the bundle), the hash (its first 12 digits), the hint and every folder searched
/// ("(absent)" after one that is not there), and any file of that name found with other content or unreadable:
/// "B.nnck: needs the Xception weights it was trained with (sha256 1234abcd5678…, file xception_notop.nnck); none of
/// the *.nnck files in A or B holds them; A/xception_notop.nnck has other weights (sha256 9abc…)".
XceptionWeights find_xception_weights(const std::string& sha256, const std::string& name_hint,
                                      const std::vector<std::filesystem::path>& search, const std::string& who);

}  // namespace captioning
