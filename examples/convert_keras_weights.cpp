// convert_keras_weights: Keras's Xception .h5 (official Keras-1 file or a newer Keras save) → a libnn model file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nn/keras_h5.h>
#include <nn/nn.h>

namespace {
int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: convert_keras_weights INPUT.h5 OUTPUT.nnck [--width W] [--middle-blocks N]\n"
               "Converts Keras's Xception weights (xception_weights_tf_dim_ordering_tf_kernels[_notop].h5, or a newer\n"
               "Keras save) to libnn's format. With or without the top is read from the file. --width and\n"
               "--middle-blocks describe a non-standard (small) Xception.\n");
  return status;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  nn::XceptionOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") return usage(0);
    if ((arg == "--width" || arg == "--middle-blocks") && i + 1 < argc) {
      char* end = nullptr;
      double v = std::strtod(argv[++i], &end);
      bool ok = end != argv[i] && *end == '\0' && (arg == "--width" ? (v > 0 && v <= 4) : (v >= 0 && v <= 64 && v == static_cast<int>(v)));
      if (!ok) {
        std::fprintf(stderr, "convert_keras_weights: %s expects %s, got '%s'\n", arg.c_str(),
                     arg == "--width" ? "a number in (0, 4]" : "a whole number in [0, 64]", argv[i]);
        return 2;
      }
      if (arg == "--width") options.width = static_cast<float>(v);
      else options.middle_blocks = static_cast<int>(v);
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "convert_keras_weights: unknown argument '%s'\n", arg.c_str());
      return usage(2);
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 2) return usage(2);
  try {
    std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(files[0]);
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
    nn::assign_keras_weights(layers, model, files[0]);
    nn::save_xception(files[1], model);
    std::fprintf(stderr, "converted %zu layers (%s the top) to %s\nnext: build/examples/xception_features --weights %s IMAGE\n",
                 layers.size(), options.include_top ? "with" : "without", files[1].c_str(), files[1].c_str());
  } catch (const nn::Error& e) {
    std::fprintf(stderr, "convert_keras_weights: %s\n", e.what());
    return 1;
  }
  return 0;
}
