/// @file
/// A cooperative stop for long runs. After install_stop_signals(), the first SIGINT or SIGTERM only sets a flag that
/// training checks between steps (it then saves and returns); a second one ends the process as usual.
#pragma once

namespace captioning {

/// Installs the handler for SIGINT and SIGTERM (once per process is enough).
void install_stop_signals();
/// Whether a stop was requested (by a signal or request_stop()) and not cleared since.
bool stop_requested();
/// Sets the flag: what the signal handler does; also for tests.
void request_stop();
/// Clears the flag, e.g. before a new run in the same process.
void clear_stop_request();

}  // namespace captioning
