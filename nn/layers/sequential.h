/// @file
/// Sequential: layers applied in order.
#pragma once

#include <concepts>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>

#include "nn/layers/module.h"

namespace nn {

/// What Sequential takes: a layer moved in (an rvalue), or a shared pointer to one.
template <class L>
concept LayerArgument = (std::derived_from<std::remove_cvref_t<L>, Layer> && !std::is_lvalue_reference_v<L>) ||
                        std::convertible_to<L, std::shared_ptr<Layer>>;

/// Layers applied in order, each to the previous one's output; children are named "0", "1", …
///
/// Layers are given by value (moved in: `nn::Sequential{nn::Dense({.in = 784, .out = 128}), nn::ReLU()}`) or as
/// std::shared_ptr (shared with the caller, who can keep a typed handle); both kinds mix in one list. A named layer
/// is moved in with std::move(layer); passing it as it is does not compile, since modules are not copyable. (As with
/// any class, `Sequential{other_sequential}` alone is a move, not a nesting: add() nests one.)
class Sequential : public Layer {
 public:
  Sequential() = default;
  /// Shared layers.
  Sequential(std::initializer_list<std::shared_ptr<Layer>> layers);
  /// Layers by value and/or shared pointers, in order.
  template <LayerArgument... Ls>
  requires(sizeof...(Ls) > 0) explicit Sequential(Ls&&... layers) { (add(std::forward<Ls>(layers)), ...); }

  /// Appends a shared layer; throws nn::Error for a null pointer.
  Sequential& add(std::shared_ptr<Layer> layer);
  /// Appends a layer moved in.
  template <class L>
  requires std::derived_from<L, Layer> &&(!std::is_reference_v<L>)Sequential& add(L&& layer) {
    return add(std::shared_ptr<Layer>(std::make_shared<L>(std::move(layer))));
  }

  /// x through every layer in order; an empty Sequential returns x.
  Tensor forward(const Tensor& x) override;
  /// "Sequential(3 layers)".
  std::string to_string() const override;
  /// The number of layers.
  size_t size() const { return layers_.size(); }
  /// The layer at `index` (0-based); throws nn::Error when out of range.
  Layer& operator[](size_t index) const;

 protected:
  std::shared_ptr<Module> clone_module() const override;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace nn
