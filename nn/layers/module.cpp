#include "nn/layers/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <typeinfo>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"

namespace nn {

namespace {

// What summary(input_shape) learns from one forward pass: the output shape of every Layer called through
// operator(), and how often it was called. Set only while summary() runs, on the thread that runs it.
struct ShapeLog {
  std::map<const Module*, std::pair<Shape, int>> seen;
};
thread_local ShapeLog* active_log = nullptr;

// Every module of a tree once (a module registered twice is one module), children before their parent.
void visit_once(Module& m, std::set<const Module*>& seen, const std::function<void(Module&)>& fn) {
  if (!seen.insert(&m).second) return;
  for (const auto& [name, child] : m.named_children()) visit_once(*child, seen, fn);
  fn(m);
}

}  // namespace

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string out = status == 0 && name ? name.get() : mangled;
  return out.rfind("nn::", 0) == 0 ? out.substr(4) : out;
}

std::string Module::to_string() const {
  return type_name();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    fail_expected("Module::register", "a non-empty name without '.'", "'" + name + "'");
  }
  auto taken = [&](const auto& list) {
    for (const auto& entry : list) {
      if (entry.first == name) return true;
    }
    return false;
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_)) {
    fail_expected("Module::register", "a new name in " + to_string(), "'" + name + "', already registered");
  }
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  t.set_requires_grad(true);
  parameters_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  if (!module) fail_expected("Module::register_module", "a module for '" + name + "'", "null");
  children_.emplace_back(name, std::move(module));
}

// A tensor reached twice (a module registered twice, or weights tied by registering one tensor in two modules) is
// listed once, under its first name, as PyTorch's named_parameters(): an optimiser given the list then updates it
// once per step, and the counts count it once. Identity is the handle's TensorImpl (copies of a Tensor share it).
void Module::collect(const std::string& prefix, bool parameters, NamedTensors& out,
                     std::set<const TensorImpl*>& seen) const {
  for (const auto& [name, t] : parameters ? parameters_ : buffers_) {
    if (!t.defined() || seen.insert(t.impl().get()).second) out.emplace_back(prefix + name, t);
  }
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", parameters, out, seen);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  collect("", true, out, seen);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  collect("", false, out, seen);
  return out;
}

void Module::collect_state(const std::string& prefix, NamedTensors& out, std::set<const TensorImpl*>& seen) const {
  for (const auto* list : {&parameters_, &buffers_}) {
    for (const auto& [name, t] : *list) {
      if (!t.defined() || seen.insert(t.impl().get()).second) out.emplace_back(prefix + name, t);
    }
  }
  for (const auto& [name, child] : children_) child->collect_state(prefix + name + ".", out, seen);
}

NamedTensors Module::named_state() const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  collect_state("", out, seen);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t total = 0;
  for (auto& [name, t] : named_parameters()) total += t.numel();
  return total;
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

// ---- to(dtype) ----

namespace {

// Gives t's TensorImpl a storage of `dtype` holding its values converted (or, with convert false, uninitialised),
// so that every handle to that TensorImpl sees it; its gradient is dropped.
void replace_storage(const Tensor& t, DType dtype, bool convert) {
  const std::shared_ptr<TensorImpl> impl = t.impl();
  Tensor fresh = convert ? t.detach().to(dtype) : Tensor::empty(t.shape(), dtype, t.device());
  if (fresh.impl()->storage == impl->storage) return;  // already of that dtype
  impl->storage = fresh.impl()->storage;
  impl->offset = fresh.impl()->offset;
  impl->grad.reset();
}

}  // namespace

Module& Module::to(DType dtype) {
  if (!dtype_is_computed(dtype)) {
    fail_expected("Module::to", "a dtype a backend computes in (f32, bf16) for " + type_name(), dtype_name(dtype));
  }
  std::set<const TensorImpl*> seen;
  convert_into(dtype, "", seen);
  return *this;
}

void Module::convert_into(DType dtype, const std::string& prefix, std::set<const TensorImpl*>& seen) {
  for (const auto* list : {&parameters_, &buffers_}) {
    for (const auto& [name, t] : *list) {
      if (!t.defined() || !seen.insert(t.impl().get()).second) continue;
      const DType wanted = name == "bias" || keep_f32_.count(name) != 0 ? DType::f32 : dtype;
      if (t.dtype() == wanted) continue;
      try {
        replace_storage(t, wanted, true);
      } catch (const Error& e) {
        fail("Module::to", type_name() + " tensor '" + prefix + name + "' to " + dtype_name(wanted) + ": " + e.what());
      }
    }
  }
  for (const auto& [name, child] : children_) child->convert_into(dtype, prefix + name + ".", seen);
}

std::string Module::summary() const {
  std::string out;
  summary_into(out, "", 0);
  return out;
}

void Module::summary_into(std::string& out, const std::string& name, int depth) const {
  out += std::string(2 * depth, ' ') + (name.empty() ? "" : name + ": ") + to_string() + "\n";
  for (const auto& [child_name, child] : children_) child->summary_into(out, child_name, depth + 1);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  std::set<const Module*> seen;
  visit_once(*this, seen, fn);
}

// ---- clone ----

std::shared_ptr<Module> Module::clone_module() const {
  fail("Module::clone", type_name() + " does not support clone(): override clone_module() to build a new " +
                            type_name() + " with the same options (nn/layers/module.h)");
}

Generator& Module::scratch_generator() {
  thread_local Generator gen(0);
  return gen;
}

namespace {

// The copies made so far by the outermost clone() running on this thread, so that a module registered twice (a
// layer used twice, weight tying) is copied once and the copy is shared in the same places, as copy.deepcopy.
thread_local std::map<const Module*, std::shared_ptr<Module>>* clone_memo = nullptr;

class CloneMemoScope {
 public:
  CloneMemoScope() : outermost_(clone_memo == nullptr) {
    if (outermost_) clone_memo = &memo_;
  }
  ~CloneMemoScope() {
    if (outermost_) clone_memo = nullptr;
  }
  CloneMemoScope(const CloneMemoScope&) = delete;
  CloneMemoScope& operator=(const CloneMemoScope&) = delete;

 private:
  bool outermost_;
  std::map<const Module*, std::shared_ptr<Module>> memo_;
};

}  // namespace

std::shared_ptr<Module> Module::clone() const {
  CloneMemoScope scope;
  if (auto it = clone_memo->find(this); it != clone_memo->end()) return it->second;
  std::shared_ptr<Module> copy = clone_module();
  if (!copy || typeid(*copy) != typeid(*this)) {
    // A class derived from a library layer inherits the layer's clone_module(), which would lose its type.
    fail_expected(
        "Module::clone", type_name() + "::clone_module() to build a " + type_name(),
        copy ? "a " + copy->type_name() + " (override clone_module() in " + type_name() + ")" : std::string("null"));
  }
  copy_into(*copy);
  clone_memo->emplace(this, copy);
  return copy;
}

namespace {

bool same_names_and_shapes(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.defined() != b[i].second.defined()) return false;
    if (a[i].second.defined() && a[i].second.shape() != b[i].second.shape()) return false;
  }
  return true;
}

}  // namespace

// Copies values, modes and requires-grad flags into `copy`, a module of the same structure built by clone_module().
void Module::copy_into(Module& copy) const {
  bool same_children = children_.size() == copy.children_.size();
  for (size_t i = 0; same_children && i < children_.size(); ++i) {
    same_children = children_[i].first == copy.children_[i].first;
  }
  if (!same_names_and_shapes(parameters_, copy.parameters_) || !same_names_and_shapes(buffers_, copy.buffers_) ||
      !same_children) {
    fail_expected("Module::clone",
                  "clone_module() of " + type_name() +
                      " to build the same parameters, buffers and "
                      "children",
                  "a different structure");
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& source = parameters_[i].second;
    Tensor target = copy.parameters_[i].second;
    if (!source.defined()) continue;
    if (target.dtype() != source.dtype()) replace_storage(target, source.dtype(), false);  // a converted model
    target.copy_from(source);
    target.set_requires_grad(source.requires_grad());
  }
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const Tensor& source = buffers_[i].second;
    if (!source.defined()) continue;
    if (copy.buffers_[i].second.dtype() != source.dtype())
      replace_storage(copy.buffers_[i].second, source.dtype(), false);
    copy.buffers_[i].second.copy_from(source);
  }
  copy.training_ = training_;
  copy.keep_f32_ = keep_f32_;
  for (size_t i = 0; i < children_.size(); ++i) children_[i].second->copy_into(*copy.children_[i].second);
}

// ---- summary(input_shape) ----

namespace {

int64_t count(const NamedTensors& tensors) {
  int64_t total = 0;
  for (const auto& [name, t] : tensors) total += t.defined() ? t.numel() : 0;
  return total;
}

// name, output shape, count in Keras's columns (a cell too wide for its column pushes the next one right).
std::string row(const std::string& name, const std::string& shape, const std::string& params) {
  auto cell = [](const std::string& text, size_t width) {
    return text.size() < width ? text + std::string(width - text.size(), ' ') : text + " ";
  };
  std::string line = cell(name, 34) + cell(shape, 22) + params;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

// Puts every module in eval mode (restoring each one's mode afterwards) and stops the shape log when summary()
// ends, also by an exception.
class SummaryScope {
 public:
  SummaryScope(Module& root, ShapeLog& log) : modes_(root) {
    root.eval();
    active_log = &log;
  }
  ~SummaryScope() { active_log = nullptr; }
  SummaryScope(const SummaryScope&) = delete;
  SummaryScope& operator=(const SummaryScope&) = delete;

 private:
  ModeGuard modes_;
};

}  // namespace

std::string Module::summary(const Shape& input_shape, const std::function<Tensor(const Tensor&)>& forward) {
  int64_t elements = 1;
  for (int64_t d : input_shape) {
    if (d < 1 || d > (int64_t{1} << 28) || (elements *= d) > (int64_t{1} << 28)) {
      fail_expected("summary", "an input shape of extents ≥ 1 and at most 2^28 elements", nn::to_string(input_shape));
    }
  }
  ShapeLog log;
  Shape output_shape;
  {
    SummaryScope scope(*this, log);
    NoGradGuard no_grad;
    output_shape = forward(Tensor::zeros(input_shape)).shape();
  }

  const std::string rule(70, '_'), double_rule(70, '=');
  std::string out = "Model: " + type_name() + ", input " + nn::to_string(input_shape) + " -> output " +
                    nn::to_string(output_shape) + "\n" + rule + "\n" + row("Layer (type)", "Output shape", "Param #") +
                    double_rule + "\n";
  const int64_t own = count(parameters_) + count(buffers_);
  if (own > 0) out += row("(own) (" + type_name() + ")", "-", std::to_string(own));
  for (const auto& [name, child] : children_) {
    auto it = log.seen.find(child.get());
    std::string shape = it == log.seen.end()    ? "?"
                        : it->second.second > 1 ? "multiple"
                                                : nn::to_string(it->second.first);
    out += row(name + " (" + child->type_name() + ")", shape,
               std::to_string(count(child->named_parameters()) + count(child->named_buffers())));
  }
  int64_t trainable = 0, frozen = count(named_buffers());
  for (const auto& [name, t] : named_parameters()) (t.requires_grad() ? trainable : frozen) += t.numel();
  out += double_rule + "\nTotal params: " + with_commas(trainable + frozen) +
         "\nTrainable params: " + with_commas(trainable) + "\nNon-trainable params: " + with_commas(frozen) + "\n" +
         rule + "\n";
  return out;
}

Tensor Layer::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (active_log != nullptr && y.defined()) {
    auto& [shape, calls] = active_log->seen[this];
    shape = y.shape();
    ++calls;
  }
  return y;
}

std::string Layer::summary(const Shape& input_shape) {
  return Module::summary(input_shape, [this](const Tensor& x) { return forward(x); });
}

ModeGuard::ModeGuard(Module& root) {
  root.apply([this](Module& m) { modes_.emplace_back(&m, m.is_training()); });
}

ModeGuard::~ModeGuard() {
  // Parents before their children (the reverse of apply's order), as train() also sets the descendants.
  for (auto it = modes_.rbegin(); it != modes_.rend(); ++it) it->first->train(it->second);
}

bool logging_shapes() {
  return active_log != nullptr;
}

}  // namespace nn
