/// @file
/// Tensor: float32, row-major, contiguous, with shared storage (copies of a Tensor are handles to the same data,
/// as in PyTorch). Layout conventions: NHWC for images, (N, T, E) for sequences.
///
/// Every misuse (a wrong count of values, an out-of-range index, an undefined tensor) throws nn::Error naming the
/// call and the shapes.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/core/random.h"
#include "nn/core/shape.h"

/// libnn: tensors, autograd, ops, layers, optimisers, training, checkpoints, image input and Xception.
namespace nn {

struct Node;
class Tensor;

/// Owns one block of floats from the caching allocator.
struct Storage {
  explicit Storage(size_t count);  ///< at least `count` floats, uninitialised
  ~Storage();                      ///< gives the block back to the allocator's cache
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data = nullptr;  ///< 64-byte aligned
  size_t count = 0;       ///< floats asked for
  size_t bytes = 0;       ///< the allocator block's real size
};

/// What a Tensor handle points to: the storage, the shape and the autograd links. Ops and the autograd engine use
/// it; programs use Tensor.
struct TensorImpl {
  std::shared_ptr<Storage> storage;  ///< shared by views (reshape, detach)
  Shape shape;                       ///< its extents, outermost first
  bool requires_grad = false;        ///< a leaf whose gradient is wanted, or the result of an op on one
  std::shared_ptr<TensorImpl> grad;  ///< accumulated gradient of a leaf; null until a backward reaches it
  std::shared_ptr<Node> grad_fn;     ///< the op that produced this tensor; null for leaves
  int output_index = 0;              ///< which of grad_fn's outputs this tensor is
};

/// A handle to an n-dimensional float32 array: copying a Tensor copies the handle, not the data (clone() copies the
/// data). Ops on tensors that require grad record how to compute their gradient (nn/core/autograd.h).
class Tensor {
 public:
  Tensor() = default;  ///< an undefined tensor (defined() is false)

  // ---- creation ----
  static Tensor empty(const Shape& shape);  ///< uninitialised
  /// All zeros. Throws nn::Error for a negative extent or an element count that overflows.
  static Tensor zeros(const Shape& shape);
  /// All ones.
  static Tensor ones(const Shape& shape);
  /// Every element `value`.
  static Tensor full(const Shape& shape, float value);
  /// A tensor of rank 0 (shape []) holding `value`.
  static Tensor scalar(float value);
  /// Copies `values`, row-major; their count must equal the shape's element count (nn::Error otherwise).
  static Tensor from_data(const Shape& shape, std::span<const float> values);
  /// The same from a braced list: `Tensor::from_data({2, 2}, {1, 2, 3, 4})`.
  static Tensor from_data(const Shape& shape, std::initializer_list<float> values);
  /// Uniform in [low, high), drawn from `gen`.
  static Tensor uniform(const Shape& shape, float low, float high, Generator& gen);
  /// Normal with `mean` and `stddev`, drawn from `gen`.
  static Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen);
  /// PyTorch's name: standard normal, drawn from `gen` (seeded; default_generator() unless given).
  static Tensor randn(const Shape& shape, Generator& gen = default_generator());
  /// PyTorch's name: uniform in [0, 1), drawn from `gen` (seeded; default_generator() unless given).
  static Tensor rand(const Shape& shape, Generator& gen = default_generator());
  /// start, start + step, … below `end` (above it for a negative step), as torch.arange: ⌈(end − start)/step⌉ values.
  /// A zero or wrong-signed step is an nn::Error.
  static Tensor arange(float start, float end, float step = 1.0f);
  /// 0, 1, … below `end`.
  static Tensor arange(float end) { return arange(0.0f, end); }
  /// (rows, columns) with ones on the diagonal; columns < 0 means rows.
  static Tensor eye(int64_t rows, int64_t columns = -1);

  // ---- shape and data ----
  /// False for a default-constructed Tensor; every other member but to_string() throws nn::Error on one.
  bool defined() const { return impl_ != nullptr; }
  /// The extents, outermost first.
  const Shape& shape() const;
  /// The number of axes (0 for a scalar).
  int rank() const { return static_cast<int>(shape().size()); }
  int64_t dim(int axis) const;  ///< negative axes count from the end
  /// The number of elements.
  int64_t numel() const;
  /// The elements, row-major and contiguous; writes through it change every handle to this storage.
  float* data();
  /// The elements, read-only.
  const float* data() const;
  /// A copy of the elements, row-major.
  std::vector<float> to_vector() const;
  float item() const;                                    ///< the value of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;  ///< bounds-checked element read

  /// A view with another shape over the same storage (differentiable); one extent may be -1.
  Tensor reshape(const Shape& shape) const;
  /// A new tensor with a copy of the data, recorded for autograd like any op.
  Tensor clone() const;
  /// Copies `source`'s values into this tensor's storage in place (no autograd); shapes must match.
  void copy_from(const Tensor& source);
  /// Sets every element to `value` in place (no autograd).
  void fill(float value);

  // ---- autograd ----
  /// Whether gradients are computed for this tensor (a parameter, or a result of an op on one).
  bool requires_grad() const;
  /// Marks a leaf as a parameter whose gradient is wanted; throws for a tensor produced by an op.
  Tensor& set_requires_grad(bool on = true);
  /// True for a tensor no op produced (created, loaded, or detached).
  bool is_leaf() const;
  Tensor grad() const;  ///< undefined until a backward pass reaches this leaf
  void zero_grad();     ///< drops the accumulated gradient
  /// The same data with no history and no grad requirement.
  Tensor detach() const;
  /// Back-propagates from this tensor: a one-element tensor seeds with 1, any other needs `upstream` of its shape.
  /// Gradients accumulate into the leaves' grad(); the graph is kept, so a second call adds the same gradients
  /// again. Throws nn::Error when this tensor does not require grad.
  void backward() const;
  /// Back-propagates `upstream`, the gradient of some scalar with respect to this tensor (of its shape).
  void backward(const Tensor& upstream) const;

  /// "Tensor[2,3]" and the values in nested brackets (long axes shortened to their first and last three entries);
  /// "Tensor(undefined)" for an undefined tensor.
  std::string to_string() const;
  /// The shared state behind the handle, for ops and the autograd engine.
  std::shared_ptr<TensorImpl> impl() const { return impl_; }
  /// A handle to existing state (ops build their outputs this way).
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

/// Writes t.to_string().
std::ostream& operator<<(std::ostream& os, const Tensor& t);

/// Integer ids for Embedding lookups and cross-entropy targets: a shape and int32 values, row-major.
struct Indices {
  Indices() = default;
  /// Throws nn::Error when the count of `values` does not match the shape.
  Indices(Shape shape, std::vector<int32_t> values);
  Shape shape;                  ///< e.g. (N, T) for a batch of id sequences
  std::vector<int32_t> values;  ///< row-major
};

}  // namespace nn
