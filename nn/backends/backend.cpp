#include "nn/backends/backend.h"

#include "nn/core/error.h"
#include "nn/core/tensor.h"

namespace nn {
namespace {

// The calling thread's choice for Device::cpu (BackendScope); null means the cpu backend.
thread_local const Backend* chosen_for_cpu = nullptr;

}  // namespace

const Backend* const* all_backends(int* count) {
  static const Backend* const backends[] = {&cpu_backend(), &ref_backend()};
  *count = static_cast<int>(std::size(backends));
  return backends;
}

const Backend& backend_for(Device device) {
  switch (device) {
    case Device::cpu:
      return chosen_for_cpu != nullptr ? *chosen_for_cpu : cpu_backend();
  }
  throw Error(std::string("backend_for: no backend computes on ") + device_name(device));
}

const Backend& backend_for(const Tensor& t) {
  return backend_for(t.device());
}

BackendScope::BackendScope(const Backend& backend) : previous_(chosen_for_cpu) {
  if (backend.device != Device::cpu) {
    throw Error(std::string("BackendScope: backend '") + backend.name + "' computes on " + device_name(backend.device) +
                "; only cpu backends can be chosen");
  }
  chosen_for_cpu = &backend;
}

BackendScope::~BackendScope() {
  chosen_for_cpu = previous_;
}

}  // namespace nn
