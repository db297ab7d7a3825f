/// @file
/// Describer: an image in, captions out, from either kind of bundle `describe` accepts —
///   • an image captioner (train_shapes: its own CNN inside, model = "image-captioner"), or
///   • a Flickr8k caption model (train_flickr8k) whose "features.extractor" text names the Xception it was trained
///     on: "xception sha256=HEX filter=nearest" (Keras weights converted by convert_keras_weights, known by their
///     content and found by searching folders, see DescriberOptions), "xception PATH filter=nearest" (bundles from
///     before content hashes: the weights at that path) or "xception random width=W seed=S filter=nearest" (the
///     random-weight stand-in of the tests).
/// One Describer may serve several threads at once (describe() writes nothing in its models; see describe()).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nn/io/image.h>
#include <nn/models/xception.h>

#include "captioning/captioner.h"
#include "captioning/generate.h"

namespace captioning {

/// Where a Flickr8k bundle's Xception weights ("xception sha256=…") are looked for, in this order:
///   1. the bundle's own folder;
///   2. `weights_search`, in order (describe and describe_server pass their data folders: those of
///      LIBNN_DATA_PATH, then PREFIX/share/libnn, then the source tree's weights/);
///   3. the folders of the environment variable LIBNN_WEIGHTS_PATH (colon-separated), when `use_environment`.
/// In each folder the file named by the bundle's "features.weights" text comes first, then the other *.nnck files
/// that hold an Xception without the top; the first whose weights_sha256 matches is used (find_xception_weights).
struct DescriberOptions {
  std::vector<std::filesystem::path> weights_search;  ///< folders searched after the bundle's own
  bool use_environment = true;                        ///< also search LIBNN_WEIGHTS_PATH
  /// The feature pass's precision: the Xception (or the image captioner's CNN) is converted with Module::to and
  /// computes in it; its features and the decoder stay f32. Unset: the precision the bundle's features were
  /// extracted in (its features.extractor label's "precision=" word), f32 when it names none.
  std::optional<nn::DType> precision;
  /// Build the decoder's DecodeCache at load (decode_cache.h): ~90 ms and 41 MB at V = 7,579, after which every
  /// caption decodes ~2.5× faster with the same words. `describe` turns it off for a single image, where the build
  /// would cost more than it saves.
  bool decode_cache = true;
};

/// Loads a bundle once and captions images with it (the library behind describe, describe_server and say).
class Describer {
 public:
  /// Throws nn::Error naming the file: unreadable bundle, unknown model kind, missing or unreadable Xception (for a
  /// content-hashed one: the hash, the file name it was trained with, every folder searched and any file of that
  /// name with other weights).
  explicit Describer(const std::filesystem::path& bundle, const DescriberOptions& options = {});

  /// Captions of an encoded image (JPEG, PNG, …; `name` is used in error messages), best first, at most `beam`.
  /// Throws nn::Error naming `name` for bytes that are no image. Several threads may describe with one Describer at
  /// once: its models are put in eval mode when loaded, and inference writes nothing in them.
  std::vector<Caption> describe(std::span<const unsigned char> image, const std::string& name, int beam = 1);
  /// The same for an image file, decoded with image_options(); throws nn::Error naming the path.
  std::vector<Caption> describe_file(const std::filesystem::path& image, int beam = 1);

  /// "image captioner (96 px)" or "caption model over xception …" (the features.extractor text).
  const std::string& description() const { return description_; }
  /// What the model was trained to describe, for people choosing a picture: "synthetic shapes" or "photos (Flickr8k)".
  const std::string& describes() const { return describes_; }
  /// The bundle's file name ("flickr8k.nnck", "shapes.nnck"), to tell people which model answers.
  const std::string& name() const { return name_; }
  /// For a content-hashed Flickr8k bundle, the Xception file that was found; empty otherwise.
  const std::filesystem::path& xception_file() const { return xception_file_; }
  /// The decoder's cache, or null when DescriberOptions::decode_cache was off.
  const DecodeCache* decode_cache() const { return cache_.get(); }
  /// The dtype the feature pass computes in (DescriberOptions::precision, else the bundle's).
  nn::DType feature_precision() const { return feature_precision_; }
  /// How images are decoded: by default reduced to no less than twice the model's input a side (never larger than
  /// the model needs), EXIF orientation applied; set keep_orientation for Keras's loader's pixels.
  nn::ImageOptions& image_options() { return image_options_; }

 private:
  std::vector<Caption> caption(const nn::Tensor& decoded_image, int beam);

  std::unique_ptr<ImageCaptioner> captioner_;  // the first kind
  std::shared_ptr<nn::Xception> xception_;     // the second kind: Xception features (folded BatchNorms) …
  std::unique_ptr<CaptionModel> decoder_;      // … and the decoder
  std::unique_ptr<DecodeCache> cache_;         // either kind's decoder, precomputed for searching (decode_cache.h)
  Tokenizer tokenizer_;
  int64_t image_size_ = 299;
  nn::ResizeFilter filter_ = nn::ResizeFilter::nearest;
  nn::ImageOptions image_options_;
  std::string description_;
  std::string describes_;
  std::string name_;
  std::filesystem::path xception_file_;
  nn::DType feature_precision_ = nn::DType::f32;
};

}  // namespace captioning
