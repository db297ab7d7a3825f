/// @file
/// Quality of a captioner on a split of a data set in the Flickr8k layout: corpus BLEU-1…4 against every reference
/// caption (NLTK's corpus_bleu), and — for the synthetic shapes world — the share of images whose caption names
/// every object by colour and shape.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>

#include "captioning/describer.h"

namespace captioning {

/// The three split files of the Flickr8k layout (Flickr_8k.trainImages.txt, …devImages.txt, …testImages.txt).
enum class Split { train, dev, test };

/// The scores of one split.
struct SplitEvaluation {
  std::array<double, 4> bleu{};  ///< corpus BLEU-1…4 (corpus_bleu)
  size_t images = 0;             ///< images captioned
  size_t all_objects_named = 0;  ///< captions that name every object's colour and shape (names_every_object)
  /// The same by the number of objects in the image (count_objects of its first reference), index 1–3; index 0
  /// counts images whose reference names none or more than three.
  /// @{
  std::array<size_t, 4> images_with{}, all_named_with{};
  /// @}
};

/// Captions every image of `split` under `data_dir` with `beam` and scores them. Throws nn::Error naming the file
/// for a missing data set or an unreadable image.
SplitEvaluation evaluate_split(Describer& describer, const std::filesystem::path& data_dir, Split split, int beam = 1);

}  // namespace captioning
