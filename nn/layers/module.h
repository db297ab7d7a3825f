/// @file
/// Module: the base of every layer (DESIGN.md item 6). Parameters, buffers and child modules are registered by
/// name; nested names are joined with '.' ("decoder.lstm.kernel"), in registration order.
///
/// Modules are not copyable (a copy of a handle would share the parameters); they are movable, so that a layer
/// built as a temporary can be handed over (`nn::Sequential{nn::Dense({...}), nn::ReLU()}`), and clone() makes a
/// deep copy with its own storage.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nn/core/random.h"
#include "nn/core/tensor.h"

namespace nn {

/// Tensors with their names, in order (parameters, buffers, optimiser and checkpoint state).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// The base of every layer and model: named parameters, buffers and child modules, the training mode, clone()
/// (see the file comment).
class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Switches this module and its children to training (Dropout active, BatchNorm on batch statistics) or not.
  void train(bool on = true);
  /// train(false).
  void eval() { train(false); }
  /// Whether this module is in training mode.
  bool is_training() const { return training_; }

  /// Every trainable tensor, recursively, named "child.grandchild.name". A tensor reached twice (a module registered
  /// under two names, e.g. `nn::Sequential{d, d}`, or one tensor registered in two modules to tie weights) is
  /// listed once, under the name it is first reached by, as PyTorch does: an optimiser then updates it once per
  /// step. Identity is the tensor itself (copies of a Tensor handle are the same tensor).
  NamedTensors named_parameters() const;
  /// State that is saved but not trained (e.g. BatchNorm's moving statistics), recursively; each tensor once, as
  /// named_parameters().
  NamedTensors named_buffers() const;
  /// Every parameter and buffer, module by module in registration order (a module's parameters, then its buffers,
  /// then its children's): the order in which Keras stores a model's weights. Each tensor once, under its first
  /// name, as named_parameters(): a checkpoint (nn::save, nn::load) of a model with tied weights holds the tied
  /// tensor once, and a layer used twice has its weights once, as in Keras. (PyTorch's state_dict() lists a tied
  /// tensor under every name; a file with such a second name is "unused" to nn::load.)
  NamedTensors named_state() const;
  /// The tensors of named_parameters(), in that order (each once).
  std::vector<Tensor> parameters() const;
  /// The element count of all parameters, each tensor counted once (buffers not included).
  int64_t num_parameters() const;
  /// Drops the accumulated gradient of every parameter.
  void zero_grad();
  /// Converts every parameter and buffer, recursively, to `dtype` in place (rounded to nearest even into bf16), so
  /// that handles to them held by layers see the new values — except those that stay f32 whatever the dtype asked:
  /// tensors registered as "bias" (added to the f32 accumulator before rounding) and those a module marks with
  /// keep_f32() (BatchNorm's gamma, beta and moving statistics: batch norm computes in f32). `model.to(nn::bf16)`
  /// for inference, `model.to(nn::f32)` back; training, gradients and checkpoints are f32. Accumulated gradients
  /// are dropped. Tied tensors are converted once. Throws nn::Error naming the module and the tensor for a dtype no
  /// backend computes in. Returns *this.
  Module& to(DType dtype);
  /// The direct children, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }

  /// Calls `fn` once on every descendant and then on this module (children before their parent, in registration
  /// order, as PyTorch's Module.apply); a module registered twice is visited once. E.g. custom initialisation:
  /// `model.apply([](nn::Module& m) { if (auto* d = dynamic_cast<nn::Dense*>(&m)) d->bias().fill(0.1f); });`
  void apply(const std::function<void(Module&)>& fn);

  /// A deep copy: the same structure, options, parameter and buffer values, training modes and requires-grad flags,
  /// in storage of its own (changing the clone leaves this module alone). Supported by every module of the library;
  /// a module of one's own overrides clone_module() (below), otherwise clone() throws nn::Error naming its type.
  /// A module registered under two names (a layer used twice) is copied once, and the copy is registered in the
  /// same two places, so the clone's weights stay tied. (A tensor registered directly in two modules is not: each
  /// module's copy has its own.)
  std::shared_ptr<Module> clone() const;

  /// The class name without the "nn::" namespace: "Dense", "Sequential", "my::Net".
  std::string type_name() const;
  /// One line for this module's configuration, e.g. "Dense(in=2048, out=256, activation=relu)". By default the
  /// module's type name ("MyNet"), so that a module of one's own needs no to_string to compile.
  virtual std::string to_string() const;
  /// The configuration of this module and, indented, of its children.
  std::string summary() const;
  /// A Keras-style table: one row per direct child — its name and type, the output shape it produced and its
  /// parameter count (parameters and buffers) —, then the total, trainable and non-trainable counts (buffers and
  /// parameters that do not require grad are non-trainable, as Keras). It runs `forward` once on zeros of
  /// `input_shape` (batch included), without grad and in eval mode, and restores every module's mode afterwards.
  /// A child's output shape is recorded when it is called through Layer::operator() (as Sequential does); one
  /// called otherwise (child->forward(x)), or not at all, shows "?", one called several times "multiple".
  /// Throws nn::Error for an input shape with an extent < 1 or over 2^28 elements, or whatever forward throws.
  std::string summary(const Shape& input_shape, const std::function<Tensor(const Tensor&)>& forward);

 protected:
  /// Moving hands the registered tensors and children over with the members that hold them (both are handles).
  Module(Module&&) = default;

  /// Registers `t` under `name` and marks it as requiring grad; returns a handle to it.
  Tensor register_parameter(const std::string& name, Tensor t);
  /// Registers `t` under `name` as a buffer (saved, not trained); returns a handle to it.
  Tensor register_buffer(const std::string& name, Tensor t);
  /// Marks the tensor registered (or to be registered) here as `name` to stay f32 through to() (see there).
  void keep_f32(const std::string& name) { keep_f32_.insert(name); }
  /// Registers a child module under `name`; returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  /// For clone(): a new module of this exact type with the same structure and options; clone() then copies every
  /// parameter and buffer value, mode and requires-grad flag into it (so the values it starts with do not matter;
  /// draw them from scratch_generator()). A module of one's own supports clone() by overriding it, e.g.
  /// `return std::make_shared<MyNet>(options_, scratch_generator());`. The default throws nn::Error.
  virtual std::shared_ptr<Module> clone_module() const;
  /// A generator for the throw-away initial values of clone_module(), so that cloning draws nothing from
  /// default_generator().
  static Generator& scratch_generator();

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool parameters, NamedTensors& out, std::set<const TensorImpl*>& seen) const;
  void collect_state(const std::string& prefix, NamedTensors& out, std::set<const TensorImpl*>& seen) const;
  void summary_into(std::string& out, const std::string& name, int depth) const;
  void copy_into(Module& copy) const;
  void convert_into(DType dtype, const std::string& prefix, std::set<const TensorImpl*>& seen);

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::set<std::string> keep_f32_;  // names that to() leaves f32
  bool training_ = true;
};

/// A module that maps one tensor to one tensor; what Sequential chains.
class Layer : public Module {
 public:
  /// The layer's computation.
  virtual Tensor forward(const Tensor& x) = 0;
  /// forward(x); also records the output shape for summary(input_shape).
  Tensor operator()(const Tensor& x);

  using Module::summary;
  /// summary(input_shape, forward): the Keras-style table of this layer's children.
  std::string summary(const Shape& input_shape);
};

/// Remembers the training mode of a module and of every descendant, and puts each back when it goes out of scope
/// (also when an exception leaves the scope): `{ nn::ModeGuard keep(model); model.eval(); … }` leaves a child that
/// was frozen with eval() frozen, where `model.train(was_training)` would switch it back to training.
class ModeGuard {
 public:
  /// Records the mode of `root` and of every descendant.
  explicit ModeGuard(Module& root);
  ~ModeGuard();
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> modes_;
};

/// clone() with the type kept: `std::shared_ptr<nn::Sequential> copy = nn::clone(model);`.
template <class M>
std::shared_ptr<M> clone(const M& module) {
  return std::static_pointer_cast<M>(module.clone());
}

/// Whether summary(input_shape) is logging layer shapes on this thread now (a layer that would run parts of its
/// work on other threads runs it on this one instead, so that every shape is seen).
bool logging_shapes();

}  // namespace nn
