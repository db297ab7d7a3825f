/// @file
/// Tensor storage comes from a caching allocator (DESIGN.md item 8): fresh pages cost about 0.6 ms per MB on the
/// target machines, so freed blocks are kept on free lists keyed by their rounded size and handed out again.
/// The cache is bounded (NN_ALLOCATOR_CACHE_MB, default 4096) and can be released on demand.
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
  size_t planned = 0;       ///< allocations served from a MemoryPlan's arena (neither hits nor misses)
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

/// A static memory plan for a computation repeated on inputs of one shape — inference image after image. The first
/// run under a MemoryPlanScope records the calling thread's requests in order, with when each block is released;
/// at the end of that run the requests released inside it (not the outputs, which outlive it) get offsets in one
/// arena, two requests sharing bytes only when their lifetimes do not overlap (greedy by size), and the arena is
/// allocated and touched then. Later runs are served from the arena request by request: no allocation, no page
/// fault. A run that asks differently (another shape, or a request whose bytes a longer-lived block still holds) is
/// served by the cache from its first difference on, and the plan stays for the next run. A plan serves the thread
/// that holds its scope, one thread at a time (a second thread's scope is refused), and covers that thread's
/// requests only. A block of the arena that outlives a run (the caller kept an intermediate) is never
/// overwritten: the arena is then left to its last blocks and the next run gets a new one.
///
///     nn::MemoryPlan plan;
///     for (const Tensor& image : images) {
///       nn::MemoryPlanScope scope(plan);
///       features.push_back(model(image));
///     }
class MemoryPlan {
 public:
  MemoryPlan();
  ~MemoryPlan();
  MemoryPlan(const MemoryPlan&) = delete;
  MemoryPlan& operator=(const MemoryPlan&) = delete;
  bool recorded() const;       ///< a run has been recorded
  size_t arena_bytes() const;  ///< the arena's size (0 before a recorded run)
  size_t requests() const;     ///< requests of the recorded run served from the arena

  struct State;  ///< its record, plan and arena (allocator.cpp)

 private:
  friend class MemoryPlanScope;
  State* state_;
};

/// Records (first run) or replays `plan` for the calling thread's allocations while it lives; scopes do not nest.
class MemoryPlanScope {
 public:
  explicit MemoryPlanScope(MemoryPlan& plan);
  ~MemoryPlanScope();
  MemoryPlanScope(const MemoryPlanScope&) = delete;
  MemoryPlanScope& operator=(const MemoryPlanScope&) = delete;

 private:
  MemoryPlan& plan_;
};

}  // namespace nn
