// The describe web server over real HTTP on a loopback port: the page, captions of a real image with alternatives
// and audio, uploads in every form clients send, the errors for bad uploads (400, 413, 404), the request log, the
// reason a port cannot be listened on, what the model describes, concurrent clients, and a stalled upload cut off.
#include <arpa/inet.h>
#include <captioning/bundle.h>
#include <captioning/generate.h>
#include <captioning/web/server.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "support/files.h"

namespace fs = std::filesystem;

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
  CHECK(health->body == "{\"ok\": true, \"model\": \"image captioner (96 px)\", \"describes\": \"synthetic shapes\"}");
  CHECK(page->body.find("synthetic shapes") != std::string::npos);
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
    CHECK(health->body ==
          "{\"ok\": true, \"model\": \"caption model over " + extractor + "\", \"describes\": \"photos (Flickr8k)\"}");
    auto page = s.client().Get("/");
    REQUIRE(page);
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
  RunningServer s({.model = kModel, .timeout_seconds = 1});
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
