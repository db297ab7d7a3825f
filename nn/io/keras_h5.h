/// @file
/// Reading Keras .h5 weight files (target nn::keras; the container is parsed by libnn's own reader, hdf5_file.h).
/// Both layouts are read: Keras 1 (official Xception files: `convolution2d_1` with dataset `convolution2d_1_W:0`,
/// `batchnormalization_1` with `…_running_std:0` holding the variance) and Keras 2 and later
/// (`block1_conv1/kernel:0`), at the file's root or under `model_weights/` (a whole saved model). Keras matches them
/// to a model's layers by position, not by name, and so does assign_keras_weights — with a shape check on every
/// tensor.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "nn/io/checkpoint.h"
#include "nn/layers/module.h"

namespace nn {

/// One layer's weights as a Keras file stores them.
struct KerasLayerWeights {
  std::string layer;                                    ///< the layer's name in the file
  std::vector<std::pair<std::string, Tensor>> weights;  ///< its weights, in the file's order
};

/// The layers that have weights, in the file's order. Throws nn::Error naming the file on anything that is not a
/// Keras weights file.
std::vector<KerasLayerWeights> read_keras_h5(const std::filesystem::path& path);

/// How assign_keras_weights pairs a file's layers with a model's.
struct KerasLoadOptions {
  /// Only the model's tensors whose names start with this are paired with the file's layers (a model's layer is then
  /// the first name component after the prefix); the others are left as they are and reported missing. "backbone."
  /// loads Keras Xception weights into the Xception a model holds as "backbone", beside a new head.
  std::string prefix;
  /// false: the layer counts may differ; the first layers are paired in order, the model's extra layers are
  /// reported missing and the file's extra layers (a top the model does not have) unused.
  bool strict = true;
};

/// Copies `layers` into `model` by order: the model's layers are the first components of the names in
/// named_state() (each layer's parameters then buffers, as Keras orders a layer's weights), under
/// `options.prefix`. Checks the layer count (when strict) and every paired shape first; throws nn::Error naming the
/// file, the Keras layer and ours, and changes nothing on error. `source` is the file's name for those messages.
/// Returns what was loaded, missing (by the model's names) and unused (by the file's weight names).
LoadReport assign_keras_weights(const std::vector<KerasLayerWeights>& layers, Module& model, const std::string& source,
                                const KerasLoadOptions& options = {});

}  // namespace nn
