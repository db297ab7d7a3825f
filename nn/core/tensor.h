/// @file
/// Tensor: row-major and contiguous, float32 unless made otherwise (nn/core/dtype.h), with shared storage (copies of
/// a Tensor are handles to the same data, as in PyTorch). A tensor may view part of another's storage from an offset
/// (slice along the outermost axis, reshape, detach): views need no copy. Layout conventions: NHWC for images,
/// (N, T, E) for sequences.
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

#include "nn/core/dtype.h"
#include "nn/core/random.h"
#include "nn/core/shape.h"

/// libnn: tensors, autograd, ops, layers, optimisers, training, checkpoints, image input and Xception.
namespace nn {

struct Node;
class Tensor;

/// Owns one block of elements from the device's allocator (nn/core/allocator.h).
struct Storage {
  /// At least `count` elements of `dtype` on `device`, uninitialised. nn::Error for a dtype no backend computes in.
  explicit Storage(size_t count, DType dtype = DType::f32, Device device = Device::cpu);
  ~Storage();  ///< gives the block back to the allocator's cache
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;         ///< 64-byte aligned
  size_t count = 0;             ///< elements asked for
  size_t bytes = 0;             ///< the allocator block's real size
  DType dtype = DType::f32;     ///< what each element is
  Device device = Device::cpu;  ///< where the block lives
};

/// What a Tensor handle points to: the storage, the shape and the autograd links. Ops and the autograd engine use
/// it; programs use Tensor.
struct TensorImpl {
  std::shared_ptr<Storage> storage;  ///< shared by views (reshape, detach, slice)
  Shape shape;                       ///< its extents, outermost first
  int64_t offset = 0;                ///< where its first element is in the storage, in elements
  int64_t numel = 0;                 ///< the product of the extents (kept: loops test i < numel())
  bool requires_grad = false;        ///< a leaf whose gradient is wanted, or the result of an op on one
  std::shared_ptr<TensorImpl> grad;  ///< accumulated gradient of a leaf; null until a backward reaches it
  std::shared_ptr<Node> grad_fn;     ///< the op that produced this tensor; null for leaves
  int output_index = 0;              ///< which of grad_fn's outputs this tensor is
};

/// A handle to an n-dimensional float32 array: copying a Tensor copies the handle, not the data (clone() copies the
/// data). Ops on tensors that require grad record how to compute their gradient (nn/autograd/autograd.h).
class Tensor {
 public:
  Tensor() = default;  ///< an undefined tensor (defined() is false)

  // ---- creation ----
  /// Uninitialised, of `dtype` on `device`.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
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
  /// The element type (f32 unless made otherwise).
  DType dtype() const;
  /// Where the storage lives.
  Device device() const;
  /// The elements as T (float for f32, nn::bfloat16 for bf16), row-major and contiguous from this tensor's first
  /// element; writes through it change every handle to this storage. nn::Error when T is not the tensor's dtype or
  /// the tensor is not in host memory.
  template <class T>
  T* data();
  /// The same, read-only.
  template <class T>
  const T* data() const;
  /// data<float>(): the float32 elements (nn::Error for a tensor of another dtype).
  float* data() { return data<float>(); }
  /// data<float>(), read-only.
  const float* data() const { return data<float>(); }
  /// The untyped address of the first element, for backends (which check dtype() themselves).
  void* raw_data();
  /// The same, read-only.
  const void* raw_data() const;
  /// A copy of the elements, row-major.
  std::vector<float> to_vector() const;
  float item() const;                                    ///< the value of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;  ///< bounds-checked element read

  /// A view with another shape over the same storage (differentiable); one extent may be -1.
  Tensor reshape(const Shape& shape) const;
  /// A new tensor with a copy of the data, recorded for autograd like any op.
  Tensor clone() const;
  /// The values converted to `dtype` (rounded to nearest even into bf16); the same tensor when it already is.
  /// Differentiable: the gradient is converted back to this tensor's dtype.
  Tensor to(DType dtype) const;
  /// Copies `source`'s values into this tensor's storage in place (no autograd); shapes must match and dtypes too.
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
  [[noreturn]] void fail_element_type(DType wanted) const;
  std::shared_ptr<TensorImpl> impl_;
};

template <class T>
T* Tensor::data() {
  const TensorImpl& impl = checked();
  if (impl.storage->dtype != dtype_of<T>() || impl.storage->device != Device::cpu) fail_element_type(dtype_of<T>());
  return static_cast<T*>(impl.storage->data) + impl.offset;
}

template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

namespace detail {
/// A handle (no autograd record) to `shape` elements of `base`'s storage starting `offset` elements after base's
/// first: the no-copy slice. nn::Error when the range leaves base.
Tensor view(const Tensor& base, const Shape& shape, int64_t offset);
}  // namespace detail

/// Writes t.to_string().
std::ostream& operator<<(std::ostream& os, const Tensor& t);
/// "[2,3]", t's shape as error messages give it (to_string(Shape)), or "an undefined tensor".
std::string shape_text(const Tensor& t);

/// Integer ids for Embedding lookups and cross-entropy targets: a shape and int32 values, row-major.
struct Indices {
  Indices() = default;
  /// Throws nn::Error when the count of `values` does not match the shape.
  Indices(Shape shape, std::vector<int32_t> values);
  Shape shape;                  ///< e.g. (N, T) for a batch of id sequences
  std::vector<int32_t> values;  ///< row-major
};

}  // namespace nn
