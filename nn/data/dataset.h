/// @file
/// Datasets: what a DataLoader (nn/data/dataloader.h) draws examples from. A dataset is anything with a size and a
/// way to get its i-th example; TensorDataset is the common case of examples cut from tensors along their first
/// axis (N), as torch.utils.data.TensorDataset.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nn/core/error.h"
#include "nn/core/tensor.h"

namespace nn {

/// The interface every dataset implements: `size()` examples, the i-th by `get(i)`, 0 ≤ i < size().
/// `get` is called from the DataLoader's background thread (one thread at a time, never concurrently with itself),
/// so it must not touch state the training thread changes while an epoch runs.
template <class Example>
class Dataset {
 public:
  using ExampleType = Example;  ///< what get() returns
  virtual ~Dataset() = default;
  /// The number of examples.
  virtual size_t size() const = 0;
  /// The example at `index`; implementations throw nn::Error for index ≥ size().
  virtual Example get(size_t index) const = 0;
};

/// The elements of a vector as examples (a list of captions, of image paths): a view, holding a reference to the
/// vector, which must outlive the dataset and not change while an epoch runs. get() returns a copy.
template <class Example>
class VectorDataset : public Dataset<Example> {
 public:
  explicit VectorDataset(const std::vector<Example>& examples) : examples_(examples) {}
  /// Refused: the dataset would keep a reference to a vector about to be destroyed.
  explicit VectorDataset(std::vector<Example>&&) = delete;
  size_t size() const override { return examples_.size(); }
  Example get(size_t index) const override {
    if (index >= examples_.size())
      fail_expected("VectorDataset::get", "an index below " + std::to_string(examples_.size()), std::to_string(index));
    return examples_[index];
  }

 private:
  const std::vector<Example>& examples_;
};

/// One example of a TensorDataset: one slice per tensor, e.g. {input (…), target (…)}.
using TensorExample = std::vector<Tensor>;

/// Examples cut from tensors that share their first extent N: example i is {t[i] for each tensor t}, each slice
/// without the leading axis (an input [N, 8, 8, 1] gives examples [8, 8, 1]). The dataset holds handles to the
/// given tensors, not copies: a DataLoader's background thread reads their storage while an epoch runs, so writing
/// to them in place meanwhile (copy_from, data(), an optimiser step on a tensor that is also a parameter) is a data
/// race. The slices it returns are copies, free to change.
class TensorDataset : public Dataset<TensorExample> {
 public:
  /// Throws nn::Error when `tensors` is empty, a tensor has rank 0, or their first extents differ (naming them).
  explicit TensorDataset(std::vector<Tensor> tensors);
  size_t size() const override;
  /// Throws nn::Error naming the index and the size when index ≥ size().
  TensorExample get(size_t index) const override;

 private:
  std::vector<Tensor> tensors_;
};

/// The default collate: stacks the k-th tensor of every example along a new first axis, giving one batch tensor
/// per field ({[8,8,1], …} × B → {[B,8,8,1], …}). Throws nn::Error when the examples' field counts or shapes differ.
std::vector<Tensor> stack_examples(const std::vector<TensorExample>& examples);

}  // namespace nn
