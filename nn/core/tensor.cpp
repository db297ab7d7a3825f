#include "nn/core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>

#include "nn/core/allocator.h"
#include "nn/core/error.h"
#include "nn/core/threads.h"

namespace nn {

Storage::Storage(size_t n, DType type, Device where) : count(n), dtype(type), device(where) {
  if (!dtype_is_computed(type)) {
    throw Error(std::string("Tensor: dtype ") + dtype_name(type) + " is reserved; no backend computes in it yet");
  }
  detail::apply_thread_count();
  Block block = allocate(device, n * dtype_size(type));
  data = block.data;
  bytes = block.bytes;
}
Storage::~Storage() {
  release(device, {data, bytes});
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::bf16:
      return "bf16";
    case DType::f16:
      return "f16";
    case DType::i8:
      return "i8";
  }
  return "unknown";
}

const char* device_name(Device d) {
  switch (d) {
    case Device::cpu:
      return "cpu";
  }
  return "unknown";
}

DType parse_dtype(const std::string& name, const std::string& who) {
  if (name == "f32" || name == "float32" || name == "fp32") return DType::f32;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  fail_expected(who, "f32 or bf16", "'" + name + "'");
}

namespace {

// A handle to `storage` seen from `offset` with `shape` (the one place a TensorImpl is filled in).
Tensor view_of(std::shared_ptr<Storage> storage, const Shape& shape, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->offset = offset;
  impl->numel = nn::numel(shape);
  return Tensor(std::move(impl));
}

}  // namespace

// ---- creation ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return view_of(std::make_shared<Storage>(static_cast<size_t>(nn::numel(shape)), dtype, device), shape, 0);
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

// Kept in the impl, not recomputed: O(1) matters in the many loops that test i < numel().
int64_t Tensor::numel() const {
  return checked().numel;
}

DType Tensor::dtype() const {
  return checked().storage->dtype;
}

Device Tensor::device() const {
  return checked().storage->device;
}

void* Tensor::raw_data() {
  const TensorImpl& impl = checked();
  return static_cast<char*>(impl.storage->data) + impl.offset * static_cast<int64_t>(dtype_size(impl.storage->dtype));
}

const void* Tensor::raw_data() const {
  return const_cast<Tensor*>(this)->raw_data();
}

void Tensor::fail_element_type(DType wanted) const {
  const Storage& s = *checked().storage;
  if (s.device != Device::cpu) {
    throw Error(std::string("Tensor::data: the tensor is on ") + device_name(s.device) + ", not in host memory");
  }
  throw Error(std::string("Tensor::data: the tensor's elements are ") + dtype_name(s.dtype) + ", not " +
              dtype_name(wanted) + " (convert with .to(nn::" + dtype_name(wanted) + "))");
}

std::vector<float> Tensor::to_vector() const {
  if (dtype() != DType::f32) return detach().to(DType::f32).to_vector();
  return std::vector<float>(data(), data() + numel());
}

float Tensor::item() const {
  if (numel() != 1) fail_expected("Tensor::item", "a one-element tensor", "shape " + nn::to_string(shape()));
  if (dtype() != DType::f32) return detach().to(DType::f32).item();
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  if (dtype() != DType::f32) return detach().to(DType::f32).at(index);
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

// ---- autograd ----

bool Tensor::requires_grad() const {
  return checked().requires_grad;
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
  return view_of(checked().storage, impl_->shape, impl_->offset);
}

Tensor detail::view(const Tensor& base, const Shape& shape, int64_t offset) {
  const TensorImpl& impl = *base.impl();
  if (offset < 0 || offset + nn::numel(shape) > base.numel()) {
    fail_expected("view", "a range inside the base tensor's " + std::to_string(base.numel()) + " elements",
                  "offset " + std::to_string(offset) + " and shape " + nn::to_string(shape));
  }
  return view_of(impl.storage, shape, impl.offset + offset);
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

std::string shape_text(const Tensor& t) {
  return t.defined() ? to_string(t.shape()) : std::string("an undefined tensor");
}

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  if (dtype() != DType::f32) {
    std::string shown = detach().to(DType::f32).to_string();
    return shown.insert(shown.find('\n'), std::string(" ") + dtype_name(dtype()));
  }
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
