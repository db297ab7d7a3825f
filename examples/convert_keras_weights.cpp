// convert_keras_weights: Keras's Xception .h5 (official Keras-1 file or a newer Keras save) → a libnn model file.
#include <nn/io/keras_h5.h>
#include <nn/nn.h>

#include <cstdio>
#include <string>

#include "cli.h"

int main(int argc, char** argv) {
  std::string input, output;
  nn::XceptionOptions options;
  cli::Parser cli("convert_keras_weights",
                  "Converts Keras's Xception weights (xception_weights_tf_dim_ordering_tf_kernels[_notop].h5, or a\n"
                  "newer Keras save) to libnn's format. With or without the top is read from the file.");
  cli.positional("INPUT.h5", input, "the Keras weights");
  cli.positional("OUTPUT.nnck", output, "the libnn model file to write");
  cli.number("--width", "W", options.width, {.low = 0, .high = 4, .low_open = true},
             "the width multiplier of a non-standard (small) Xception");
  cli.whole("--middle-blocks", "N", options.middle_blocks, 0, 64, "the middle blocks of a non-standard Xception");
  if (auto status = cli.parse(argc, argv)) return *status;
  try {
    std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(input);
    // The top is one more layer with weights (the 1000-way Dense) after the convolutional base.
    options.include_top = false;
    nn::Xception base(options);
    size_t base_layers = 0;
    std::string last;
    for (auto& [name, t] : base.named_state()) {
      std::string layer = name.substr(0, name.find('.'));
      base_layers += layer != last;
      last = layer;
    }
    options.include_top = layers.size() == base_layers + 1;
    if (options.include_top) options.classes = layers.back().weights.front().second.dim(-1);
    nn::Xception model(options);
    nn::assign_keras_weights(layers, model, input);
    nn::save_xception(output, model);
    std::fprintf(stderr,
                 "converted %zu layers (%s the top) to %s\nnext: build/examples/xception_features --weights %s IMAGE\n",
                 layers.size(), options.include_top ? "with" : "without", output.c_str(), output.c_str());
  } catch (const std::exception& e) {
    return cli.error(e);
  }
  return 0;
}
