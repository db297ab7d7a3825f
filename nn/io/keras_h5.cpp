#include "nn/io/keras_h5.h"

#include <algorithm>
#include <map>

#include "nn/core/error.h"
#include "nn/io/hdf5_file.h"

namespace nn {

namespace {

// A list-of-strings attribute (`layer_names`, `weight_names`). Keras splits one too large for an object header into
// `name0`, `name1`, … (save_attributes_to_hdf5_group); those are joined.
std::vector<std::string> string_list(const hdf5::File& file, hdf5::Object object, const std::string& name,
                                     const std::string& where) {
  if (auto whole = file.string_attribute(object, name)) return *whole;
  std::vector<std::string> out;
  int chunk = 0;
  for (; chunk < 10000; ++chunk) {
    auto part = file.string_attribute(object, name + std::to_string(chunk));
    if (!part) break;
    out.insert(out.end(), part->begin(), part->end());
  }
  if (chunk == 0) fail(where, "has no '" + name + "' attribute: not a Keras weights file");
  return out;
}

}  // namespace

std::vector<KerasLayerWeights> read_keras_h5(const std::filesystem::path& path) {
  const hdf5::File file(path);
  const std::string& where = file.name();
  // Each group's members are listed once (a name list may be long, and may name one layer many times).
  auto members = [&](hdf5::Object group) {
    std::map<std::string, hdf5::Object> out;
    for (auto& [name, object] : file.members(group)) out.emplace(name, object);
    return out;
  };
  // A whole saved model keeps its weights under model_weights/.
  const hdf5::Object root = file.child(file.root(), "model_weights").value_or(file.root());
  const std::map<std::string, hdf5::Object> layer_groups = members(root);
  std::vector<KerasLayerWeights> layers;
  uint64_t bytes_loaded = 0;
  for (const std::string& layer : string_list(file, root, "layer_names", where)) {
    auto group = layer_groups.find(layer);
    if (group == layer_groups.end()) fail(where, "layer '" + printable(layer) + "' is listed but missing");
    std::vector<std::string> names =
        string_list(file, group->second, "weight_names", where + ": layer '" + printable(layer) + "'");
    if (names.empty()) continue;
    const std::map<std::string, hdf5::Object> datasets = members(group->second);
    KerasLayerWeights entry{layer, {}};
    for (const std::string& name : names) {
      // "dense/kernel:0" (Keras 2) lies in a subgroup; "dense_W:0" (Keras 1) directly in the layer's group.
      const size_t slash = name.find('/');
      std::optional<hdf5::Object> dataset;
      if (slash == std::string::npos) {
        if (auto it = datasets.find(name); it != datasets.end()) dataset = it->second;
      } else if (auto it = datasets.find(name.substr(0, slash)); it != datasets.end()) {
        dataset = file.find(it->second, name.substr(slash + 1));
      }
      if (!dataset) fail(where, "dataset '" + printable(name) + "' of layer '" + printable(layer) + "' is missing");
      Tensor t = file.float_dataset(*dataset, "dataset '" + printable(name) + "'");
      // A file that lists the same weights again and again must not make us hold more than it contains.
      bytes_loaded += static_cast<uint64_t>(t.numel()) * sizeof(float);
      if (bytes_loaded > 2 * file.size()) fail(where, "lists more weights than the file holds (layers listed twice?)");
      entry.weights.emplace_back(name, std::move(t));
    }
    layers.push_back(std::move(entry));
  }
  if (layers.empty()) fail(where, "holds no layer with weights");
  return layers;
}

LoadReport assign_keras_weights(const std::vector<KerasLayerWeights>& layers, Module& model, const std::string& source,
                                const KerasLoadOptions& options) {
  // Our layers, in order: runs of named_state() entries under the prefix sharing the next name component.
  LoadReport report;
  std::vector<std::pair<std::string, NamedTensors>> ours;
  for (auto& [name, t] : model.named_state()) {
    if (!name.starts_with(options.prefix)) {
      report.missing.push_back(name);
      continue;
    }
    const std::string rest = name.substr(options.prefix.size());
    const std::string layer = options.prefix + rest.substr(0, rest.find('.'));
    if (ours.empty() || ours.back().first != layer) ours.push_back({layer, {}});
    ours.back().second.emplace_back(name, t);
  }
  if (ours.empty()) fail_expected(source, "model tensors under '" + options.prefix + "'", "none");
  if (options.strict && ours.size() != layers.size()) {
    fail_expected(source, std::to_string(ours.size()) + " layers with weights (the model's)",
                  std::to_string(layers.size()));
  }
  const size_t paired = std::min(ours.size(), layers.size());
  for (size_t i = 0; i < paired; ++i) {
    const auto& theirs = layers[i].weights;
    const NamedTensors& mine = ours[i].second;
    const std::string pair =
        "layer " + std::to_string(i) + " ('" + printable(layers[i].layer) + "' → '" + ours[i].first + "')";
    if (theirs.size() != mine.size()) {
      fail_expected(source + ": " + pair, std::to_string(mine.size()) + " weights", std::to_string(theirs.size()));
    }
    for (size_t k = 0; k < mine.size(); ++k) {
      if (theirs[k].second.shape() != mine[k].second.shape()) {
        fail_expected(source + ": " + pair + " weight '" + printable(theirs[k].first) + "' → '" + mine[k].first + "'",
                      "shape " + to_string(mine[k].second.shape()), to_string(theirs[k].second.shape()));
      }
    }
  }
  for (size_t i = 0; i < paired; ++i) {
    for (size_t k = 0; k < ours[i].second.size(); ++k) {
      Tensor& mine = ours[i].second[k].second;  // rounded into a converted model's dtype (to(nn::bf16))
      mine.copy_from(layers[i].weights[k].second.to(mine.dtype()));
      report.loaded.push_back(ours[i].second[k].first);
    }
  }
  for (size_t i = paired; i < ours.size(); ++i)
    for (const auto& [name, t] : ours[i].second) report.missing.push_back(name);
  for (size_t i = paired; i < layers.size(); ++i)
    for (const auto& [name, t] : layers[i].weights) report.unused.push_back(printable(name));
  return report;
}

}  // namespace nn
