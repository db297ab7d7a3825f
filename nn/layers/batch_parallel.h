/// @file
/// Batch-level parallelism for inference: a batch cut into slices, each run through the whole network on its own
/// thread with its share of the kernel threads — no barrier per layer across the slices, which the small layers of a
/// network pay for when each layer is parallelised within (Xception::forward uses it for batches in eval mode).
#pragma once

#include <functional>

#include "nn/core/tensor.h"

namespace nn {

/// x's first axis cut into `parts` slices of nearly equal size (at most one per example), f run on each at the same
/// time — the calling thread takes the first, one new thread each of the others — each with an equal share of the
/// caller's kernel threads (at least one), and the results joined along the first axis: f(x) for an f that treats
/// examples independently, as inference does. The caller's backend (BackendScope) and recording mode carry over to the
/// threads; an exception from any slice is rethrown here after all have finished. parts ≤ 1, or a batch of one: f(x) on
/// the calling thread.
Tensor run_batch_parallel(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, int parts);

}  // namespace nn
