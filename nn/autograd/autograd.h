/// @file
/// Define-by-run reverse-mode autograd (DESIGN.md item 3).
///
/// An op computes its outputs and, when grad mode is on and any input requires grad, records a Node: the inputs,
/// the shapes of its outputs and a backward closure. backward() runs the nodes reachable from the root in reverse
/// topological order. The contract for a backward closure (written down once, as dlib does):
///   - it receives one gradient per output (zeros for an output that no gradient reached) and returns one per input,
///     each of that input's shape, or an undefined Tensor for an input that does not require grad;
///   - it returns fresh tensors or views it does not modify later; the engine adds them, never assigns them;
///   - it must not capture its own outputs as they are (that would be a reference cycle): capture out.detach().
/// Leaf gradients accumulate into .grad across backward calls; intermediate gradients live only during one pass.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "nn/core/tensor.h"

namespace nn {

/// A backward closure: the gradients of an op's outputs in, the gradients of its inputs out (the contract above).
using BackwardFn = std::function<std::vector<Tensor>(std::span<const Tensor> grad_outputs)>;

/// One recorded op in the graph: what backward() needs to send gradients from its outputs to its inputs.
struct Node {
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  /// Releases the graph behind this node iteratively: the producers of inputs that die with it go onto a local
  /// worklist instead of being destroyed from inside this destructor, so a chain of any length frees in constant
  /// stack depth.
  ~Node();

  const char* op = "";               ///< op name, for error messages
  std::vector<Tensor> inputs;        ///< the op's inputs, in its argument order
  std::vector<Shape> output_shapes;  ///< for the zero gradient of an output no gradient reached
  BackwardFn backward;               ///< the op's backward closure
};

/// Whether ops record nodes (thread-local; on by default).
bool grad_mode_enabled();

/// Turns recording off for its lifetime: inference builds no graph and keeps no activations.
class NoGradGuard {
 public:
  NoGradGuard();   ///< turns recording off on this thread
  ~NoGradGuard();  ///< restores the mode it found
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Calls `ready(leaf)` during every backward() on this thread, for its lifetime, as soon as a leaf that requires grad
/// (a parameter) will receive no more gradient in that pass: its .grad is then complete (undefined if no gradient
/// reached it). Once per leaf reached through the recorded graph, in an order fixed by the graph (the same in every
/// run of the same graph). For starting work on finished gradients while backward goes on, such as a data-parallel
/// all-reduce (nn::distributed::GradientReducer::begin). `ready` must not start a backward itself.
class LeafGradientHook {
 public:
  explicit LeafGradientHook(std::function<void(const Tensor& leaf)> ready);
  ~LeafGradientHook();  ///< restores the hook it found
  LeafGradientHook(const LeafGradientHook&) = delete;
  LeafGradientHook& operator=(const LeafGradientHook&) = delete;

 private:
  std::function<void(const Tensor& leaf)> ready_;
  const std::function<void(const Tensor& leaf)>* previous_;
};

/// True when grad mode is on and any of `inputs` requires grad: the op must then call record().
bool needs_grad(std::initializer_list<const Tensor*> inputs);
/// The same for a list of tensors (undefined ones count as not requiring grad).
bool needs_grad(std::span<const Tensor> inputs);

/// Attaches a node producing `outputs` from `inputs` when needs_grad(inputs); otherwise does nothing. `op` names the
/// op in error messages (a string literal: it is kept, not copied).
void record(const char* op, std::vector<Tensor> inputs, std::initializer_list<Tensor*> outputs, BackwardFn backward);

/// Single-output convenience: `backward` receives the output's gradient.
void record(const char* op, std::vector<Tensor> inputs, Tensor& output,
            std::function<std::vector<Tensor>(const Tensor& grad_output)> backward);

/// A gradient the backward pass is consuming, as a buffer to write into: its own memory when the pass holds the only
/// handle to it and it is its storage's whole extent (no view shares it) — read nowhere else, so an elementwise
/// backward (gx[i] from g[i] alone) may overwrite it and a leaf may keep it —, else a new tensor of its shape and
/// dtype. Saves an allocation (and its page faults) per elementwise op, and a copy per parameter, in a training step.
Tensor reusable_gradient(const Tensor& grad_output);

}  // namespace nn
