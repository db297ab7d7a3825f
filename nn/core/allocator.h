/// @file
/// Tensor storage comes from a caching allocator (DESIGN.md item 8): fresh pages cost about 0.6 ms per MB on the
/// target machines, so freed blocks are kept on free lists keyed by their rounded size and handed out again.
/// The cache is bounded (NN_ALLOCATOR_CACHE_MB, default 2048) and can be released on demand.
#pragma once

#include <cstddef>

#include "nn/core/dtype.h"

namespace nn {

/// What the allocator holds now and how often its cache served a request, for benchmarks and leak tests.
struct AllocatorStats {
  size_t live_bytes = 0;    ///< handed out and not yet released
  size_t cached_bytes = 0;  ///< held on the free lists
  size_t hits = 0;          ///< allocations served from the cache
  size_t misses = 0;        ///< allocations that needed fresh memory
};

/// Memory handed out by allocate, returned with release.
struct Block {
  void* data = nullptr;  ///< 64-byte aligned; nullptr for an empty block
  size_t bytes = 0;      ///< the block's real size, at least the bytes asked for
};

/// 64-byte aligned, uninitialised memory of at least `bytes` on `device`; {nullptr, 0} for 0 bytes. Each device has
/// its own cache; a cached block up to twice the size asked for may be handed out (best fit), so that activations
/// of similar sizes share blocks. Thread-safe. std::bad_alloc when the device has no memory left; nn::Error for a
/// device without an allocator.
Block allocate(Device device, size_t bytes);
/// Returns a block obtained from allocate(device, …) to that device's cache.
void release(Device device, Block block);

/// Frees every cached block (the CPU's cache; the statistics and limits below are the CPU's too).
void empty_allocator_cache();
/// The counters now (thread-safe).
AllocatorStats allocator_stats();
/// Largest total of cached bytes; blocks released beyond it are freed at once.
void set_allocator_cache_limit(size_t bytes);
/// The limit in force (NN_ALLOCATOR_CACHE_MB's, or the last set_allocator_cache_limit()), e.g. to restore it.
size_t allocator_cache_limit();

}  // namespace nn
