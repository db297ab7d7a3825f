#include "nn/layers/bidirectional.h"

#include <type_traits>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"

namespace nn {

namespace {

// x (N,T,…) with its time axis reversed: a differentiable copy, the two halves reversed and swapped recursively
// (O(T log T) copying forward and backward, where T single-step slices would cost O(T²) in the backward).
Tensor reverse_time(const Tensor& x) {
  const int64_t t = x.dim(1);
  if (t <= 1) return x;
  return concat({reverse_time(slice(x, 1, t / 2, t)), reverse_time(slice(x, 1, 0, t / 2))}, 1);
}

}  // namespace

const char* to_string(MergeMode mode) {
  switch (mode) {
    case MergeMode::concat:
      return "concat";
    case MergeMode::sum:
      return "sum";
    case MergeMode::mul:
      return "mul";
    case MergeMode::ave:
      return "ave";
  }
  return "?";
}

template <class L, class Options>
Bidirectional::Direction Bidirectional::make_direction(const char* name, const Options& layer, Generator& gen) {
  auto typed = register_module(name, std::make_shared<L>(layer, gen));
  return {typed, [typed](const Tensor& x, const Tensor& mask, const std::vector<Tensor>& state) {
            auto part = [&state](size_t i) { return i < state.size() ? state[i] : Tensor(); };
            if constexpr (std::is_same_v<L, LSTM>) {
              LstmResult r = typed->forward(x, mask, part(0), part(1));
              return std::pair{r.outputs, std::vector<Tensor>{r.h, r.c}};
            } else {
              GruResult r = typed->forward(x, mask, part(0));
              return std::pair{r.outputs, std::vector<Tensor>{r.h}};
            }
          }};
}

Bidirectional::Bidirectional(const LSTMOptions& layer, const BidirectionalOptions& options, Generator& gen)
    : layer_(layer), options_(options), return_sequences_(layer.return_sequences) {
  forward_ = make_direction<LSTM>("forward", layer, gen);
  backward_ = make_direction<LSTM>("backward", layer, gen);
}

Bidirectional::Bidirectional(const GRUOptions& layer, const BidirectionalOptions& options, Generator& gen)
    : layer_(layer), options_(options), return_sequences_(layer.return_sequences) {
  forward_ = make_direction<GRU>("forward", layer, gen);
  backward_ = make_direction<GRU>("backward", layer, gen);
}

Tensor Bidirectional::merge(const Tensor& forward, const Tensor& backward) const {
  switch (options_.merge_mode) {
    case MergeMode::concat:
      return concat({forward, backward}, -1);
    case MergeMode::sum:
      return add(forward, backward);
    case MergeMode::mul:
      return mul(forward, backward);
    case MergeMode::ave:
      return mul(add(forward, backward), 0.5f);
  }
  return Tensor();
}

Tensor Bidirectional::forward(const Tensor& x) {
  BidirectionalResult r = forward(x, Tensor());
  return return_sequences_ ? r.outputs : r.last;
}

BidirectionalResult Bidirectional::forward(const Tensor& x, const Tensor& mask) {
  return forward(x, mask, {}, {});
}

BidirectionalResult Bidirectional::forward(const Tensor& x, const Tensor& mask,
                                           const std::vector<Tensor>& forward_state,
                                           const std::vector<Tensor>& backward_state) {
  const bool lstm = std::holds_alternative<LSTMOptions>(layer_);
  for (const std::vector<Tensor>* state : {&forward_state, &backward_state}) {
    if (!state->empty() && state->size() != (lstm ? 2u : 1u)) {
      fail_expected("Bidirectional",
                    std::string("an initial ") + (state == &forward_state ? "forward" : "backward") + " state of " +
                        (lstm ? "2 tensors {h, c} (LSTM)" : "1 tensor {h} (GRU)"),
                    std::to_string(state->size()) + (state->size() == 1 ? " tensor" : " tensors"));
    }
  }
  if (!x.defined() || x.rank() != 3) {
    fail_expected("Bidirectional", "an input of shape (N,T,E)", shape_text(x));
  }
  Tensor reversed_mask;
  if (mask.defined()) {
    if (mask.shape() != Shape{x.dim(0), x.dim(1)}) {
      fail_expected(
          "Bidirectional",
          "a mask of shape " + nn::to_string(Shape{x.dim(0), x.dim(1)}) + " (input " + nn::to_string(x.shape()) + ")",
          nn::to_string(mask.shape()));
    }
    NoGradGuard no_grad;
    reversed_mask = reverse_time(mask.detach());
  }
  auto [forward_outputs, forward_last] = forward_.run(x, mask, forward_state);
  auto [backward_outputs, backward_last] = backward_.run(reverse_time(x), reversed_mask, backward_state);
  BidirectionalResult result;
  result.outputs = merge(forward_outputs, reverse_time(backward_outputs));
  result.last = merge(forward_last[0], backward_last[0]);
  result.forward_state = std::move(forward_last);
  result.backward_state = std::move(backward_last);
  return result;
}

std::shared_ptr<Module> Bidirectional::clone_module() const {
  return std::visit(
      [this](const auto& layer) -> std::shared_ptr<Module> {
        return std::make_shared<Bidirectional>(layer, options_, scratch_generator());
      },
      layer_);
}

std::string Bidirectional::to_string() const {
  return "Bidirectional(" + forward_.layer->to_string() + ", merge_mode=" + nn::to_string(options_.merge_mode) + ")";
}

}  // namespace nn
