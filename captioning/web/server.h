// The describe web page and its API, served by the project itself (libmicrohttpd from Debian, on one event thread;
// describes and speech run on worker threads):
//   GET  /                  the page (one HTML file built into the binary; no external assets)
//   POST /api/describe      body: an image, as the raw body whatever its Content-Type (the bytes are sniffed, so
//                           curl's default application/x-www-form-urlencoded works too), or as the multipart
//                           field "image"; ?beam=K (1 … kMaxBeam, default 3)
//                           → {"caption", "score", "alternatives": [{"caption", "score"}…], "seconds",
//                              "audio": "data:audio/wav;base64,…"}
//   GET  /api/speech?text=  → audio/wav of the text
//   GET  /api/health        → {"ok": true, "model": …, "name": "flickr8k.nnck" (the bundle's file name),
//                              "describes": "synthetic shapes" | "photos (Flickr8k)"}
// Errors are JSON {"error": "…"}: 400 for bytes that are no image or a bad parameter, 404 for no such page, 413 for
// an upload over the limit (counted while it arrives, whatever its transfer encoding), 421 for a Host header that
// names no address of this server (DNS rebinding), 500 for a failure of ours (the reason is never internal text),
// 503 when every model is busy for longer than the timeout. Every answer carries nosniff and a Content-Security-
// Policy with frame-ancestors 'none'. Nothing is written to disk.
// Hostile clients cost a socket, not a thread: headers must arrive within header_seconds, a body at a minimum
// rate, a silent connection is closed after idle_seconds, and over max_connections the oldest idle one goes.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace captioning {

// Writes `line` and a newline to stderr in one call: the request log of describe_server.
void log_to_stderr(const std::string& line);

struct ServerOptions {
  std::filesystem::path model;  // a bundle Describer accepts
  // Where a Flickr8k bundle's Xception weights are looked for after the bundle's own folder (DescriberOptions).
  std::vector<std::filesystem::path> weights_search;
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: any free port (see DescribeServer::port)
  int models = 2;                       // describers loaded, i.e. images captioned at once
  int threads = 8;                      // worker threads for describes and speech (connections are not threads)
  size_t max_upload_bytes = 10u << 20;  // larger uploads get 413
  // Upload bytes held at once, over every connection (being received, or waiting for a model): beyond it an upload
  // gets 503, so that 512 connections cannot make the server hold 512 × the upload limit.
  size_t max_buffered_bytes = 256u << 20;
  int timeout_seconds = 20;  // waiting for a free model; longer gets 503
  int header_seconds = 10;   // from connecting (or the previous answer) to the request's headers
  int idle_seconds = 5;      // a connection silent this long is closed (keep-alive, stalled uploads)
  size_t min_upload_bytes_per_second = 64u << 10;  // after header_seconds of grace; slower bodies are cut
  int max_connections = 512;                       // one more cuts the oldest idle connection
  std::vector<std::string> allowed_hosts;          // Host names besides localhost, 127.0.0.1, ::1 and `host`
  // Receives one line per request, e.g. "POST /api/describe 200 104 ms" (method, path, status, milliseconds from
  // routing to the answer written; no newline), from the serving threads, one call per line. Empty (the default:
  // the library never prints): no log; describe_server passes log_to_stderr.
  std::function<void(const std::string&)> log;
  // For tests: called on the worker while a model is checked out, just before it describes. Whatever it throws
  // is answered 500 and must leave the pool whole.
  std::function<void()> while_model_out;
};

class DescribeServer {
 public:
  // Loads the models (throws nn::Error naming the bundle) and binds (throws nn::Error naming host:port and the
  // reason, e.g. "describe server: cannot listen on 127.0.0.1:8080: Address already in use").
  explicit DescribeServer(const ServerOptions& options);
  ~DescribeServer();
  int port() const;
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  // Stops listening, answers what the workers are doing (queued requests get 503), closes every connection and
  // makes run() return: within a describe's time, whatever the clients are doing.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioning
