// The describe web server over real HTTP on a loopback port: the page, captions of a real image with alternatives
// and audio, the errors for bad uploads (400, 413, 404), concurrent clients, and a stalled upload cut off.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <captioning/web/server.h>

namespace fs = std::filesystem;

namespace {
std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A server on a free loopback port, serving from a thread for the test's lifetime.
struct RunningServer {
  captioning::DescribeServer server;
  std::thread thread;
  explicit RunningServer(captioning::ServerOptions o) : server((o.port = 0, o)) {
    thread = std::thread([this] { server.run(); });
    httplib::Client probe("127.0.0.1", server.port());
    for (int i = 0; i < 100 && !probe.Get("/api/health"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", server.port()); }
};

const fs::path kModel = fs::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck";
const fs::path kSample = fs::path(NN_SOURCE_DIR) / "weights" / "sample_shapes.jpg";

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

  auto bad_beam = c.Post("/api/describe?beam=0", jpeg, "image/jpeg");
  REQUIRE(bad_beam);
  CHECK(bad_beam->status == 400);
  CHECK(bad_beam->body == "{\"error\": \"beam must be 1 … 8, got '0'\"}");

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

TEST_CASE("uploads over the limit get 413 with a JSON reason") {
  RunningServer s({.model = kModel, .max_upload_bytes = 1u << 20, .timeout_seconds = 5});
  httplib::Client c = s.client();
  auto r = c.Post("/api/describe", std::string((1u << 20) + 1, 'x'), "image/jpeg");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body == "{\"error\": \"the upload is larger than the limit of 1 MiB\"}");
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
    if (i % 2) CHECK(results[static_cast<size_t>(i)] == "400 ");
    else CHECK(results[static_cast<size_t>(i)] == results[0]);
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
  const std::string partial = "POST /api/describe HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nabc";
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
  CHECK(n == 0);         // the server closed the connection …
  CHECK(waited < 5.0);   // … after its 1 s read timeout, long before our own 10 s
}
