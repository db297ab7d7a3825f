#include "nn/io/fault.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace nn {
namespace {

struct FaultPlan {
  std::string name;
  long after = 0;  // signal on this call (1-based); 0: never
  int signal = SIGKILL;
  std::atomic<long> calls{0};
  FaultPlan() {  // "NAME:N" or "NAME:N:INT"
    const char* spec = std::getenv("NN_FAULT_KILL");
    if (spec == nullptr) return;
    const char* colon = std::strchr(spec, ':');
    if (colon == nullptr) return;
    name.assign(spec, colon);
    char* end = nullptr;
    after = std::strtol(colon + 1, &end, 10);
    if (std::strcmp(end, ":INT") == 0) signal = SIGINT;
  }
};

FaultPlan& plan() {
  static FaultPlan p;
  return p;
}

}  // namespace

void fault_point(const char* name) {
  FaultPlan& p = plan();
  if (p.after <= 0 || p.name != name) return;
  if (++p.calls == p.after) ::raise(p.signal);
}

}  // namespace nn
