// The describe server's deadlines, kept per open connection (internal to nn::describe_web). An event loop makes a
// slow client cost a socket rather than a thread, but the socket still counts: a client that trickles its headers
// a byte at a time, or never finishes its body, would otherwise hold it for ever, since libmicrohttpd's own
// timeout restarts on every byte. The guard records where each connection stands and cuts those past their
// deadline, and the oldest idle one when too many are open.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace captioning {

struct Deadlines {
  std::chrono::milliseconds headers{10000};     // connection opened (or previous answer sent) → request headers in
  std::chrono::milliseconds body_grace{10000};  // a body then gets this long, plus its size at the rate below
  uint64_t min_body_bytes_per_second = 64u << 10;
  size_t max_connections = 512;  // one more opened cuts the oldest idle one
  // After an early answer (413) the rest of the body is read and dropped this long before the connection is cut,
  // so that a client still writing reads the answer rather than a reset.
  std::chrono::milliseconds linger{1000};
};

// Thread-safe: the event thread reports, run()'s thread sweeps.
class ConnectionGuard {
 public:
  explicit ConnectionGuard(const Deadlines& deadlines) : deadlines_(deadlines) {}
  // `key` names the connection (libmicrohttpd's pointer); `fd` is its socket, valid until closed(key) returns.
  void opened(const void* key, int fd);
  void closed(const void* key);
  void request_began(const void* key);        // its headers are in: the body clock starts
  void body_read(const void* key, size_t n);  // n more body bytes arrived
  void busy(const void* key);                 // the server is working on it: no client deadline
  void request_done(const void* key);         // answered: idle until the next request's headers
  void lingering(const void* key);            // refused mid-upload: read (and dropped) for `linger`, then cut
  // Cuts (shutdown(2), which the event loop sees as the client leaving) every connection past its deadline.
  // Returns how many it cut.
  int sweep(std::chrono::steady_clock::time_point now);
  size_t open() const;

 private:
  enum class Phase { idle, body, busy, linger };
  struct Tracked {
    int fd = -1;
    Phase phase = Phase::idle;
    std::chrono::steady_clock::time_point since;
    uint64_t body_bytes = 0;
    bool cut = false;
  };
  void cut(Tracked& t);
  void cut_oldest_idle(const void* except);

  Deadlines deadlines_;
  mutable std::mutex mutex_;
  std::unordered_map<const void*, Tracked> open_;
};

}  // namespace captioning
