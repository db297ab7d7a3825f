#include "nn/core/allocator.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "nn/core/error.h"

namespace nn {
namespace {

constexpr size_t kAlignment = 64;

// Small blocks round to 64 bytes, large ones to 4 KiB pages, so that a tensor of nearly the same size reuses them.
size_t rounded_bytes(size_t bytes) {
  size_t granule = bytes < (1u << 16) ? kAlignment : 4096;
  return (bytes + granule - 1) / granule * granule;
}

// 4 GB unless NN_ALLOCATOR_CACHE_MB says otherwise: a training step of full-width Xception at batch 8 frees about
// 2.7 GB of activations; with 2 GB cached the rest came back as fresh pages every step (clearing them was 7.5 % of
// a perf profile; the step 5.4–6.5 s against 4.8–5.0 s with 4 GB, on the 2-core Zen 3 of 2026-11-30).
size_t limit_from_environment() {
  constexpr size_t kDefault = size_t{4096} << 20;
  const char* text = std::getenv("NN_ALLOCATOR_CACHE_MB");
  if (text == nullptr) return kDefault;
  char* end = nullptr;
  unsigned long long mb = std::strtoull(text, &end, 10);
  return (end == text) ? kDefault : static_cast<size_t>(mb) << 20;
}

// How a device's memory is obtained and returned underneath its cache: 64-byte aligned host memory for the CPU. A
// device added later (docs/backends.md) adds its pair here.
struct DeviceMemory {
  void* (*obtain)(size_t bytes);
  void (*give_back)(void* p);
};

void* host_obtain(size_t bytes) {
  return std::aligned_alloc(kAlignment, bytes);
}
void host_give_back(void* p) {
  std::free(p);
}

DeviceMemory memory_of(Device device) {
  switch (device) {
    case Device::cpu:
      return {host_obtain, host_give_back};
  }
  throw Error(std::string("allocator: no memory for device ") + device_name(device));
}

// One cache per device: free lists keyed by the block's rounded size.
struct Cache {
  DeviceMemory memory;
  std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_lists;
  AllocatorStats stats;
  size_t limit = limit_from_environment();

  void free_all_locked() {
    for (auto& [bytes, blocks] : free_lists) {
      for (void* p : blocks) memory.give_back(p);
    }
    free_lists.clear();
    stats.cached_bytes = 0;
  }
  ~Cache() { free_all_locked(); }
};

constexpr size_t kDevices = 1;  // Device::cpu

Cache& cache(Device device = Device::cpu) {
  static Cache instances[kDevices] = {{memory_of(Device::cpu)}};
  const auto index = static_cast<size_t>(device);
  if (index >= kDevices) throw Error(std::string("allocator: no cache for device ") + device_name(device));
  return instances[index];
}

// ---- memory plans (MemoryPlan) ----

// A plan's arena: one block of host memory whose byte ranges the plan hands out. The blocks handed out and not yet
// released are kept so that a replay never hands out bytes still in use; once its plan has left it (a block
// outlived a run, or the plan was destroyed) it is freed with its last block.
struct Arena {
  char* base = nullptr;
  size_t bytes = 0;
  struct Used {
    size_t offset, bytes, request;
  };
  std::vector<Used> live;  // the blocks handed out and not yet released, with the request each served
  bool abandoned = false;
};

std::mutex g_arenas_mutex;  // guards every Arena and the list
// Every arena still allocated; never destroyed, so that a block released during static destruction still finds it.
std::vector<Arena*>& g_arenas = *new std::vector<Arena*>;
std::atomic<size_t> g_arena_count{0};  // g_arenas.size(), read without the lock on every release

Arena* arena_holding_locked(const void* p) {
  for (Arena* a : g_arenas) {
    if (p >= a->base && p < a->base + a->bytes) return a;
  }
  return nullptr;
}

void free_arena_locked(Arena* a) {
  std::erase(g_arenas, a);
  g_arena_count.store(g_arenas.size());
  host_give_back(a->base);
  delete a;
}

// Leaves `a` to its live blocks, or frees it when it has none (caller holds g_arenas_mutex).
void abandon_arena_locked(Arena* a) {
  if (a == nullptr) return;
  a->abandoned = true;
  if (a->live.empty()) free_arena_locked(a);
}

}  // namespace

struct MemoryPlan::State {
  bool recording = true;  // until the first run under a scope ends
  // The recorded run: request k's rounded size, and the ticks of a clock at its allocation and release (released:
  // -1 while live or when another thread released it, which keeps it out of the arena).
  std::vector<size_t> sizes;
  std::vector<int64_t> born, died;
  std::unordered_map<void*, size_t> recording_live;  // block → request, while recording
  // Blocks (and their sizes) the recorded run released to the cache: given back to the system when the arena takes
  // their place, so that the two are not held at once.
  std::unordered_map<void*, size_t> recording_released;
  int64_t clock = 0;
  // The plan: each request's offset in the arena, or −1 for one the cache serves (its block outlived the run).
  std::vector<int64_t> offsets;
  size_t planned_requests = 0, arena_bytes = 0;
  Arena* arena = nullptr;  // null before the plan exists and after a run left it
  // The run being replayed: the next request, and whether it has asked differently from the record.
  size_t next = 0;
  bool diverged = false;
  std::atomic<bool> in_use{false};  // a scope holds the plan (one thread at a time)
};

namespace {

thread_local MemoryPlan::State* t_plan = nullptr;  // the calling thread's plan, under a MemoryPlanScope

// Offsets for the requests released within the recorded run (greedy by size: the largest first, each at the lowest
// offset where it overlaps no placed request that is live at the same time); the arena's size.
size_t assign_offsets(MemoryPlan::State& plan) {
  const size_t n = plan.sizes.size();
  plan.offsets.assign(n, -1);
  std::vector<size_t> order;
  for (size_t k = 0; k < n; ++k)
    if (plan.died[k] >= 0) order.push_back(k);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return plan.sizes[a] > plan.sizes[b]; });
  std::vector<size_t> placed;
  size_t arena = 0;
  for (size_t k : order) {
    std::vector<std::pair<size_t, size_t>> busy;  // (offset, end) of placed requests live at the same time as k
    for (size_t j : placed) {
      if (plan.born[j] <= plan.died[k] && plan.born[k] <= plan.died[j])
        busy.emplace_back(static_cast<size_t>(plan.offsets[j]), static_cast<size_t>(plan.offsets[j]) + plan.sizes[j]);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [start, end] : busy) {
      if (start >= offset + plan.sizes[k]) break;  // k fits in the gap before this one
      offset = std::max(offset, end);
    }
    plan.offsets[k] = static_cast<int64_t>(offset);
    arena = std::max(arena, offset + plan.sizes[k]);
    placed.push_back(k);
  }
  plan.planned_requests = placed.size();
  return arena;
}

// The next request of a replayed run from the arena: {nullptr, 0} when the cache must serve it (the run asks
// differently from the record, the request outlived the recorded run, or its bytes are still in use).
Block from_plan(MemoryPlan::State& plan, size_t bytes) {
  if (plan.diverged || plan.arena == nullptr || plan.next >= plan.sizes.size() || plan.sizes[plan.next] != bytes) {
    plan.diverged = true;
    return {};
  }
  const int64_t offset = plan.offsets[plan.next++];
  if (offset < 0) return {};
  std::lock_guard lock(g_arenas_mutex);
  Arena& a = *plan.arena;
  const auto start = static_cast<size_t>(offset);
  for (const Arena::Used& used : a.live) {
    if (used.offset < start + bytes && start < used.offset + used.bytes) {  // an earlier request's, still in use
      plan.diverged = true;
      return {};
    }
  }
  a.live.push_back({start, bytes, plan.next - 1});
  return {a.base + start, bytes};
}

// Returns a block of an arena (true), or false for a block of the cache.
bool release_to_arena(const void* p) {
  if (g_arena_count.load() == 0) return false;
  std::lock_guard lock(g_arenas_mutex);
  Arena* a = arena_holding_locked(p);
  if (a == nullptr) return false;
  const auto offset = static_cast<size_t>(static_cast<const char*>(p) - a->base);
  std::erase_if(a->live, [&](const Arena::Used& used) { return used.offset == offset; });
  if (a->abandoned && a->live.empty()) free_arena_locked(a);
  return true;
}

}  // namespace

MemoryPlan::MemoryPlan() : state_(new State) {}

MemoryPlan::~MemoryPlan() {
  {
    std::lock_guard lock(g_arenas_mutex);
    abandon_arena_locked(state_->arena);
  }
  delete state_;
}

bool MemoryPlan::recorded() const {
  return !state_->recording;
}
size_t MemoryPlan::arena_bytes() const {
  return state_->arena_bytes;
}
size_t MemoryPlan::requests() const {
  return state_->planned_requests;
}

namespace {

// Gives back to the system those of `blocks` that are in the CPU cache's free lists (the others were handed out
// again and are someone's now).
void give_back_cached(const std::unordered_map<void*, size_t>& blocks) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  for (const auto& [p, bytes] : blocks) {
    auto list = c.free_lists.find(bytes);
    if (list == c.free_lists.end()) continue;
    auto it = std::find(list->second.begin(), list->second.end(), p);
    if (it == list->second.end()) continue;
    list->second.erase(it);
    c.stats.cached_bytes -= bytes;
    c.memory.give_back(p);
  }
}

// A new arena of `bytes` for a plan, touched now (so that no run faults its pages in), registered, and counted as
// the cache's miss it is; nullptr when the system has no memory for it (the cache then serves the plan's runs).
Arena* new_arena(size_t bytes) noexcept {
  void* base = host_obtain(bytes);
  if (base == nullptr) return nullptr;
  Arena* a = nullptr;
  try {
    a = new Arena{static_cast<char*>(base), bytes, {}, false};
    std::lock_guard lock(g_arenas_mutex);
    g_arenas.push_back(a);
    g_arena_count.store(g_arenas.size());
  } catch (const std::bad_alloc&) {  // no memory for the bookkeeping: no arena
    delete a;
    host_give_back(base);
    return nullptr;
  }
  std::memset(base, 0, bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  ++c.stats.misses;
  return a;
}

}  // namespace

MemoryPlanScope::MemoryPlanScope(MemoryPlan& plan) : plan_(plan) {
  if (t_plan != nullptr) throw Error("MemoryPlanScope: a memory plan is already active on this thread");
  MemoryPlan::State& state = *plan.state_;
  if (state.in_use.exchange(true))
    throw Error("MemoryPlanScope: the memory plan is in use on another thread (one plan per thread)");
  // The last run left its arena to a block that outlived it: a fresh one, before the run rather than in it.
  if (!state.recording && state.arena == nullptr && state.planned_requests > 0)
    state.arena = new_arena(state.arena_bytes);
  state.next = 0;
  state.diverged = false;
  t_plan = &state;
}

MemoryPlanScope::~MemoryPlanScope() {
  t_plan = nullptr;
  MemoryPlan::State& state = *plan_.state_;
  struct Release {
    std::atomic<bool>& in_use;
    ~Release() { in_use.store(false); }
  } release_plan{state.in_use};
  if (state.recording) {
    state.recording = false;
    state.recording_live.clear();
    give_back_cached(state.recording_released);
    state.recording_released.clear();
    try {
      state.arena_bytes = assign_offsets(state);
    } catch (const std::bad_alloc&) {  // no memory to plan with: the cache serves every run
      state.offsets.assign(state.sizes.size(), -1);
      state.planned_requests = state.arena_bytes = 0;
    }
    if (state.planned_requests > 0) state.arena = new_arena(state.arena_bytes);  // at the end of the recorded run
    return;
  }
  std::lock_guard lock(g_arenas_mutex);
  if (state.arena != nullptr && !state.arena->live.empty()) {
    // A block outlived the run (the caller kept it): it is never overwritten — its arena is left to it, the next
    // run gets a new one — and its request is the cache's from now on (outputs kept past the run once dropped
    // within the recorded one).
    for (const Arena::Used& used : state.arena->live) {
      state.offsets[used.request] = -1;
      --state.planned_requests;
    }
    abandon_arena_locked(state.arena);
    state.arena = nullptr;
  }
}

namespace {

Block from_cache(Device device, size_t bytes) {
  Cache& c = cache(device);
  {
    std::lock_guard lock(c.mutex);
    // Best fit among cached blocks no more than twice the size: the smallest one that is large enough (an exact
    // size first, so that a repeated sequence of requests — the next image — gets back exactly its blocks).
    for (auto it = c.free_lists.lower_bound(bytes); it != c.free_lists.end() && it->first <= 2 * bytes; ++it) {
      if (it->second.empty()) continue;
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= it->first;
      c.stats.live_bytes += it->first;
      ++c.stats.hits;
      return {p, it->first};
    }
    ++c.stats.misses;
    c.stats.live_bytes += bytes;
  }
  void* p = c.memory.obtain(bytes);
  if (p == nullptr) {
    std::lock_guard lock(c.mutex);
    c.stats.live_bytes -= bytes;
    throw std::bad_alloc();
  }
  return {p, bytes};
}

}  // namespace

Block allocate(Device device, size_t requested_bytes) {
  if (requested_bytes == 0) return {};
  const size_t bytes = rounded_bytes(requested_bytes);
  MemoryPlan::State* plan = device == Device::cpu ? t_plan : nullptr;
  if (plan != nullptr && !plan->recording) {
    if (Block planned = from_plan(*plan, bytes); planned.data != nullptr) {
      Cache& c = cache(device);
      std::lock_guard lock(c.mutex);
      ++c.stats.planned;
      return planned;
    }
  }
  Block block = from_cache(device, bytes);
  if (plan != nullptr && plan->recording) {
    plan->recording_live[block.data] = plan->sizes.size();
    plan->sizes.push_back(bytes);
    plan->born.push_back(plan->clock++);
    plan->died.push_back(-1);
  }
  return block;
}

void release(Device device, Block block) {
  if (block.data == nullptr) return;
  if (device == Device::cpu && release_to_arena(block.data)) return;
  if (MemoryPlan::State* plan = device == Device::cpu ? t_plan : nullptr; plan != nullptr && plan->recording) {
    if (auto it = plan->recording_live.find(block.data); it != plan->recording_live.end()) {
      plan->died[it->second] = plan->clock++;
      plan->recording_live.erase(it);
      plan->recording_released[block.data] = block.bytes;
    }
  }
  Cache& c = cache(device);
  std::lock_guard lock(c.mutex);
  c.stats.live_bytes -= block.bytes;
  if (c.stats.cached_bytes + block.bytes > c.limit) {
    c.memory.give_back(block.data);
    return;
  }
  c.free_lists[block.bytes].push_back(block.data);
  c.stats.cached_bytes += block.bytes;
}

void empty_allocator_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_all_locked();
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.stats;
}

void set_allocator_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.limit = bytes;
  if (c.stats.cached_bytes > bytes) c.free_all_locked();
}

size_t allocator_cache_limit() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.limit;
}

}  // namespace nn
