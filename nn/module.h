// Module: the base of every layer (DESIGN.md item 6). Parameters, buffers and child modules are registered by
// name; nested names are joined with '.' ("decoder.lstm.kernel"), in registration order.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/tensor.h"

namespace nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Switches this module and its children to training (Dropout active, BatchNorm on batch statistics) or not.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  NamedTensors named_parameters() const;  // every trainable tensor, recursively
  NamedTensors named_buffers() const;     // state that is saved but not trained (e.g. moving statistics)
  // Every parameter and buffer, module by module in registration order (a module's parameters, then its buffers,
  // then its children's): the order in which Keras stores a model's weights.
  NamedTensors named_state() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;
  void zero_grad();

  // One line for this module's configuration, e.g. "Dense(in=2048, out=256, activation=relu)". By default the
  // module's type name ("MyNet"), so that a module of one's own needs no to_string to compile.
  virtual std::string to_string() const;
  // The configuration of this module and, indented, of its children.
  std::string summary() const;

 protected:
  // Registers `t` under `name` and marks it as requiring grad; returns a handle to it.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool parameters, NamedTensors& out) const;
  void collect_state(const std::string& prefix, NamedTensors& out) const;
  void summary_into(std::string& out, const std::string& name, int depth) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module that maps one tensor to one tensor; what Sequential chains.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace nn
