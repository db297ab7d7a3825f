/// @file
/// Batch-level parallelism for inference: a batch cut into chunks, each run through the whole network by one of a
/// few workers with its share of the kernel threads — no barrier per layer across the workers, which the small layers
/// of a network pay for when each layer is parallelised within (Xception::forward uses it for batches in eval mode).
#pragma once

#include <functional>

#include "nn/core/tensor.h"

namespace nn {

/// x's first axis cut into chunks of ⌊N / (2·parts)⌋ examples (at least one; the last one the rest), run by `parts`
/// workers at the same time (at most one per example) — the calling thread and one new thread each of the others —,
/// each taking the next chunk in order when it is free, each with an equal share of the caller's kernel threads (at
/// least one); the results joined along the first axis in order: f(x) for an f that treats examples independently, as
/// inference does. Taken as they come rather than one fixed slice each, so that a worker whose core is also busy
/// elsewhere (a decoding thread beside it) does fewer instead of the others waiting for it. The caller's backend
/// (BackendScope) and recording mode carry over to the threads; an exception is rethrown here after all have
/// finished — the first in chunk order — and the workers take no new chunk after one. parts ≤ 1, or a batch of one:
/// f(x) on the calling thread.
Tensor run_batch_parallel(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, int parts);

}  // namespace nn
