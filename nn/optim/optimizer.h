/// @file
/// Optimisers update named parameters from their accumulated .grad. Parameters come in groups (PyTorch's
/// param_groups), each with its own options; the learning rate of every group can change between steps (the
/// schedules of nn/optim/scheduler.h do it through learning_rate() / set_learning_rate()). An optimiser's state
/// (moments, step count, each group's current rate, and a tag naming its type) is a list of named tensors, saved in
/// checkpoints beside the model under "optimizer/…" (nn/io/checkpoint.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nn/core/error.h"
#include "nn/layers/module.h"

namespace nn {

/// What a parameter group sets for itself; a field left unset takes the optimiser's default. Any other option of a
/// group can be changed after construction through the optimiser's options(group).
struct ParamGroupOptions {
  std::optional<float> lr;            ///< learning rate of this group
  std::optional<float> weight_decay;  ///< λ of this group (coupled or decoupled, as the optimiser defines it)
};

/// Parameters that share options, e.g. `{model.cnn().named_parameters(), {.lr = 1e-4f}}`.
struct ParamGroup {
  NamedTensors parameters;         ///< names and tensors must be unique over all the optimiser's groups
  ParamGroupOptions options = {};  ///< overrides of the optimiser's defaults
};

/// The base of every optimiser: groups of parameters, zero_grad, the learning rate of each group, and the state.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// Applies one update to every parameter that has a gradient (parameters without one are left alone).
  /// Throws nn::Error when an option of some group is out of range (options() can be changed between steps).
  virtual void step() = 0;
  /// Drops every parameter's gradient.
  void zero_grad();

  /// The state as named tensors: the optimiser's buffers ("m.<parameter>", …), then "type.<Type>" (a tag naming
  /// the optimiser) and "group.<g>.lr" (each group's current learning rate).
  virtual NamedTensors state() const = 0;
  /// Restores a state from state(), the learning rates included. Throws nn::Error naming the entry when the state
  /// is another optimiser type's, or an entry is missing, extra, misshapen or out of range; nothing changes then.
  virtual void load_state(const NamedTensors& state) = 0;

  /// Every parameter of every group, group by group.
  const NamedTensors& parameters() const { return parameters_; }
  /// The number of parameter groups (1 for an optimiser built from one list).
  size_t group_count() const { return group_begin_.size() - 1; }
  /// The parameters of group `group` (nn::Error when there is no such group).
  NamedTensors group_parameters(size_t group) const;

  /// The current learning rate of group `group` (nn::Error when there is no such group).
  virtual float learning_rate(size_t group = 0) const = 0;
  /// Sets the learning rate of group `group`; nn::Error for a rate that is negative or not finite, or no such group.
  virtual void set_learning_rate(float lr, size_t group = 0) = 0;

  /// One line for logs: the type and the options of each group, e.g. "SGD(lr=0.1, momentum=0.9, …)".
  virtual std::string to_string() const = 0;

 protected:
  /// Checks that every parameter requires grad and that names and tensors are unique over the groups (a tensor
  /// under two names, as tied weights listed twice, throws nn::Error naming both). `who` names the type.
  Optimizer(const char* who, const std::vector<ParamGroup>& groups);

  /// `group` if there is such a group, else nn::Error from `who`.
  size_t checked_group(const char* who, size_t group) const;
  /// nn::Error from "<type>::load_state" naming the entry when `state` holds another type's tag ("type.SGD" in a
  /// state given to Adam).
  static void check_state_type(const std::string& type, const NamedTensors& state);
  /// nn::Error from `who` naming the first parameter (or gradient) that is not f32 — optimisers update f32 tensors
  /// only (a model converted with to(nn::bf16) is for inference). Called before a step changes anything.
  void check_f32_parameters(const char* who) const;
  /// nn::Error from `who` unless `lr` is finite and >= 0.
  static void check_learning_rate(const char* who, float lr, size_t group);
  /// `own` followed by the entries every optimiser saves: "type.<type>" and "group.<g>.lr".
  NamedTensors with_common_state(const std::string& type, NamedTensors own) const;
  /// Checks `state` holds exactly `own`'s names and shapes plus the common entries, copies the values into `own`'s
  /// tensors and restores each group's learning rate. The type tag is checked first, so that another optimiser's
  /// state is refused by name.
  void load_with_common_state(const std::string& type, const NamedTensors& state, NamedTensors own);

  NamedTensors parameters_;          ///< all groups, in order
  std::vector<size_t> group_begin_;  ///< group g is parameters_[group_begin_[g], group_begin_[g + 1])
};

/// The part every concrete optimiser shares: one `Options` per group (the defaults with the group's overrides).
/// `Options` has at least `float lr` and `float weight_decay`.
template <class Options>
class OptimizerWithOptions : public Optimizer {
 public:
  /// The options of group `group`, to read or change between steps (nn::Error when there is no such group).
  Options& options(size_t group = 0) { return options_[checked_group("options", group)]; }
  /// The options of group `group`, read-only.
  const Options& options(size_t group = 0) const { return options_[checked_group("options", group)]; }

  /// options(group).lr (nn::Error when there is no such group).
  float learning_rate(size_t group = 0) const override { return options_[checked_group("learning_rate", group)].lr; }
  /// Sets options(group).lr; nn::Error for a rate that is negative or not finite, or no such group.
  void set_learning_rate(float lr, size_t group = 0) override {
    const size_t g = checked_group("set_learning_rate", group);
    check_learning_rate("set_learning_rate", lr, g);
    options_[g].lr = lr;
  }

 protected:
  /// The parameters of `groups`, each group's options being `defaults` with the group's own lr and weight decay.
  /// `who` names the optimiser in errors.
  OptimizerWithOptions(const char* who, const std::vector<ParamGroup>& groups, const Options& defaults)
      : Optimizer(who, groups) {
    for (const ParamGroup& group : groups) {
      Options o = defaults;
      if (group.options.lr) o.lr = *group.options.lr;
      if (group.options.weight_decay) o.weight_decay = *group.options.weight_decay;
      options_.push_back(o);
    }
  }

  std::vector<Options> options_;  ///< one per group
};

/// Whether every accumulated gradient of `parameters` is finite (a step on a NaN or infinite gradient would spoil
/// the weights for good).
namespace detail {
/// nn::Error from `who` naming the first of `parameters` that is not f32, or whose gradient is not.
void check_f32_gradients(const char* who, const NamedTensors& parameters);
}  // namespace detail

bool gradients_finite(const NamedTensors& parameters);

/// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm before clipping. A tensor
/// given twice (tied weights) counts once.
float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm);

namespace detail {
/// Checks `state` holds exactly the names and shapes of `expected` and copies the values into it.
void load_named(const char* who, const NamedTensors& state, NamedTensors& expected);

/// A count (steps, epochs) as a tensor of shape [2] holding ⌊count / 2²⁴⌋ and count mod 2²⁴: float32 holds each
/// exactly, so counts up to 2⁴⁸ survive a checkpoint (one float would stop counting at 2²⁴ ≈ 16.7 M).
Tensor count_tensor(int64_t count);
/// The count in `state`'s entry `name` (written by count_tensor); nn::Error from `who` naming the entry when it is
/// missing, misshapen or not two whole numbers in range.
int64_t read_count(const std::string& who, const NamedTensors& state, const std::string& name);
/// The entry `name` of `state`, or nullptr.
const Tensor* find(const NamedTensors& state, const std::string& name);

/// `value` as %g prints it ("0.001", "1e-05"), for messages and to_string().
std::string number(double value);

/// Throws "who: expected OPTION in RANGE for group G, got VALUE" unless `ok`.
void check_option(bool ok, const char* who, const char* option, const char* range, size_t group, double value);

/// An optimiser's to_string(): "Type(OPTIONS)" with one group, "Type(group 0: OPTIONS; group 1: OPTIONS)" with more;
/// `describe(options)` writes one group's options.
template <class Options, class Describe>
std::string groups_string(const std::string& type, const std::vector<Options>& groups, Describe describe) {
  std::string out = type + "(";
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g > 0) out += "; ";
    if (groups.size() > 1) out += "group " + std::to_string(g) + ": ";
    out += describe(groups[g]);
  }
  return out + ")";
}
}  // namespace detail

}  // namespace nn
