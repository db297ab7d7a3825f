// Tensor: float32, row-major, contiguous, with shared storage (copies of a Tensor are handles to the same data,
// as in PyTorch). Layout conventions: NHWC for images, (N, T, E) for sequences.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/random.h"
#include "nn/shape.h"

namespace nn {

struct Node;
class Tensor;

// Owns one block of floats from the caching allocator.
struct Storage {
  explicit Storage(size_t count);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data = nullptr;
  size_t count = 0;
  size_t bytes = 0;  // the allocator block's real size
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf; null until a backward reaches it
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor; null for leaves
  int output_index = 0;              // which of grad_fn's outputs this tensor is
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() is false)

  // ---- creation ----
  static Tensor empty(const Shape& shape);  // uninitialised
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);
  // Copies `values`; their count must equal the shape's element count.
  static Tensor from_data(const Shape& shape, std::span<const float> values);
  static Tensor from_data(const Shape& shape, std::initializer_list<float> values);
  static Tensor uniform(const Shape& shape, float low, float high, Generator& gen);
  static Tensor normal(const Shape& shape, float mean, float stddev, Generator& gen);
  // PyTorch's names: standard normal and uniform in [0, 1), drawn from `gen` (seeded; default_generator() unless
  // given).
  static Tensor randn(const Shape& shape, Generator& gen = default_generator());
  static Tensor rand(const Shape& shape, Generator& gen = default_generator());
  // start, start + step, … below `end` (above it for a negative step), as torch.arange: ⌈(end − start)/step⌉ values.
  static Tensor arange(float start, float end, float step = 1.0f);
  static Tensor arange(float end) { return arange(0.0f, end); }
  // (rows, columns) with ones on the diagonal; columns < 0 means rows.
  static Tensor eye(int64_t rows, int64_t columns = -1);

  // ---- shape and data ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int rank() const { return static_cast<int>(shape().size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t numel() const;
  float* data();
  const float* data() const;
  std::vector<float> to_vector() const;
  float item() const;                                    // the value of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;  // bounds-checked element read

  // A view with another shape over the same storage (differentiable); one extent may be -1.
  Tensor reshape(const Shape& shape) const;
  // A new tensor with a copy of the data, recorded for autograd like any op.
  Tensor clone() const;
  // Copies `source`'s values into this tensor's storage in place (no autograd); shapes must match.
  void copy_from(const Tensor& source);
  void fill(float value);

  // ---- autograd ----
  bool requires_grad() const;
  // Marks a leaf as a parameter whose gradient is wanted; throws for a tensor produced by an op.
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void zero_grad();     // drops the accumulated gradient
  // The same data with no history and no grad requirement.
  Tensor detach() const;
  // Back-propagates from this tensor: a one-element tensor seeds with 1, any other needs `upstream` of its shape.
  void backward() const;
  void backward(const Tensor& upstream) const;

  std::string to_string() const;
  std::shared_ptr<TensorImpl> impl() const { return impl_; }
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Integer ids for Embedding lookups and cross-entropy targets: a shape and int32 values, row-major.
struct Indices {
  Indices() = default;
  Indices(Shape shape, std::vector<int32_t> values);  // throws when the count does not match the shape
  Shape shape;
  std::vector<int32_t> values;
};

}  // namespace nn
