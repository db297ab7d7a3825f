// Reads the PyTorch reference fixtures written by tests/reference/make_fixtures.py (format in that script).
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nn/nn.h>

namespace test {

class Fixture {
 public:
  // `name` is a file of tests/reference/fixtures, or an absolute path.
  explicit Fixture(const std::string& name)
      : path_(!name.empty() && name[0] == '/' ? name : std::string(NN_FIXTURE_DIR) + "/" + name) {
    std::ifstream in(path_);
    if (!in) throw nn::Error(path_ + ": cannot open fixture (run tests/reference/make_fixtures.py)");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream header(line);
      std::string word, key;
      int rank = 0;
      header >> word >> key >> rank;
      if (word != "tensor") throw nn::Error(path_ + ": expected a 'tensor' line, got '" + line + "'");
      nn::Shape shape(rank);
      for (auto& d : shape) header >> d;
      std::getline(in, line);
      std::istringstream values(line);
      std::vector<float> data;
      float v;
      while (values >> v) data.push_back(v);
      tensors_[key] = nn::Tensor::from_data(shape, data);
    }
  }

  nn::Tensor operator[](const std::string& key) const {
    auto it = tensors_.find(key);
    if (it == tensors_.end()) throw nn::Error(path_ + ": no tensor '" + key + "'");
    return it->second.detach().clone();
  }

  // A fixture tensor of whole numbers as Indices.
  nn::Indices indices(const std::string& key) const {
    nn::Tensor t = (*this)[key];
    std::vector<int32_t> values;
    for (float v : t.to_vector()) values.push_back(static_cast<int32_t>(v));
    return nn::Indices(t.shape(), values);
  }

 private:
  std::string path_;
  std::map<std::string, nn::Tensor> tensors_;
};

}  // namespace test
