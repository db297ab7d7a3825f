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

#include "nn/module.h"

namespace nn {

/// One layer's weights as a Keras file stores them.
struct KerasLayerWeights {
  std::string layer;                                    ///< the layer's name in the file
  std::vector<std::pair<std::string, Tensor>> weights;  ///< its weights, in the file's order
};

/// The layers that have weights, in the file's order. Throws nn::Error naming the file on anything that is not a
/// Keras weights file.
std::vector<KerasLayerWeights> read_keras_h5(const std::filesystem::path& path);

// Copies `layers` into `model` by order: the model's layers are the first components of the names in
// named_state() (each layer's parameters then buffers, as Keras orders a layer's weights). Checks the layer count
// and every shape first; throws nn::Error naming the file, the Keras layer and ours, and changes nothing on error.
void assign_keras_weights(const std::vector<KerasLayerWeights>& layers, Module& model, const std::string& source);

}  // namespace nn
