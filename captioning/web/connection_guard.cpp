#include "captioning/web/connection_guard.h"

#include <sys/socket.h>

#include <algorithm>

namespace captioning {

using Clock = std::chrono::steady_clock;

void ConnectionGuard::opened(const void* key, int fd) {
  std::lock_guard lock(mutex_);
  open_[key] = Tracked{.fd = fd, .phase = Phase::idle, .since = Clock::now()};
  if (open_.size() > deadlines_.max_connections) cut_oldest_idle(key);
}

// libmicrohttpd reports the close before it closes the socket, and the mutex keeps a sweep from cutting a socket
// number that has meanwhile been closed and reused.
void ConnectionGuard::closed(const void* key) {
  std::lock_guard lock(mutex_);
  open_.erase(key);
}

void ConnectionGuard::request_began(const void* key) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end())
    it->second.phase = Phase::body, it->second.since = Clock::now(), it->second.body_bytes = 0;
}

void ConnectionGuard::body_read(const void* key, size_t n) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) it->second.body_bytes += n;
}

void ConnectionGuard::busy(const void* key) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) it->second.phase = Phase::busy;
}

void ConnectionGuard::request_done(const void* key) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) it->second.phase = Phase::idle, it->second.since = Clock::now();
}

void ConnectionGuard::lingering(const void* key) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) it->second.phase = Phase::linger, it->second.since = Clock::now();
}

int ConnectionGuard::sweep(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  int cuts = 0;
  for (auto& [key, t] : open_) {
    if (t.cut || t.phase == Phase::busy) continue;
    Clock::duration allowed = t.phase == Phase::linger ? Clock::duration(deadlines_.linger) : deadlines_.headers;
    if (t.phase == Phase::body)
      allowed =
          deadlines_.body_grace +
          std::chrono::milliseconds(t.body_bytes * 1000 / std::max<uint64_t>(1, deadlines_.min_body_bytes_per_second));
    if (now - t.since > allowed) cut(t), ++cuts;
  }
  return cuts;
}

size_t ConnectionGuard::open() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

// Both directions: the event loop reads end-of-file and closes the connection; the client sees it closed.
void ConnectionGuard::cut(Tracked& t) {
  ::shutdown(t.fd, SHUT_RDWR);
  t.cut = true;
}

// The idle connection waiting longest (keep-alive clients, idle sockets, half-sent headers), not `except`.
void ConnectionGuard::cut_oldest_idle(const void* except) {
  Tracked* oldest = nullptr;
  for (auto& [key, t] : open_)
    if (key != except && !t.cut && t.phase == Phase::idle && (!oldest || t.since < oldest->since)) oldest = &t;
  if (oldest) cut(*oldest);
}

}  // namespace captioning
