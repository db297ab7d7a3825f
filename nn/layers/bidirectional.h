/// @file
/// Bidirectional: an LSTM or a GRU run forwards and backwards over each sequence, outputs merged (Keras's wrapper).
#pragma once

#include <functional>
#include <memory>
#include <variant>
#include <vector>

#include "nn/layers/gru.h"
#include "nn/layers/lstm.h"
#include "nn/layers/module.h"

namespace nn {

/// How Bidirectional joins the forward and backward outputs (Keras's merge_mode).
enum class MergeMode {
  concat,  ///< [forward, backward] along the last axis: 2U features
  sum,     ///< forward + backward
  mul,     ///< forward ⊙ backward
  ave,     ///< (forward + backward) / 2
};
/// The merge mode's name, as Keras spells it ("concat", "sum", "mul", "ave").
const char* to_string(MergeMode mode);

/// Bidirectional's configuration, Keras's arguments.
struct BidirectionalOptions {
  MergeMode merge_mode = MergeMode::concat;  ///< how the two directions' outputs are joined
};

/// What Bidirectional::forward(x, mask) returns.
struct BidirectionalResult {
  Tensor outputs;                      ///< (N,T,2U) with concat, (N,T,U) otherwise: the merged outputs of every step
  Tensor last;                         ///< (N,2U) or (N,U): the merged last states h of the two directions
  std::vector<Tensor> forward_state;   ///< {h} (GRU) or {h, c} (LSTM), (N,U) each, after the whole sequence
  std::vector<Tensor> backward_state;  ///< likewise for the backward copy, after reading the sequence backwards
};

/// Keras's Bidirectional around an LSTM or a GRU: two copies of the layer with their own weights, registered as
/// "forward" and "backward" ("forward.kernel", "backward.bias" …). The backward copy reads each sequence reversed
/// and its outputs are reversed back, so that position t of both holds what they computed at step t.
///
/// With a mask the backward copy reads x and the mask reversed as a whole, as Keras's go_backwards does. For a
/// mask of trailing padding (lengths) that is the same as reversing only the valid part of each row, which is what
/// PyTorch's packed sequences give: the same outputs at every valid position and the same last states (tested
/// against torch.nn.LSTM / GRU(bidirectional=True) over packed sequences). At padded positions the forward copy
/// repeats its last h (as LSTM and GRU do) and the backward copy holds its initial state (zeros unless given); PyTorch
/// writes zeros at both. Masks with gaps follow Keras too (tested against a torch GRUCell loop written that way).
class Bidirectional : public Layer {
 public:
  /// Wraps an LSTM built from `layer` (its return_sequences decides what forward(x) returns).
  /// Throws nn::Error as LSTM does for a bad configuration.
  explicit Bidirectional(const LSTMOptions& layer, const BidirectionalOptions& options = {},
                         Generator& gen = default_generator());
  /// Wraps a GRU built from `layer`.
  explicit Bidirectional(const GRUOptions& layer, const BidirectionalOptions& options = {},
                         Generator& gen = default_generator());

  /// x (N,T,E) without a mask → BidirectionalResult::outputs with the wrapped layer's return_sequences, else last.
  Tensor forward(const Tensor& x) override;
  /// x (N,T,E), mask (N,T) of 1 run / 0 skip (undefined: no mask). Throws nn::Error with the shapes when x is not
  /// (N,T,E), the mask not (N,T), or E not the layer's input size.
  BidirectionalResult forward(const Tensor& x, const Tensor& mask);
  /// As above, from initial states: {h} for a GRU, {h, c} for an LSTM, (N,U) each (empty: zeros), as torch's
  /// h0[0] / h0[1] and Keras's initial_state. Throws nn::Error for a state of the wrong count, or as the layer does
  /// for a wrong shape.
  BidirectionalResult forward(const Tensor& x, const Tensor& mask, const std::vector<Tensor>& forward_state,
                              const std::vector<Tensor>& backward_state);
  std::string to_string() const override;

  /// The configuration it was built with.
  const BidirectionalOptions& options() const { return options_; }
  /// The wrapped copies (nn::LSTM or nn::GRU; std::dynamic_pointer_cast to reach their weights).
  std::shared_ptr<Layer> forward_layer() const { return forward_.layer; }
  /// The copy that reads the sequence backwards; as forward_layer.
  std::shared_ptr<Layer> backward_layer() const { return backward_.layer; }

 private:
  // One direction: the layer and how to run it over (x, mask, initial state) → (outputs (N,T,U), final state).
  struct Direction {
    std::shared_ptr<Layer> layer;
    std::function<std::pair<Tensor, std::vector<Tensor>>(const Tensor&, const Tensor&, const std::vector<Tensor>&)> run;
  };
  template <class L, class Options>
  Direction make_direction(const char* name, const Options& layer, Generator& gen);
  Tensor merge(const Tensor& forward, const Tensor& backward) const;
  std::shared_ptr<Module> clone_module() const override;

  std::variant<LSTMOptions, GRUOptions> layer_;  // what the two copies are built from
  BidirectionalOptions options_;
  bool return_sequences_ = false;
  Direction forward_, backward_;
};

}  // namespace nn
