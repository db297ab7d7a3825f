#include "nn/core/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
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

size_t limit_from_environment() {
  const char* text = std::getenv("NN_ALLOCATOR_CACHE_MB");
  if (text == nullptr) return size_t{2048} << 20;
  char* end = nullptr;
  unsigned long long mb = std::strtoull(text, &end, 10);
  return (end == text) ? (size_t{2048} << 20) : static_cast<size_t>(mb) << 20;
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

}  // namespace

Block allocate(Device device, size_t requested_bytes) {
  if (requested_bytes == 0) return {};
  size_t bytes = rounded_bytes(requested_bytes);
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

void release(Device device, Block block) {
  if (block.data == nullptr) return;
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
