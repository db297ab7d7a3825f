/// @file
/// A synthetic captioning world: images of one to three coloured shapes on a noisy or textured background, each
/// with several reference captions from a small grammar naming shapes, colours, sizes and spatial relations.
/// Written in the Flickr8k layout (text/Flickr8k.token.txt, the three split files, images/*.jpg), so that the same
/// reader, tokenizer and trainer use it. Deterministic for a seed. Every test image shows a shape–colour combination
/// that no training or validation image shows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace captioning {

/// The size and seed of a synthetic data set.
struct SyntheticOptions {
  /// Images per split.
  /// @{
  int train = 600, dev = 100, test = 100;
  /// @}
  int size = 96;               ///< pixels per side (Xception needs at least 71)
  uint64_t seed = 1;           ///< the same seed writes the same files
  int captions_per_image = 4;  ///< ≥ 3
};

/// One shape in a synthetic image.
struct SyntheticObject {
  /// "circle" / "square" / "triangle", colour name, "small" / "large".
  /// @{
  std::string shape, colour, size;
  /// @}
  /// Centre and half-extent in pixels.
  /// @{
  int cx = 0, cy = 0, radius = 0;
  /// @}
};

/// One synthetic image, its objects and its reference captions.
struct SyntheticImage {
  std::string id;                        ///< the file name without ".jpg"
  std::vector<SyntheticObject> objects;  ///< left to right
  std::vector<std::string> captions;     ///< reference captions, each naming every object
  std::vector<unsigned char> rgb;        ///< size × size × 3
};

/// The shape–colour combinations kept out of the training split ("green triangle", …).
std::vector<std::pair<std::string, std::string>> held_out_combinations();

/// Generates one image and its captions (no file written). `allow_held_out`: may it contain a held-out combination;
/// `require_held_out`: must it.
SyntheticImage make_synthetic_image(uint64_t seed, const std::string& id, int size, int captions, bool allow_held_out,
                                    bool require_held_out);

/// Writes the whole data set under `dir` (images/, text/); returns the images' descriptions. Files are written
/// atomically; an existing data set is overwritten.
/// Throws nn::Error for options out of range (naming them) or a file that cannot be written.
std::vector<SyntheticImage> write_synthetic_flickr8k(const std::filesystem::path& dir, const SyntheticOptions& options);

/// Whether `caption` names every object of `reference` (a caption of the same image: each names all objects) by its
/// colour and shape ("red circle"), ignoring sizes and order.
bool names_every_object(const std::string& caption, const std::string& reference);

/// How many objects `caption` names: its shape words ("a red circle and a small blue square" → 2).
int count_objects(const std::string& caption);

}  // namespace captioning
