// The describe web page and its API, served by the project itself (cpp-httplib from Debian):
//   GET  /                  the page (one HTML file built into the binary; no external assets)
//   POST /api/describe      body: an image, as the raw body whatever its Content-Type (the bytes are sniffed, so
//                           curl's default application/x-www-form-urlencoded works too), or as the multipart
//                           field "image"; ?beam=K (1 … kMaxBeam, default 3)
//                           → {"caption", "score", "alternatives": [{"caption", "score"}…], "seconds",
//                              "audio": "data:audio/wav;base64,…"}
//   GET  /api/speech?text=  → audio/wav of the text
//   GET  /api/health        → {"ok": true, "model": …, "describes": "synthetic shapes" | "photos (Flickr8k)"}
// Errors are JSON {"error": "…"}: 400 for bytes that are no image or a bad parameter, 413 for an upload over the
// limit, 503 when every model is busy for longer than the timeout. Nothing is written to disk.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace captioning {

// Writes `line` and a newline to stderr in one call: the request log of describe_server.
void log_to_stderr(const std::string& line);

struct ServerOptions {
  std::filesystem::path model;  // a bundle Describer accepts
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: any free port (see DescribeServer::port)
  int models = 2;                       // describers loaded, i.e. images captioned at once
  int threads = 8;                      // connections served at once
  size_t max_upload_bytes = 10u << 20;  // larger uploads get 413
  int timeout_seconds = 20;             // reading a request, and waiting for a free model
  // Receives one line per request, e.g. "POST /api/describe 200 104 ms" (method, path, status, milliseconds from
  // routing to the answer written; no newline), from the serving threads, one call per line. Empty (the default:
  // the library never prints): no log; describe_server passes log_to_stderr.
  std::function<void(const std::string&)> log;
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
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace captioning
