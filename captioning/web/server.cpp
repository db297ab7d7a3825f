#include "captioning/web/server.h"

#include <httplib.h>
#include <netdb.h>
#include <nn/error.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "captioning/describer.h"
#include "captioning/generate.h"
#include "captioning/speech/embed.h"
#include "captioning/speech/speech.h"

// The page, assembled into the library.
NN_EMBED_FILE(describe_page, DESCRIBE_PAGE_PATH);

namespace captioning {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string base64(const std::string& bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content("{\"error\": " + json_string(message) + "}", "application/json");
}

// A fixed set of describers handed out one request at a time.
class DescriberPool {
 public:
  DescriberPool(const std::filesystem::path& model, int count) {
    for (int i = 0; i < count; ++i) free_.push_back(std::make_unique<Describer>(model));
    description_ = free_.front()->description();
    describes_ = free_.front()->describes();
  }
  // Waits up to `timeout` for a free describer; nullptr when none came free.
  std::unique_ptr<Describer> take(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !free_.empty(); })) return nullptr;
    auto d = std::move(free_.front());
    free_.pop_front();
    return d;
  }
  void give_back(std::unique_ptr<Describer> d) {
    {
      std::lock_guard lock(mutex_);
      free_.push_back(std::move(d));
    }
    ready_.notify_one();
  }
  const std::string& description() const { return description_; }
  const std::string& describes() const { return describes_; }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Describer>> free_;
  std::string description_;
  std::string describes_;
};

// "&<>\"" escaped, for text put into the page.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// The page with what the model describes filled in where it says {{DESCRIBES}}.
std::string page_for(const std::string& describes) {
  std::string page(describe_page_begin, describe_page_end);
  const std::string marker = "{{DESCRIBES}}";
  for (size_t at; (at = page.find(marker)) != std::string::npos;)
    page.replace(at, marker.size(), html_escape(describes));
  return page;
}

// ?beam=K: 1 … kMaxBeam (the command line's range), or nullopt with the reason in `error`.
std::optional<int> beam_of(const httplib::Request& req, std::string& error) {
  if (!req.has_param("beam")) return 3;
  const std::string v = req.get_param_value("beam");
  char* end = nullptr;
  const long k = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || k < 1 || k > kMaxBeam) {
    error = "beam must be 1 … " + std::to_string(kMaxBeam) + ", got '" + v + "'";
    return std::nullopt;
  }
  return static_cast<int>(k);
}

// The uploaded image: the multipart field "image", or else the whole body whatever its Content-Type. The body is
// read here rather than by httplib, which would parse an application/x-www-form-urlencoded body (curl's default
// for --data-binary) as a form and refuse any over 8 KiB. False when reading failed (res.status says why: 413
// over the limit, or the connection broke) or a form has no "image" field (then `error` says so).
bool read_upload(const httplib::Request& req, const httplib::ContentReader& read, std::string& bytes,
                 std::string& error) {
  if (!req.is_multipart_form_data())
    return read([&](const char* data, size_t n) { return bytes.append(data, n), true; });
  enum class Field { before, image, after } field = Field::before;  // only the first "image" field counts
  const bool ok = read(
      [&](const httplib::MultipartFormData& f) {
        if (field == Field::image)
          field = Field::after;
        else if (field == Field::before && f.name == "image")
          field = Field::image;
        return true;
      },
      [&](const char* data, size_t n) {
        if (field == Field::image) bytes.append(data, n);
        return true;
      });
  if (ok && field == Field::before) error = "the form has no field named 'image'";
  return ok && field != Field::before;
}

// httplib's default SO_REUSEPORT would let a second server bind a port already served and silently take part of
// its connections; SO_REUSEADDR alone still allows a quick restart over connections in TIME_WAIT.
void reuse_address_only(socket_t fd) {
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// The reason binding host:port fails, found by binding a probe socket as httplib would: its bind_to_port only
// returns false.
std::string why_no_bind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int e = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found)) return ::gai_strerror(e);
  std::string reason = "no address to bind";
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) {
      reason = std::system_category().message(errno);
      continue;
    }
    reuse_address_only(fd);
    const bool bound = ::bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    reason = bound ? "the address was busy for a moment; try again" : std::system_category().message(errno);
    ::close(fd);
    if (!bound) break;
  }
  ::freeaddrinfo(found);
  return reason;
}

// When routing of the request being served on this thread began (httplib serves a connection on one thread).
thread_local std::optional<std::chrono::steady_clock::time_point> request_start;

}  // namespace

void log_to_stderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

struct DescribeServer::Impl {
  ServerOptions options;
  DescriberPool pool;
  std::string page;
  httplib::Server http;
  int port = 0;

  explicit Impl(const ServerOptions& o)
      : options(o), pool(o.model, std::max(1, o.models)), page(page_for(pool.describes())) {}

  void describe(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    std::string beam_error, upload_error, bytes;
    const std::optional<int> beam = beam_of(req, beam_error);
    // The body is read even for a bad beam, so the connection stays usable for the client's next request.
    if (!read_upload(req, read, bytes, upload_error)) {
      if (!upload_error.empty()) send_error(res, 400, upload_error);
      return;  // else httplib set the status (413, 400) and the error handler writes the reason
    }
    if (!beam) return send_error(res, 400, beam_error);
    if (bytes.empty()) return send_error(res, 400, "the request has no image in its body");
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<Describer> describer = pool.take(std::chrono::seconds(options.timeout_seconds));
    if (!describer) return send_error(res, 503, "every model is busy; try again shortly");
    std::vector<Caption> captions;
    try {
      captions =
          describer->describe({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, "upload", *beam);
    } catch (const nn::Error& e) {
      pool.give_back(std::move(describer));
      return send_error(res, 400, e.what());
    }
    pool.give_back(std::move(describer));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    res.set_content(captions_json(captions, seconds), "application/json");
  }

  static std::string captions_json(const std::vector<Caption>& captions, double seconds) {
    const speech::Options voice;
    const std::string wav = speech::encode_wav(speech::synthesize(captions.front().text, voice), voice.sample_rate);
    std::string json = "{\"caption\": " + json_string(captions.front().text) +
                       ", \"score\": " + std::to_string(captions.front().score) + ", \"alternatives\": [";
    for (size_t i = 0; i < captions.size(); ++i)
      json += std::string(i ? ", " : "") + "{\"caption\": " + json_string(captions[i].text) +
              ", \"score\": " + std::to_string(captions[i].score) + "}";
    return json + "], \"seconds\": " + std::to_string(seconds) + ", \"audio\": \"data:audio/wav;base64," + base64(wav) +
           "\"}";
  }

  void routes() {
    http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(page, "text/html; charset=utf-8");
    });
    http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"ok\": true, \"model\": " + json_string(pool.description()) +
                          ", \"describes\": " + json_string(pool.describes()) + "}",
                      "application/json");
    });
    http.Post("/api/describe", [this](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& read) { describe(req, res, read); });
    http.Get("/api/speech", [](const httplib::Request& req, httplib::Response& res) {
      const std::string text = req.get_param_value("text");
      if (text.size() > 2000) return send_error(res, 400, "text longer than 2000 bytes");
      try {
        const speech::Options voice;
        res.set_content(speech::encode_wav(speech::synthesize(text, voice), voice.sample_rate), "audio/wav");
      } catch (const std::invalid_argument& e) {
        send_error(res, 400, e.what());
      }
    });
    // httplib answers oversized bodies (413) and unknown paths (404) itself; give them JSON bodies too.
    http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413)
        send_error(res, 413,
                   "the upload is larger than the limit of " + std::to_string(options.max_upload_bytes >> 20) + " MiB");
      else if (res.status == 404)
        send_error(res, 404, "no such page");
      else
        send_error(res, res.status, "request failed");
    });
  }

  // One line per request to options.log: "POST /api/describe 200 104 ms".
  void request_log() {
    if (!options.log) return;
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      request_start = std::chrono::steady_clock::now();
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      // A request refused before routing (a malformed request line) has no start: it took no time of ours.
      const auto now = std::chrono::steady_clock::now();
      const long long ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - request_start.value_or(now)).count();
      request_start.reset();
      options.log(req.method + " " + req.path + " " + std::to_string(res.status) + " " + std::to_string(ms) + " ms");
    });
  }

  void bind() {
    const std::string where = options.host + ":" + std::to_string(options.port);
    if (options.port == 0)
      port = http.bind_to_any_port(options.host);
    else
      port = http.bind_to_port(options.host, options.port) ? options.port : -1;
    if (port <= 0)
      nn::fail("describe server", "cannot listen on " + where + ": " + why_no_bind(options.host, options.port));
  }
};

DescribeServer::DescribeServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {
  Impl& s = *impl_;
  s.http.new_task_queue = [n = std::max(1, options.threads)] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  s.http.set_payload_max_length(options.max_upload_bytes);
  s.http.set_read_timeout(options.timeout_seconds, 0);
  s.http.set_write_timeout(options.timeout_seconds, 0);
  s.http.set_keep_alive_timeout(options.timeout_seconds);
  s.http.set_socket_options(reuse_address_only);
  s.routes();
  s.request_log();
  s.bind();
}

DescribeServer::~DescribeServer() {
  stop();
}
int DescribeServer::port() const {
  return impl_->port;
}
void DescribeServer::run() {
  impl_->http.listen_after_bind();
}
void DescribeServer::stop() {
  impl_->http.stop();
}

}  // namespace captioning
