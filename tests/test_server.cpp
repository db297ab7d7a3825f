// The describe web server over real HTTP on a loopback port: the page, captions of a real image with alternatives
// and audio, uploads in every form clients send, the errors for bad uploads (400, 413, 404), the request log, the
// reason a port cannot be listened on, what the model describes, concurrent clients, and a stalled upload cut off.
// Under attack (the cases at the end): chunked upload bombs, slow and idle connections, keep-alive
// clients, absurd lengths, foreign Host headers, security headers, failures inside a describe, speech bounds, and
// a stop that does not wait for the attackers.
#include <arpa/inet.h>
#include <captioning/bundle.h>
#include <captioning/generate.h>
#include <captioning/web/server.h>
#include <captioning/xception_weights.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nn/core/threads.h>
#include <omp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "support/files.h"

namespace fs = std::filesystem;

// Timing bounds are for the optimised build; the sanitizer build runs everything several times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
constexpr double kSlowBuild = 5;  // the sanitizer build runs the decoders and the model several times slower
#else
constexpr bool kSanitized = false;
constexpr double kSlowBuild = 1;
#endif

namespace {
std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The options on a free loopback port, with the request log sent to `log` (none by default: tests stay quiet).
captioning::ServerOptions on_free_port(captioning::ServerOptions o, std::function<void(const std::string&)> log) {
  o.port = 0;
  o.log = std::move(log);
  return o;
}

// A server on a free loopback port, serving from a thread for the test's lifetime.
struct RunningServer {
  captioning::DescribeServer server;
  std::thread thread;
  explicit RunningServer(const captioning::ServerOptions& o, std::function<void(const std::string&)> log = {})
      : server(on_free_port(o, std::move(log))) {
    // A client writing to a connection the server has closed (after an early 413) gets EPIPE rather than the
    // signal: httplib's client sends without MSG_NOSIGNAL.
    std::signal(SIGPIPE, SIG_IGN);
    thread = std::thread([this] { server.run(); });
    httplib::Client probe("127.0.0.1", server.port());
    for (int i = 0; i < 100 && !probe.Get("/api/health"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", server.port()); }
};

const fs::path kModel = fs::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck";
const fs::path kSample = fs::path(NN_SOURCE_DIR) / "weights" / "sample_shapes.jpg";

// The whole answer to `request` sent as is on a fresh connection: what curl sends, byte for byte.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "no connection";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, 0);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return answer;
}

// A POST of `body` to /api/describe as curl --data-binary sends it, with `content_type` ("" for no such header).
std::string post_raw(int port, const std::string& body, const std::string& content_type) {
  std::string head =
      "POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n";
  if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
  return raw_exchange(port, head + "\r\n" + body);
}

// The status line and the body of a raw answer: "200 {…}".
std::string status_and_body(const std::string& answer) {
  const size_t blank = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || blank == std::string::npos) return "malformed: " + answer.substr(0, 80);
  return answer.substr(9, 3) + " " + answer.substr(blank + 4);
}

std::string caption_of(const std::string& json) {
  const std::string key = "{\"caption\": \"";
  const size_t at = json.find(key);
  if (at != 0) return "";
  return json.substr(key.size(), json.find('"', key.size()) - key.size());
}
}  // namespace

TEST_CASE("the page, a caption with alternatives and audio, and JSON errors over HTTP") {
  RunningServer s({.model = kModel, .timeout_seconds = 5});
  httplib::Client c = s.client();

  auto page = c.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(page->body.find("aria-live=\"polite\"") != std::string::npos);
  CHECK(page->body.find("http") == std::string::npos);  // no external assets

  const std::string jpeg = read_file(kSample);
  auto r = c.Post("/api/describe?beam=3", jpeg, "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  // The committed sample shows a yellow triangle, a white square and a red circle (weights/sample_shapes.txt).
  const std::string caption = caption_of(r->body);
  CHECK(caption.find("yellow triangle") != std::string::npos);
  CHECK(caption.find("white square") != std::string::npos);
  CHECK(caption.find("red circle") != std::string::npos);
  CHECK(r->body.find("\"alternatives\": [{\"caption\": \"" + caption + "\"") != std::string::npos);
  CHECK(r->body.find("\"audio\": \"data:audio/wav;base64,UklGR") != std::string::npos);  // "RIFF"

  httplib::MultipartFormDataItems form{{"image", jpeg, "sample.jpg", "image/jpeg"}};
  auto multipart = c.Post("/api/describe", form);
  REQUIRE(multipart);
  CHECK(multipart->status == 200);
  CHECK(caption_of(multipart->body).find("yellow triangle") != std::string::npos);

  auto not_image = c.Post("/api/describe", read_file(fs::path(NN_SOURCE_DIR) / "README.md"), "image/jpeg");
  REQUIRE(not_image);
  CHECK(not_image->status == 400);
  CHECK(not_image->body == "{\"error\": \"upload: is not a JPEG or PNG image (unknown image type)\"}");

  // The command line's range, 1 … kMaxBeam (16), and a message that states it.
  REQUIRE(captioning::kMaxBeam == 16);
  for (const char* beam : {"0", "17", "3x", ""}) {
    auto bad_beam = c.Post(std::string("/api/describe?beam=") + beam, jpeg, "image/jpeg");
    REQUIRE(bad_beam);
    CHECK(bad_beam->status == 400);
    CHECK(bad_beam->body == "{\"error\": \"beam must be 1 … 16, got '" + std::string(beam) + "'\"}");
  }
  auto widest = c.Post("/api/describe?beam=16", jpeg, "image/jpeg");
  REQUIRE(widest);
  CHECK(widest->status == 200);
  CHECK(caption_of(widest->body).find("yellow triangle") != std::string::npos);

  auto health = c.Get("/api/health");
  REQUIRE(health);
  CHECK(health->body ==
        "{\"ok\": true, \"model\": \"image captioner (96 px)\", \"name\": \"shapes.nnck\", "
        "\"describes\": \"synthetic shapes\"}");
  // The page says which model answers: its file name and what it describes.
  CHECK(page->body.find(">shapes.nnck</strong>, a model that describes <strong id=\"describes\">synthetic shapes<") !=
        std::string::npos);
  CHECK(page->body.find("{{DESCRIBES}}") == std::string::npos);

  auto empty = c.Post("/api/describe", "", "image/jpeg");
  REQUIRE(empty);
  CHECK(empty->status == 400);

  auto missing = c.Get("/nothing-here");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "{\"error\": \"no such page\"}");

  auto speech = c.Get("/api/speech?text=a%20red%20circle");
  REQUIRE(speech);
  CHECK(speech->status == 200);
  CHECK(speech->body.substr(0, 4) == "RIFF");
  CHECK(speech->body.size() > 16000);  // over half a second at 16 kHz, 16 bits
}

// The sample made larger than httplib's 8 KiB limit on form bodies with a 20,000-byte JPEG comment after SOI: the
// same picture, a size of a small photo.
std::string padded_sample() {
  const std::string jpeg = read_file(kSample);
  const size_t n = 20000;
  std::string comment = "\xFF\xFE";
  comment += static_cast<char>((n + 2) >> 8);
  comment += static_cast<char>((n + 2) & 0xFF);
  return jpeg.substr(0, 2) + comment + std::string(n, 'c') + jpeg.substr(2);
}

TEST_CASE("an image is taken whatever Content-Type it comes with, or as the multipart field 'image'") {
  RunningServer s({.model = kModel, .timeout_seconds = 5});
  const std::string photo = padded_sample();
  REQUIRE(photo.size() > 3 * 8192);  // well over httplib's 8 KiB for form bodies
  // image/jpeg; curl --data-binary's default; none at all; and a type that says nothing of images.
  for (const char* type : {"image/jpeg", "application/x-www-form-urlencoded", "", "application/octet-stream"}) {
    CAPTURE(type);
    const std::string answer = status_and_body(post_raw(s.server.port(), photo, type));
    REQUIRE(answer.rfind("200 ", 0) == 0);
    const std::string caption = caption_of(answer.substr(4));
    CHECK(caption.find("yellow triangle") != std::string::npos);
    CHECK(caption.find("white square") != std::string::npos);
    CHECK(caption.find("red circle") != std::string::npos);
  }
  httplib::Client c = s.client();
  // The image field among others, first or not (curl -F image=@photo.jpg -F beam=… sends several).
  httplib::MultipartFormDataItems form{
      {"note", "hello", "", ""}, {"image", photo, "photo.jpg", "image/jpeg"}, {"other", "x", "", ""}};
  auto multipart = c.Post("/api/describe?beam=1", form);
  REQUIRE(multipart);
  CHECK(multipart->status == 200);
  CHECK(caption_of(multipart->body).find("yellow triangle") != std::string::npos);

  httplib::MultipartFormDataItems no_image{{"photo", photo, "photo.jpg", "image/jpeg"}};
  auto wrong_field = c.Post("/api/describe", no_image);
  REQUIRE(wrong_field);
  CHECK(wrong_field->status == 400);
  CHECK(wrong_field->body == "{\"error\": \"the form has no field named 'image'\"}");

  CHECK(status_and_body(post_raw(s.server.port(), "", "application/x-www-form-urlencoded")) ==
        "400 {\"error\": \"the request has no image in its body\"}");
}

TEST_CASE("uploads over the limit get 413 with a JSON reason, whatever their Content-Type") {
  RunningServer s({.model = kModel, .max_upload_bytes = 1u << 20, .timeout_seconds = 5});
  httplib::Client c = s.client();
  auto r = c.Post("/api/describe", std::string((1u << 20) + 1, 'x'), "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body == "{\"error\": \"the upload is larger than the limit of 1 MiB\"}");
  CHECK(status_and_body(
            post_raw(s.server.port(), std::string((1u << 20) + 1, 'x'), "application/x-www-form-urlencoded")) ==
        "413 {\"error\": \"the upload is larger than the limit of 1 MiB\"}");
  httplib::MultipartFormDataItems form{{"image", std::string((1u << 20) + 1, 'x'), "big.jpg", "image/jpeg"}};
  auto multipart = c.Post("/api/describe", form);
  REQUIRE(multipart);
  CHECK(multipart->status == 413);
  CHECK(multipart->body == "{\"error\": \"the upload is larger than the limit of 1 MiB\"}");
  // Exactly at the limit is allowed (and then is no image).
  auto at_limit = c.Post("/api/describe", std::string(1u << 20, 'x'), "image/jpeg");
  REQUIRE(at_limit);
  CHECK(at_limit->status == 400);
}

TEST_CASE("each request is logged on one line: method, path, status, milliseconds") {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::string describe_json;
  {
    RunningServer s({.model = kModel, .timeout_seconds = 5}, [&](const std::string& line) {
      std::lock_guard lock(mutex);
      lines.push_back(line);
    });
    httplib::Client c = s.client();
    auto r = c.Post("/api/describe?beam=2", read_file(kSample), "image/jpeg");
    REQUIRE(r);
    describe_json = r->body;
    REQUIRE(c.Get("/nothing-here"));
  }  // the server is stopped: every line is in
  // RunningServer's own readiness probes are logged too; the two requests' lines may come in either order (each
  // is written when its answer has gone out).
  std::vector<std::string> ours;
  std::string all;
  for (const auto& line : lines) {
    all += line + "\n";
    if (line.rfind("GET /api/health ", 0) != 0) ours.push_back(line);
  }
  INFO("log:\n" << all);
  REQUIRE(ours.size() == 2);
  if (ours[0].rfind("GET", 0) == 0) std::swap(ours[0], ours[1]);
  std::smatch m;
  REQUIRE(std::regex_match(ours[0], m, std::regex("POST /api/describe 200 ([0-9]+) ms")));
  // The logged time covers the model's own time, which the answer reports in seconds.
  const double model_seconds = std::stod(describe_json.substr(describe_json.find("\"seconds\": ") + 11));
  CHECK(std::stol(m[1]) >= static_cast<long>(model_seconds * 1000));
  CHECK(std::stol(m[1]) < 10000);
  CHECK(std::regex_match(ours[1], std::regex("GET /nothing-here 404 [0-9]+ ms")));
}

TEST_CASE("a port that cannot be listened on is refused with the reason") {
  RunningServer first({.model = kModel, .timeout_seconds = 5});
  const int port = first.server.port();
  const std::string where = "127.0.0.1:" + std::to_string(port);
  CHECK(test::error_of([&] { captioning::DescribeServer second({.model = kModel, .port = port, .log = {}}); }) ==
        "describe server: cannot listen on " + where + ": Address already in use");
  // 192.0.2.1 (TEST-NET-1) is no address of this machine.
  CHECK(test::error_of([&] {
          captioning::DescribeServer other({.model = kModel, .host = "192.0.2.1", .port = 18801, .log = {}});
        }) == "describe server: cannot listen on 192.0.2.1:18801: Cannot assign requested address");
  // The first server still answers alone.
  auto health = first.client().Get("/api/health");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("what the model describes comes from its bundle: Flickr8k photos, or what the bundle says") {
  test::TempDir dir;
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit({"a dog runs on the grass"});
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 64, .units = 8});
  const std::string extractor = "xception random width=0.03125 seed=1 filter=nearest";
  captioning::save_bundle(dir.path / "flickr8k.nnck", model, tokenizer, nullptr, {{"features.extractor", extractor}});
  captioning::save_bundle(dir.path / "dogs.nnck", model, tokenizer, nullptr,
                          {{"features.extractor", extractor}, {"describes", "dogs <& cats>"}});
  {
    RunningServer s({.model = dir.path / "flickr8k.nnck", .models = 1, .timeout_seconds = 5});
    auto health = s.client().Get("/api/health");
    REQUIRE(health);
    CHECK(health->body == "{\"ok\": true, \"model\": \"caption model over " + extractor +
                              "\", \"name\": \"flickr8k.nnck\", \"describes\": \"photos (Flickr8k)\"}");
    auto page = s.client().Get("/");
    REQUIRE(page);
    CHECK(page->body.find(">flickr8k.nnck<") != std::string::npos);
    CHECK(page->body.find(">photos (Flickr8k)<") != std::string::npos);
  }
  RunningServer s({.model = dir.path / "dogs.nnck", .models = 1, .timeout_seconds = 5});
  auto health = s.client().Get("/api/health");
  REQUIRE(health);
  CHECK(health->body.find("\"describes\": \"dogs <& cats>\"") != std::string::npos);
  auto page = s.client().Get("/");
  REQUIRE(page);
  CHECK(page->body.find(">dogs &lt;&amp; cats&gt;<") != std::string::npos);  // escaped in the page
}

TEST_CASE("a photo model finds its Xception weights by content in the folders the server is given") {
  test::TempDir dir;
  fs::create_directories(dir.path / "models");
  fs::create_directories(dir.path / "shelf");
  nn::Generator gen(1);
  nn::Xception xception({.width = 0.03125f, .middle_blocks = 1}, gen);  // 64 feature channels
  nn::save_xception(dir.path / "shelf" / "renamed.nnck", xception);
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit({"a dog runs on the grass"});
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 64, .units = 8});
  const fs::path bundle = dir.path / "models" / "flickr8k.nnck";
  captioning::save_bundle(bundle, model, tokenizer, nullptr,
                          {{"features.extractor", captioning::extractor_label(captioning::weights_sha256(xception),
                                                                              nn::ResizeFilter::nearest)},
                           {"features.weights", "xception_notop.nnck"}});
  // Not beside the bundle, and not given: refused, naming the bundle.
  CHECK(test::error_of([&] {
          captioning::DescribeServer server({.model = bundle, .port = 0, .models = 1});
        }).rfind(bundle.string() + ": needs the Xception weights it was trained with", 0) == 0);
  RunningServer s({.model = bundle, .weights_search = {dir.path / "shelf"}, .models = 1, .timeout_seconds = 5});
  auto health = s.client().Get("/api/health");
  REQUIRE(health);
  CHECK(health->body.find("\"name\": \"flickr8k.nnck\", \"describes\": \"photos (Flickr8k)\"") != std::string::npos);
  auto r = s.client().Post("/api/describe", read_file(kSample), "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("concurrent clients each get their own image's caption") {
  RunningServer s({.model = kModel, .models = 2, .threads = 8, .timeout_seconds = 20});
  const std::string jpeg = read_file(kSample);
  const std::string text = read_file(fs::path(NN_SOURCE_DIR) / "README.md");
  std::vector<std::thread> clients;
  std::vector<std::string> results(8);
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c = s.client();
      // Even clients send the sample, odd ones a text file: answers must not cross.
      auto r = c.Post("/api/describe?beam=1", i % 2 ? text : jpeg, "image/jpeg");
      results[static_cast<size_t>(i)] = r ? std::to_string(r->status) + " " + caption_of(r->body) : "no answer";
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 8; ++i) {
    if (i % 2)
      CHECK(results[static_cast<size_t>(i)] == "400 ");
    else
      CHECK(results[static_cast<size_t>(i)] == results[0]);
  }
  CHECK(results[0].rfind("200 ", 0) == 0);
}

TEST_CASE("a client that stalls in the middle of its upload is cut off after the timeout") {
  RunningServer s({.model = kModel, .timeout_seconds = 1, .idle_seconds = 1});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string partial =
      "POST /api/describe HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nabc";
  REQUIRE(::send(fd, partial.data(), partial.size(), 0) == static_cast<ssize_t>(partial.size()));
  timeval wait{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  const auto start = std::chrono::steady_clock::now();
  char buffer[512];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  CHECK(n == 0);        // the server closed the connection …
  CHECK(waited < 5.0);  // … after its 1 s read timeout, long before our own 10 s
}

// ---- Under attack. Every attacker below is bounded in time and count and stops by itself.

namespace {
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// What has arrived on fd within `wait` (without blocking longer), "" if nothing.
std::string poll_answer(int fd, std::chrono::milliseconds wait) {
  timeval t{.tv_sec = 0, .tv_usec = static_cast<suseconds_t>(wait.count() * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  char buffer[4096];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

// True when the server closed fd within `wait`.
bool closed_within(int fd, std::chrono::milliseconds wait) {
  const auto end = std::chrono::steady_clock::now() + wait;
  char buffer[512];
  while (std::chrono::steady_clock::now() < end) {
    timeval t{.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
  }
  return false;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Attackers for `seconds`: `slow` sockets sending one header byte each per second and `idle` sockets sending none.
struct Attackers {
  std::vector<int> slow, idle;
  std::thread trickle;
  std::atomic<bool> done{false};
  Attackers(int port, int n_slow, int n_idle) {
    for (int i = 0; i < n_slow; ++i) slow.push_back(connect_to(port));
    for (int i = 0; i < n_idle; ++i) idle.push_back(connect_to(port));
    trickle = std::thread([this] {
      const std::string head = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      for (size_t i = 0; !done && i < 60; ++i) {
        for (int fd : slow) ::send(fd, &head[i % head.size()], 1, MSG_NOSIGNAL);
        for (int k = 0; k < 10 && !done; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~Attackers() {
    done = true;
    trickle.join();
    for (int fd : slow) ::close(fd);
    for (int fd : idle) ::close(fd);
  }
};
}  // namespace

TEST_CASE("a chunked upload bomb gets 413 as soon as it passes the limit, and memory stays bounded") {
  RunningServer s({.model = kModel, .max_upload_bytes = 1u << 20});
  const int fd = connect_to(s.server.port());
  REQUIRE(fd >= 0);
  const long rss_before = rss_kib();
  REQUIRE(send_all(fd, "POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";  // 64 KiB
  std::string answer;
  size_t sent = 0;
  while (sent < (50u << 20) && answer.empty() && send_all(fd, chunk)) {
    sent += 0x10000;
    answer = poll_answer(fd, std::chrono::milliseconds(1));
  }
  if (answer.empty()) answer = poll_answer(fd, std::chrono::milliseconds(2000));
  ::close(fd);
  INFO("sent " << sent << " bytes; answer: " << answer.substr(0, 120));
  CHECK(answer.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(answer.find("{\"error\": \"the upload is larger than the limit of 1 MiB\"}") != std::string::npos);
  CHECK(sent < (24u << 20));                    // answered long before the 50 MB were sent
  CHECK(rss_kib() - rss_before < 32 * 1024);    // the server kept at most the limit, not the stream
  auto health = s.client().Get("/api/health");  // and serves on
  REQUIRE(health);
  CHECK(health->status == 200);
}

// A file of tests/bad_inputs/, which keeps large images gzipped (a few KB each).
std::string read_gzipped(const std::string& name) {
  const std::string path = std::string(NN_SOURCE_DIR) + "/tests/bad_inputs/" + name + ".gz";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(("gzip -dc '" + path + "'").c_str(), "r"), ::pclose);
  REQUIRE(pipe);
  std::string bytes;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) bytes.append(buffer, n);
  REQUIRE(bytes.size() > 1000);
  return bytes;
}

TEST_CASE("scan-bomb JPEGs and 8000×8000 PNGs neither hold the models nor the memory; a normal client is answered") {
  RunningServer s({.model = kModel, .models = 2, .threads = 4});
  const std::string bomb = read_gzipped("scan_bomb.jpg"), big_png = read_gzipped("big_8000.png");
  const std::string big_jpeg = read_gzipped("big_8000.jpg"), jpeg = read_file(kSample);
  s.client().Post("/api/describe", jpeg, "image/jpeg");  // the first describe's memory: the idle level
  const long rss_idle = rss_kib();
  std::atomic<long> rss_peak{rss_idle};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      rss_peak = std::max(rss_peak.load(), rss_kib());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::vector<std::thread> attackers;
  std::atomic<int> bombs_refused{0}, bigs_described{0};
  for (int i = 0; i < 2; ++i) {
    attackers.emplace_back([&] {
      auto r = s.client().Post("/api/describe", bomb, "image/jpeg");
      if (r && r->status == 400 && r->body.find("progressive scans") != std::string::npos) ++bombs_refused;
    });
    attackers.emplace_back([&, i] {
      auto r = s.client().Post("/api/describe", i ? big_png : big_jpeg, i ? "image/png" : "image/jpeg");
      if (r && r->status == 200) ++bigs_described;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the attack is under way
  const auto start = std::chrono::steady_clock::now();
  auto normal = s.client().Post("/api/describe", jpeg, "image/jpeg");
  const double waited = seconds_since(start);
  for (auto& t : attackers) t.join();
  done = true;
  sampler.join();
  REQUIRE(normal);
  CHECK(normal->status == 200);
  CHECK(waited < kSlowBuild * 2.0);
  CHECK(bombs_refused == 2);
  CHECK(bigs_described == 2);
  INFO("idle " << rss_idle / 1024 << " MB, peak " << rss_peak / 1024 << " MB, after " << rss_kib() / 1024 << " MB");
  if (!kSanitized) {  // AddressSanitizer's shadow memory and quarantine say nothing about ours
    // Four hostile images at once: at most twice libjpeg's 256 MB budget (the two scan bombs), not 4 × 950 MB …
    CHECK(rss_peak - rss_idle < 512 * 1024);
    CHECK(rss_kib() - rss_idle < 64 * 1024);  // … and back near the idle level afterwards
  }
}

TEST_CASE("slow-header and idle connections do not keep a normal client waiting") {
  RunningServer s({.model = kModel, .threads = 8});
  Attackers attackers(s.server.port(), 12, 250);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the attack is under way
  const std::string jpeg = read_file(kSample);
  for (int i = 0; i < 3; ++i) {
    httplib::Client c = s.client();
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    const auto start = std::chrono::steady_clock::now();
    auto health = c.Get("/api/health");
    auto caption = c.Post("/api/describe?beam=1", jpeg, "image/jpeg");
    const double waited = seconds_since(start);
    REQUIRE(health);
    REQUIRE(caption);
    CHECK(health->status == 200);
    CHECK(caption->status == 200);
    CHECK(waited < kSlowBuild * 2.0);
  }
}

TEST_CASE("keep-alive clients do not make a new client wait") {
  RunningServer s({.model = kModel, .threads = 8});
  std::vector<httplib::Client> tabs;
  for (int i = 0; i < 12; ++i) tabs.push_back(s.client());
  for (auto& tab : tabs) {
    tab.set_keep_alive(true);
    REQUIRE(tab.Get("/api/health"));  // each keeps its connection open afterwards
  }
  httplib::Client late = s.client();
  const auto start = std::chrono::steady_clock::now();
  auto r = late.Get("/api/health");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(seconds_since(start) < kSlowBuild * 1.0);
}

TEST_CASE("a client trickling its headers is cut at the header deadline, however often it sends") {
  RunningServer s({.model = kModel, .header_seconds = 1});
  const int fd = connect_to(s.server.port());
  REQUIRE(fd >= 0);
  const std::string head =
      "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (size_t i = 0; i < head.size() && !cut; ++i) {
    cut = !send_all(fd, head.substr(i, 1)) || closed_within(fd, std::chrono::milliseconds(200));
  }
  const double waited = seconds_since(start);
  ::close(fd);
  CHECK(cut);
  CHECK(waited < kSlowBuild * 3.0);  // 1 s deadline plus the sweep's tenth of a second, though a byte came every 0.2 s
}

TEST_CASE("an absurd Content-Length gets 413 at once") {
  RunningServer s({.model = kModel});
  for (const char* length : {"99999999999", "18446744073709551615"}) {
    CAPTURE(length);
    const int fd = connect_to(s.server.port());
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, std::string("POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ") + length +
                             "\r\n\r\nabc"));
    const auto start = std::chrono::steady_clock::now();
    const std::string answer = poll_answer(fd, std::chrono::milliseconds(3000));
    ::close(fd);
    CHECK(answer.rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(answer.find("larger than the limit of 10 MiB") != std::string::npos);
    CHECK(seconds_since(start) < kSlowBuild * 1.0);
  }
}

TEST_CASE("a Host header naming no address of the server is answered 421 (DNS rebinding)") {
  RunningServer s({.model = kModel});
  const std::string port = std::to_string(s.server.port());
  for (const std::string& host :
       std::vector<std::string>{"evil.example:" + port, "evil.example", "127.0.0.1.evil.example"}) {
    CAPTURE(host);
    const std::string answer =
        raw_exchange(s.server.port(), "GET /api/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    CHECK(status_and_body(answer) ==
          "421 {\"error\": \"this server does not answer for the host '" + host + "'; use 127.0.0.1:" + port + "\"}");
  }
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port}) {
    CAPTURE(host);
    const std::string answer =
        raw_exchange(s.server.port(), "GET /api/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    CHECK(status_and_body(answer).rfind("200 {\"ok\": true", 0) == 0);
  }
}

TEST_CASE("IPv6 names in the allow-list are whole addresses, and an empty name is never allowed") {
  RunningServer s({.model = kModel, .allowed_hosts = {"fe80::1"}});
  const auto health_with_host = [&](const std::string& host) {
    return status_and_body(
        raw_exchange(s.server.port(), "GET /api/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
  };
  CHECK(health_with_host("[fe80::1]:8080").rfind("200 ", 0) == 0);
  CHECK(health_with_host("[fe80::2]:8080").rfind("421 ", 0) == 0);
  CHECK(health_with_host(":80").rfind("421 ", 0) == 0);  // "::1" once became "" in the list, which this matched
}

TEST_CASE("uploads held at once are bounded over all connections: past the budget an upload gets 503") {
  RunningServer s({.model = kModel, .max_buffered_bytes = 2u << 20});
  const std::string head =
      "POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
      "Content-Length: 3145728\r\n\r\n";     // 3 MiB each, under the 10 MiB upload limit
  const std::string part(1536 * 1024, 'x');  // 1.5 MiB sent by each, the rest withheld
  const int a = connect_to(s.server.port()), b = connect_to(s.server.port());
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  REQUIRE(send_all(a, head + part));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a's 1.5 MiB are held
  send_all(b, head + part);                                     // b would take the total past 2 MiB
  const std::string answer = poll_answer(b, std::chrono::milliseconds(3000));
  CHECK(answer.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(answer.find("the server is receiving too many uploads at once; try again") != std::string::npos);
  ::close(a);
  ::close(b);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a's share goes back when its connection ends
  auto r = s.client().Post("/api/describe", read_file(kSample), "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("the page and every API answer carry nosniff and a CSP that forbids framing; the page's is strict") {
  RunningServer s({.model = kModel});
  httplib::Client c = s.client();
  auto page = c.Get("/");
  REQUIRE(page);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  std::smatch nonce;
  REQUIRE(std::regex_search(csp, nonce, std::regex("script-src 'nonce-([A-Za-z0-9+/=]{24})'")));
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(page->body.find("<script nonce=\"" + nonce[1].str() + "\">") != std::string::npos);
  CHECK(page->body.find("<style nonce=\"" + nonce[1].str() + "\">") != std::string::npos);
  CHECK(page->body.find("<script>") == std::string::npos);
  auto again = c.Get("/");
  REQUIRE(again);
  CHECK(again->get_header_value("Content-Security-Policy") != csp);  // a fresh nonce each time
  auto caption = c.Post("/api/describe", read_file(kSample), "image/jpeg");
  auto missing = c.Get("/nothing-here");
  auto health = c.Get("/api/health");
  for (const auto* r : {&page, &caption, &missing, &health}) {
    REQUIRE(*r);
    CHECK((*r)->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK((*r)->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
  }
}

TEST_CASE("a failure inside a describe is a JSON 500 with no internal text, and the pool survives it") {
  std::atomic<int> failures{2};
  std::string thrown = "internal detail 0x7f3a";
  RunningServer s({.model = kModel, .models = 1, .timeout_seconds = 2, .while_model_out = [&] {
                     const int left = failures--;
                     if (left == 2) throw std::bad_alloc();
                     if (left == 1) throw std::runtime_error(thrown);
                   }});
  httplib::Client c = s.client();
  const std::string jpeg = read_file(kSample);
  for (int i = 0; i < 2; ++i) {
    auto r = c.Post("/api/describe", jpeg, "image/jpeg");
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->body == "{\"error\": \"the server failed on this request; try again\"}");
    for (const auto& [name, value] : r->headers) {
      CHECK(value.find("0x7f3a") == std::string::npos);
      CHECK(name.find("EXCEPTION") == std::string::npos);
    }
  }
  // The one model went back to the pool both times: a describe gets it at once, not 503 after the timeout.
  auto r = c.Post("/api/describe", jpeg, "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(caption_of(r->body).find("yellow triangle") != std::string::npos);
}

TEST_CASE("each worker describes with its share of the cores, not a full team of its own") {
  nn::set_num_threads(2);
  std::atomic<int> team{-1};
  RunningServer s({.model = kModel, .models = 2, .while_model_out = [&] { team = omp_get_max_threads(); }});
  auto r = s.client().Post("/api/describe", read_file(kSample), "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(team == 1);  // 2 threads shared by 2 models
}

TEST_CASE("speech is bounded in text length and in audio seconds, with the reason") {
  RunningServer s({.model = kModel});
  httplib::Client c = s.client();
  auto too_long = c.Get("/api/speech?text=" + std::string(301, 'a'));
  REQUIRE(too_long);
  CHECK(too_long->status == 400);
  CHECK(too_long->body == "{\"error\": \"text longer than 300 bytes\"}");
  std::string digits;  // 290 bytes that say as over a minute of numbers
  for (int i = 0; i < 29; ++i) digits += "1234567890";
  auto too_many_seconds = c.Get("/api/speech?text=" + digits);
  REQUIRE(too_many_seconds);
  CHECK(too_many_seconds->status == 400);
  CHECK(too_many_seconds->body == "{\"error\": \"the text takes longer than 30 s to say\"}");
  auto unreadable = c.Get("/api/speech?text=%D7%A9%D7%9C%D7%95%D7%9D");  // Hebrew: the speech library's reason
  REQUIRE(unreadable);
  CHECK(unreadable->status == 400);
  CHECK(unreadable->body.rfind("{\"error\": \"speech: ", 0) == 0);
  for (const auto& [name, value] : unreadable->headers) CHECK(name.find("EXCEPTION") == std::string::npos);
}

TEST_CASE("stop() returns within 2 s while attackers are connected") {
  std::optional<RunningServer> s;
  s.emplace(captioning::ServerOptions{.model = kModel});
  Attackers attackers(s->server.port(), 8, 100);
  const int uploader = connect_to(s->server.port());  // half a body sent, the rest never comes
  REQUIRE(send_all(uploader, "POST /api/describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500000\r\n\r\nabc"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const auto start = std::chrono::steady_clock::now();
  s.reset();  // stop() and join run()
  CHECK(seconds_since(start) < kSlowBuild * 2.0);
  CHECK(closed_within(uploader, std::chrono::milliseconds(500)));
  ::close(uploader);
}
