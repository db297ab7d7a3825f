#include "nn/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "nn/core/allocator.h"
#include "nn/core/autograd.h"
#include "nn/core/error.h"
#include "nn/core/threads.h"

namespace nn {

Storage::Storage(size_t n) : count(n) {
  detail::apply_thread_count();
  Block block = allocate_floats(n);
  data = block.data;
  bytes = block.bytes;
}
Storage::~Storage() {
  release_floats({data, bytes});
}

// ---- creation ----

Tensor Tensor::empty(const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(nn::numel(shape)));
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape) {
  return full(shape, 0.0f);
}
Tensor Tensor::ones(const Shape& shape) {
  return full(shape, 1.0f);
}
Tensor Tensor::scalar(float value) {
  return full({}, value);
}

Tensor Tensor::from_data(const Shape& shape, std::span<const float> values) {
  int64_t n = nn::numel(shape);
  if (static_cast<int64_t>(values.size()) != n) {
    fail_expected("Tensor::from_data", std::to_string(n) + " values for shape " + nn::to_string(shape),
                  std::to_string(values.size()));
  }
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::from_data(const Shape& shape, std::initializer_list<float> values) {
  return from_data(shape, std::span<const float>(values.begin(), values.size()));
}

Tensor Tensor::uniform(const Shape& shape, float low, float high, Generator& gen) {
  Tensor t = empty(shape);
  float* p = t.data();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = gen.uniform(low, high);
  return t;
}

Tensor Tensor::normal(const Shape& shape, float mean, float stddev, Generator& gen) {
  Tensor t = empty(shape);
  float* p = t.data();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = mean + stddev * gen.normal();
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen) {
  return normal(shape, 0.0f, 1.0f, gen);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen) {
  return uniform(shape, 0.0f, 1.0f, gen);
}

Tensor Tensor::arange(float start, float end, float step) {
  double count = std::ceil((static_cast<double>(end) - start) / step);
  if (step == 0.0f || !std::isfinite(count) || count < 0) {
    fail_expected("Tensor::arange", "a non-zero step whose sign leads from start to end",
                  "start " + std::to_string(start) + ", end " + std::to_string(end) + ", step " + std::to_string(step));
  }
  Tensor t = empty({static_cast<int64_t>(count)});
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(start + static_cast<double>(i) * step);
  return t;
}

Tensor Tensor::eye(int64_t rows, int64_t columns) {
  if (columns < 0) columns = rows;
  Tensor t = zeros({rows, columns});
  for (int64_t i = 0; i < std::min(rows, columns); ++i) t.data()[i * columns + i] = 1.0f;
  return t;
}

// ---- shape and data ----

const TensorImpl& Tensor::checked() const {
  if (!impl_) throw Error("Tensor: used an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const {
  return checked().shape;
}

int64_t Tensor::dim(int axis) const {
  return shape()[normalize_axis(axis, rank(), "Tensor::dim")];
}

// Every tensor views its whole storage (reshape keeps the element count), so the count is the storage's: O(1),
// which matters in the many loops that test i < numel().
int64_t Tensor::numel() const {
  return static_cast<int64_t>(checked().storage->count);
}

float* Tensor::data() {
  return checked().storage->data;
}
const float* Tensor::data() const {
  return checked().storage->data;
}

std::vector<float> Tensor::to_vector() const {
  return std::vector<float>(data(), data() + numel());
}

float Tensor::item() const {
  if (numel() != 1) fail_expected("Tensor::item", "a one-element tensor", "shape " + nn::to_string(shape()));
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  const Shape& s = shape();
  if (index.size() != s.size()) {
    fail_expected("Tensor::at", std::to_string(s.size()) + " indices for shape " + nn::to_string(s),
                  std::to_string(index.size()));
  }
  int64_t offset = 0;
  size_t axis = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= s[axis]) {
      fail_expected("Tensor::at", "index " + std::to_string(axis) + " in [0," + std::to_string(s[axis]) + ")",
                    std::to_string(i));
    }
    offset = offset * s[axis] + i;
    ++axis;
  }
  return data()[offset];
}

Tensor Tensor::reshape(const Shape& requested) const {
  const Shape& from = shape();
  Shape to = requested;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else {
      if (to[i] < 0) fail_expected("reshape", "extents ≥ 0 and at most one -1", nn::to_string(requested));
      known *= to[i];
    }
  }
  if (inferred >= 0 && known != 0) to[inferred] = numel() / known;
  if (nn::numel(to) != numel()) {
    fail_expected("reshape", "a shape of " + std::to_string(numel()) + " elements (from " + nn::to_string(from) + ")",
                  nn::to_string(requested));
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->shape = to;
  Tensor out(std::move(impl));
  record("reshape", {*this}, out, [from](const Tensor& g) { return std::vector<Tensor>{g.reshape(from)}; });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape());
  if (numel() > 0) std::memcpy(out.data(), data(), sizeof(float) * numel());
  record("clone", {*this}, out, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

void Tensor::copy_from(const Tensor& source) {
  if (source.shape() != shape()) {
    fail_expected("Tensor::copy_from", "shape " + nn::to_string(shape()), nn::to_string(source.shape()));
  }
  if (numel() > 0 && source.data() != data()) std::memcpy(data(), source.data(), sizeof(float) * numel());
}

void Tensor::fill(float value) {
  std::fill_n(data(), numel(), value);
}

// ---- autograd ----

bool Tensor::requires_grad() const {
  return checked().requires_grad;
}

Tensor& Tensor::set_requires_grad(bool on) {
  if (checked().grad_fn) {
    throw Error("set_requires_grad: only leaf tensors can be marked; this one was produced by '" +
                std::string(impl_->grad_fn->op) + "' (use detach() first)");
  }
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const {
  return checked().grad_fn == nullptr;
}

Tensor Tensor::grad() const {
  return Tensor(checked().grad);
}

void Tensor::zero_grad() {
  impl_->grad.reset();
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->shape = impl_->shape;
  return Tensor(std::move(impl));
}

// ---- printing ----

namespace {

// Prints nested brackets; long axes show their first and last three entries around "...".
void print_axis(std::string& out, const float* data, const Shape& shape, size_t axis, int64_t offset) {
  int64_t extent = shape[axis];
  int64_t inner = 1;
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  out += "[";
  bool summarise = extent > 8;
  for (int64_t i = 0; i < extent; ++i) {
    if (summarise && i == 3) {
      out += axis + 1 == shape.size() ? "..., " : "...,\n" + std::string(axis + 1, ' ');
      i = extent - 4;
      continue;
    }
    if (axis + 1 == shape.size()) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.6g", static_cast<double>(data[offset + i]));
      out += buffer;
    } else {
      print_axis(out, data, shape, axis + 1, offset + i * inner);
    }
    if (i + 1 < extent) out += axis + 1 == shape.size() ? ", " : ",\n" + std::string(axis + 1, ' ');
  }
  out += "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::string out = "Tensor" + nn::to_string(shape());
  if (requires_grad()) out += " requires_grad";
  out += "\n";
  if (shape().empty()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", static_cast<double>(data()[0]));
    return out + buffer;
  }
  if (numel() == 0) return out + "[]";
  print_axis(out, data(), shape(), 0, 0);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  return os << t.to_string();
}

Indices::Indices(Shape s, std::vector<int32_t> v) : shape(std::move(s)), values(std::move(v)) {
  if (nn::numel(shape) != static_cast<int64_t>(values.size())) {
    fail_expected("Indices", std::to_string(nn::numel(shape)) + " values for shape " + nn::to_string(shape),
                  std::to_string(values.size()));
  }
}

}  // namespace nn
