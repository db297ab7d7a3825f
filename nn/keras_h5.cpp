#include "nn/keras_h5.h"

#include <hdf5.h>

#include <algorithm>
#include <map>

#include "nn/error.h"

namespace nn {

namespace {

// Closes an HDF5 handle when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

// A string-array attribute (`layer_names`, `weight_names`), stored fixed- or variable-length.
std::vector<std::string> string_attribute(hid_t object, const char* name, const std::string& where) {
  if (H5Aexists(object, name) <= 0) fail(where, std::string("has no '") + name + "' attribute: not a Keras weights file");
  Handle attr{H5Aopen(object, name, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(attr.id), H5Tclose};
  Handle space{H5Aget_space(attr.id), H5Sclose};
  hssize_t count = H5Sget_simple_extent_npoints(space.id);
  if (count < 0 || count > 100000) fail(where, std::string("has an unreadable '") + name + "' attribute");
  std::vector<std::string> out;
  if (count == 0) return out;
  if (H5Tget_class(type.id) != H5T_STRING) fail(where, std::string("'") + name + "' is not a list of strings");
  if (H5Tis_variable_str(type.id) > 0) {
    std::vector<char*> values(static_cast<size_t>(count));
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));  // newer Keras (h5py 3) writes UTF-8 variable-length strings
    const herr_t read = H5Aread(attr.id, mem.id, values.data());
    if (read >= 0)
      for (char* v : values) out.emplace_back(v ? v : "");
    H5Dvlen_reclaim(mem.id, space.id, H5P_DEFAULT, values.data());  // also what a failed read left allocated
    if (read < 0) fail(where, std::string("cannot read '") + name + "'");
    return out;
  }
  size_t size = H5Tget_size(type.id);
  if (size == 0 || size > (64u << 20) / static_cast<size_t>(count))  // a corrupt size must not allocate gigabytes
    fail(where, std::string("has an unreadable '") + name + "' attribute");
  std::vector<char> buffer(size * static_cast<size_t>(count));
  if (H5Aread(attr.id, type.id, buffer.data()) < 0) fail(where, std::string("cannot read '") + name + "'");
  for (hssize_t i = 0; i < count; ++i) {
    const char* s = buffer.data() + i * size;
    out.emplace_back(s, static_cast<size_t>(std::find(s, s + size, '\0') - s));
  }
  return out;
}

Tensor read_dataset(hid_t group, const std::string& name, const std::string& where) {
  Handle dataset{H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose};
  if (dataset.id < 0) fail(where, "dataset '" + name + "' is missing");
  Handle space{H5Dget_space(dataset.id), H5Sclose};
  int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 0 || rank > 8) fail(where, "dataset '" + name + "' has an unreadable shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  Shape shape(dims.begin(), dims.end());
  if (numel(shape) > (int64_t{1} << 31)) fail(where, "dataset '" + name + "' is too large: " + to_string(shape));
  Tensor t = Tensor::empty(shape);
  if (H5Dread(dataset.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) < 0) {
    fail(where, "cannot read dataset '" + name + "' as float32");
  }
  return t;
}

}  // namespace

std::vector<KerasLayerWeights> read_keras_h5(const std::filesystem::path& path) {
  const std::string where = path.string();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as return codes, never printed
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(where, "is not a file");
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(where, "is not an HDF5 file");
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  if (file.id < 0) fail(where, "cannot be opened as HDF5");
  // A whole saved model keeps its weights under model_weights/.
  bool nested = H5Lexists(file.id, "model_weights", H5P_DEFAULT) > 0;
  Handle root{H5Gopen2(file.id, nested ? "model_weights" : "/", H5P_DEFAULT), H5Gclose};
  std::vector<KerasLayerWeights> layers;
  for (const std::string& layer : string_attribute(root.id, "layer_names", where)) {
    Handle group{H5Gopen2(root.id, layer.c_str(), H5P_DEFAULT), H5Gclose};
    if (group.id < 0) fail(where, "layer '" + layer + "' is listed but missing");
    std::vector<std::string> names = string_attribute(group.id, "weight_names", where + ": layer '" + layer + "'");
    if (names.empty()) continue;
    KerasLayerWeights entry{layer, {}};
    for (const std::string& name : names) entry.weights.emplace_back(name, read_dataset(group.id, name, where));
    layers.push_back(std::move(entry));
  }
  if (layers.empty()) fail(where, "holds no layer with weights");
  return layers;
}

void assign_keras_weights(const std::vector<KerasLayerWeights>& layers, Module& model, const std::string& source) {
  // Our layers, in order: runs of named_state() entries sharing the first name component.
  std::vector<std::pair<std::string, NamedTensors>> ours;
  for (auto& [name, t] : model.named_state()) {
    std::string layer = name.substr(0, name.find('.'));
    if (ours.empty() || ours.back().first != layer) ours.push_back({layer, {}});
    ours.back().second.emplace_back(name, t);
  }
  if (ours.size() != layers.size()) {
    fail_expected(source, std::to_string(ours.size()) + " layers with weights (the model's)",
                  std::to_string(layers.size()));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& theirs = layers[i].weights;
    const NamedTensors& mine = ours[i].second;
    const std::string pair = "layer " + std::to_string(i) + " ('" + layers[i].layer + "' → '" + ours[i].first + "')";
    if (theirs.size() != mine.size()) {
      fail_expected(source + ": " + pair, std::to_string(mine.size()) + " weights", std::to_string(theirs.size()));
    }
    for (size_t k = 0; k < mine.size(); ++k) {
      if (theirs[k].second.shape() != mine[k].second.shape()) {
        fail_expected(source + ": " + pair + " weight '" + theirs[k].first + "' → '" + mine[k].first + "'",
                      "shape " + to_string(mine[k].second.shape()), to_string(theirs[k].second.shape()));
      }
    }
  }
  for (size_t i = 0; i < layers.size(); ++i)
    for (size_t k = 0; k < ours[i].second.size(); ++k) ours[i].second[k].second.copy_from(layers[i].weights[k].second);
}

}  // namespace nn
