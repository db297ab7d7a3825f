// The describe web page and its API, served by the project itself (cpp-httplib from Debian):
//   GET  /                  the page (one HTML file built into the binary; no external assets)
//   POST /api/describe      body: an image (raw bytes, or multipart field "image"); ?beam=K (1 … 8, default 3)
//                           → {"caption", "score", "alternatives": [{"caption", "score"}…], "seconds",
//                              "audio": "data:audio/wav;base64,…"}
//   GET  /api/speech?text=  → audio/wav of the text
//   GET  /api/health        → {"ok": true, "model": …}
// Errors are JSON {"error": "…"}: 400 for bytes that are no image or a bad parameter, 413 for an upload over the
// limit, 503 when every model is busy for longer than the timeout. Nothing is written to disk.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace captioning {

struct ServerOptions {
  std::filesystem::path model;          // a bundle Describer accepts
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: any free port (see DescribeServer::port)
  int models = 2;                       // describers loaded, i.e. images captioned at once
  int threads = 8;                      // connections served at once
  size_t max_upload_bytes = 10u << 20;  // larger uploads get 413
  int timeout_seconds = 20;             // reading a request, and waiting for a free model
};

class DescribeServer {
 public:
  // Loads the models (throws nn::Error naming the bundle) and binds (throws std::runtime_error naming host:port).
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
