#include "captioning/stop_signal.h"

#include <signal.h>

#include <atomic>

namespace captioning {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int signal) {
  g_stop.store(true);
  ::signal(signal, SIG_DFL);  // a second Ctrl-C is not ignored
}

}  // namespace

void install_stop_signals() {
  ::signal(SIGINT, on_stop_signal);
  ::signal(SIGTERM, on_stop_signal);
}
bool stop_requested() {
  return g_stop.load();
}
void request_stop() {
  g_stop.store(true);
}
void clear_stop_request() {
  g_stop.store(false);
}

}  // namespace captioning
