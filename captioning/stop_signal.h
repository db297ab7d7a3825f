// A cooperative stop for long runs. After install_stop_signals(), the first SIGINT or SIGTERM only sets a flag that
// training checks between steps (it then saves and returns); a second one ends the process as usual.
#pragma once

namespace captioning {

void install_stop_signals();
bool stop_requested();
void request_stop();  // what the signal handler does; also for tests
void clear_stop_request();

}  // namespace captioning
