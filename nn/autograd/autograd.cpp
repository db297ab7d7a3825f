#include "nn/autograd/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "nn/backends/backend.h"
#include "nn/core/error.h"

namespace nn {

namespace {
thread_local bool g_grad_mode = true;
thread_local const std::function<void(const Tensor& leaf)>* g_leaf_ready = nullptr;  // LeafGradientHook
}  // namespace

bool grad_mode_enabled() {
  return g_grad_mode;
}

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) {
  g_grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_mode = previous_;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_mode) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const Tensor* t) { return t->defined() && t->requires_grad(); });
}

bool needs_grad(std::span<const Tensor> inputs) {
  if (!g_grad_mode) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.defined() && t.requires_grad(); });
}

namespace {

// Empties `node`: drops its backward closure (whose captures are usually its inputs again), then releases its inputs
// one reference at a time, moving the producer of each input that is about to die onto `worklist`, so destroying
// the input frees no node. One at a time, because a tensor can be an input twice (add(y, y)): only the release of
// its last reference shows that it dies.
void detach_producers(Node& node, std::vector<std::shared_ptr<Node>>& worklist) {
  node.backward = nullptr;
  for (Tensor& input : node.inputs) {
    if (!input.defined()) continue;
    std::shared_ptr<TensorImpl> impl = input.impl();
    input = Tensor();
    if (impl.use_count() == 1 && impl->grad_fn) worklist.push_back(std::move(impl->grad_fn));
  }
  node.inputs.clear();
}

}  // namespace

Node::~Node() {
  std::vector<std::shared_ptr<Node>> worklist;
  detach_producers(*this, worklist);
  while (!worklist.empty()) {
    std::shared_ptr<Node> node = std::move(worklist.back());
    worklist.pop_back();
    if (node.use_count() == 1) detach_producers(*node, worklist);
  }  // `node` is released here with no inputs left: its own destructor finds nothing to do
}

void record(const char* op, std::vector<Tensor> inputs, std::initializer_list<Tensor*> outputs, BackwardFn backward) {
  if (!needs_grad(std::span<const Tensor>(inputs))) return;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  int index = 0;
  for (Tensor* out : outputs) {
    node->output_shapes.push_back(out->shape());
    TensorImpl& impl = *out->impl();
    impl.requires_grad = true;
    impl.grad_fn = node;
    impl.output_index = index++;
  }
}

void record(const char* op, std::vector<Tensor> inputs, Tensor& output,
            std::function<std::vector<Tensor>(const Tensor& grad_output)> backward) {
  record(op, std::move(inputs), {&output},
         [fn = std::move(backward)](std::span<const Tensor> grads) { return fn(grads[0]); });
}

Tensor reusable_gradient(const Tensor& grad_output) {
  // Two handles: the backward pass's (run_backward's grad_outputs, passed down by reference) and `impl` here.
  const std::shared_ptr<TensorImpl> impl = grad_output.impl();
  if (impl.use_count() == 2 && impl->storage.use_count() == 1 && impl->offset == 0 &&
      impl->storage->count == static_cast<size_t>(impl->numel) && !impl->grad_fn)
    return grad_output;
  return Tensor::empty(grad_output.shape(), grad_output.dtype());
}

namespace {

// Nodes reachable from `root`, ordered so that every node comes before the nodes that produced its inputs.
std::vector<Node*> reverse_topological_order(Node* root) {
  std::vector<Node*> post_order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      const Tensor& input = node->inputs[next_input++];
      Node* producer = input.defined() ? input.impl()->grad_fn.get() : nullptr;
      if (producer != nullptr && visited.insert(producer).second) stack.push_back({producer, 0});
    } else {
      post_order.push_back(node);
      stack.pop_back();
    }
  }
  std::reverse(post_order.begin(), post_order.end());
  return post_order;
}

// Adds `g` into a leaf's .grad. The first gradient becomes the leaf's own, so that later in-place accumulation
// touches nothing else: g itself when run_backward computed it (`g_is_ours`: no caller holds it) and nothing else
// sees its memory (reusable_gradient) — after zero_grad every step would otherwise copy each parameter's gradient
// once more, on one thread —, else a copy. A bf16 gradient is added in f32 and rounded once (its dtype is the
// leaf's: the conversion path's `to` sends it back converted).
void accumulate_into_leaf(TensorImpl& leaf, const Tensor& g, bool g_is_ours) {
  if (!leaf.grad) {
    Tensor first = g_is_ours ? reusable_gradient(g) : Tensor::empty(g.shape(), g.dtype());
    if (first.impl() != g.impl()) first.copy_from(g);
    leaf.grad = first.impl();
    return;
  }
  Tensor grad(leaf.grad);
  const Backend& be = backend_for(grad);
  if (grad.dtype() == DType::f32 && g.dtype() == DType::f32) {
    be.axpy(g.numel(), 1.0f, g.data(), grad.data());
    return;
  }
  Tensor total = grad.to(DType::f32).clone(), addend = g.to(DType::f32);
  be.axpy(g.numel(), 1.0f, addend.data(), total.data());
  be.cast(total.numel(), DType::f32, total.raw_data(), grad.dtype(), grad.raw_data());
}

// a + b, two gradients of one shape, in a's dtype (a bf16 sum computed in f32 and rounded once).
Tensor add_gradients(const Tensor& a, const Tensor& b) {
  Tensor fa = a.to(DType::f32), fb = b.to(DType::f32);
  Tensor sum = Tensor::empty(a.shape());
  kernels::Broadcast flat;
  flat.rank = 1;
  flat.shape[0] = sum.numel();
  flat.stride_a[0] = flat.stride_b[0] = 1;
  backend_for(sum).zip(kernels::Binary::add, DType::f32, flat, fa.data(), fb.data(), sum.data());
  return sum.to(a.dtype());
}

void check_gradient_shape(const Node& node, size_t input, const Tensor& g) {
  if (g.shape() != node.inputs[input].shape()) {
    fail_expected(std::string("backward of ") + node.op,
                  "gradient of input " + std::to_string(input) + " with shape " + to_string(node.inputs[input].shape()),
                  to_string(g.shape()));
  }
}

// A leaf input that LeafGradientHook follows: defined, requiring grad, made by no op.
bool followed_leaf(const Tensor& t) {
  return t.defined() && t.requires_grad() && !t.impl()->grad_fn;
}

void run_backward(const Tensor& root, const Tensor& upstream) {
  TensorImpl& root_impl = *root.impl();
  const std::function<void(const Tensor&)>* ready = g_leaf_ready;
  if (!root_impl.grad_fn) {
    accumulate_into_leaf(root_impl, upstream, false);
    if (ready != nullptr) (*ready)(root);
    return;
  }
  NoGradGuard no_grad;  // backward closures compute plain values; no higher-order graphs
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  Node* root_node = root_impl.grad_fn.get();
  pending[root_node].resize(root_node->output_shapes.size());
  pending[root_node][root_impl.output_index] = upstream;

  const std::vector<Node*> order = reverse_topological_order(root_node);
  // With a LeafGradientHook: each leaf's edges from the nodes still to run; the hook fires when the last one has.
  std::unordered_map<TensorImpl*, int> waiting;
  if (ready != nullptr) {
    for (Node* node : order)
      for (const Tensor& input : node->inputs)
        if (followed_leaf(input)) ++waiting[input.impl().get()];
  }
  auto passed = [&](const Node& node) {  // node's gradients have all been added to its leaf inputs
    if (ready == nullptr) return;
    for (const Tensor& input : node.inputs)
      if (followed_leaf(input) && --waiting[input.impl().get()] == 0) (*ready)(input);
  };

  for (Node* node : order) {
    auto found = pending.find(node);
    if (found == pending.end()) {  // no gradient reached this node
      passed(*node);
      continue;
    }
    std::vector<Tensor> grad_outputs = std::move(found->second);
    pending.erase(found);
    grad_outputs.resize(node->output_shapes.size());
    for (size_t i = 0; i < grad_outputs.size(); ++i) {
      if (!grad_outputs[i].defined()) grad_outputs[i] = Tensor::zeros(node->output_shapes[i]);
    }
    std::vector<Tensor> grad_inputs = node->backward(grad_outputs);
    if (grad_inputs.size() != node->inputs.size()) {
      fail_expected(std::string("backward of ") + node->op, std::to_string(node->inputs.size()) + " gradients",
                    std::to_string(grad_inputs.size()));
    }
    for (size_t i = 0; i < grad_inputs.size(); ++i) {
      const Tensor& input = node->inputs[i];
      const Tensor& g = grad_inputs[i];
      if (!input.defined() || !input.requires_grad() || !g.defined()) continue;
      check_gradient_shape(*node, i, g);
      TensorImpl& impl = *input.impl();
      if (!impl.grad_fn) {
        accumulate_into_leaf(impl, g, true);
        continue;
      }
      std::vector<Tensor>& slots = pending[impl.grad_fn.get()];
      slots.resize(impl.grad_fn->output_shapes.size());
      Tensor& slot = slots[impl.output_index];
      slot = slot.defined() ? add_gradients(slot, g) : g;
    }
    passed(*node);
  }
}

}  // namespace

namespace {
void require_grad_for_backward(const Tensor& t) {
  if (!t.requires_grad()) {
    throw Error("backward: this tensor " + to_string(t.shape()) +
                " does not require grad (no input of the ops that made it requires grad, or grad mode was off)");
  }
}
}  // namespace

LeafGradientHook::LeafGradientHook(std::function<void(const Tensor& leaf)> ready)
    : ready_(std::move(ready)), previous_(g_leaf_ready) {
  g_leaf_ready = &ready_;
}

LeafGradientHook::~LeafGradientHook() {
  g_leaf_ready = previous_;
}

void Tensor::backward() const {
  require_grad_for_backward(*this);
  if (numel() != 1) {
    fail_expected("backward", "a one-element tensor, or an explicit upstream gradient",
                  "shape " + nn::to_string(shape()));
  }
  run_backward(*this, Tensor::ones(shape()));
}

void Tensor::backward(const Tensor& upstream) const {
  require_grad_for_backward(*this);
  if (!upstream.defined() || upstream.shape() != shape()) {
    fail_expected("backward", "an upstream gradient of shape " + nn::to_string(shape()), shape_text(upstream));
  }
  run_backward(*this, upstream);
}

}  // namespace nn
