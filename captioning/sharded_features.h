/// @file
/// Feature extraction sharded over the processes of a data-parallel job (train_flickr8k under mpirun): one
/// checksummed, resumable FeatureCache at the end, whatever the number of processes, assembled so that a job killed
/// at any point resumes with every feature any process had finished.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nn/train/trainer.h>

#include "captioning/feature_cache.h"

namespace captioning {

/// The images `cache` lacks, shared out over `parallel`'s processes and computed by each into its own part file,
/// PATH.part-RANK (a FeatureCache of the same label: checksummed, repaired on reopening); then rank 0 appends every
/// part's records to `cache` in the order of `images` and removes the parts, and the other processes reopen `cache`.
/// Process r computes chunks r, r + N, r + 2N, … of ExtractOptions::chunk images of the list of those missing, so
/// every forward batch is the one a single process would run: the cache ends byte-identical to a single process's.
/// Every process must call it at the same point with the same arguments, its `cache` opened on the same file
/// after rank 0 had merged earlier parts (merge_feature_parts). The report: computed and already_cached summed over
/// the processes, stopped when any process stopped, unreadable this process's own images.
ExtractReport extract_features_sharded(FeatureCache& cache, nn::Xception& model,
                                       const std::vector<std::pair<std::string, std::filesystem::path>>& images,
                                       const ExtractOptions& options, nn::Parallel& parallel);

/// Appends to `cache` the records of every part file PATH.part-* (left by extract_features_sharded, or by a job
/// killed before it merged them) that it lacks, in the order of `images`, then removes the parts; returns the number
/// of records appended. A part of another extractor or dim is an error naming it (FeatureCache's). Killed while
/// merging, the parts are still there and the next merge appends what is missing.
size_t merge_feature_parts(FeatureCache& cache,
                           const std::vector<std::pair<std::string, std::filesystem::path>>& images);

}  // namespace captioning
