// The describe server on libmicrohttpd. cpp-httplib (its former base) serves one connection per pool thread with
// a read timeout that restarts on every byte, so eight clients trickling headers held every thread; it cannot
// evict an idle connection. Here one epoll thread holds every connection, uploads arrive piece by piece (the limit
// is counted as they come, chunked or not), describes and speech run on worker threads while their connection is
// suspended, and ConnectionGuard enforces the deadlines libmicrohttpd lacks.
#include "captioning/web/server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <nn/core/error.h>
#include <nn/core/threads.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "captioning/generate.h"
#include "captioning/json.h"
#include "captioning/speech/speech.h"
#include "captioning/web/connection_guard.h"
#include "captioning/web/server_parts.h"

namespace captioning {
namespace {

using Clock = std::chrono::steady_clock;
using captioning::json_number;
using captioning::json_string;
using web::Answer;
using web::error_answer;

constexpr size_t kMaxSpeechBytes = 300;  // a caption is under 100; this bounds the work one request can ask
constexpr int kMaxSpeechSeconds = 30;

// A socket listening on host:port with SO_REUSEADDR only: SO_REUSEPORT would let a second server bind a port
// already served and silently take part of its connections; SO_REUSEADDR alone still allows a quick restart over
// connections in TIME_WAIT. Throws nn::Error with the reason.
int listen_on(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int e = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found))
    nn::fail("describe server", "cannot listen on " + where + ": " + ::gai_strerror(e));
  std::string reason = "no address to bind";
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      reason = std::system_category().message(errno);
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      reason = std::system_category().message(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) nn::fail("describe server", "cannot listen on " + where + ": " + reason);
  return fd;
}

int port_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// The name in a Host header, lower-cased, without its port: "LocalHost:8080" → "localhost", "[::1]:80" → "::1";
// an unbracketed name with several colons is an IPv6 address with no port ("fe80::1", as --host gives it).
std::string host_name(std::string host) {
  if (!host.empty() && host.front() == '[')
    host = host.substr(1, host.find(']') - 1);
  else if (const size_t colon = host.find(':'); colon != std::string::npos && host.find(':', colon + 1) == host.npos)
    host.resize(colon);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

enum class Route { page, health, describe, speech, not_found, wrong_method };

Route route_of(const std::string& method, const std::string& path) {
  const bool get = method == "GET" || method == "HEAD";
  if (path == "/") return get ? Route::page : Route::wrong_method;
  if (path == "/api/health") return get ? Route::health : Route::wrong_method;
  if (path == "/api/speech") return get ? Route::speech : Route::wrong_method;
  if (path == "/api/describe") return method == "POST" ? Route::describe : Route::wrong_method;
  return Route::not_found;
}

// One request as it arrives: its body counted and kept (or its multipart field "image" picked out), then its answer.
struct Request {
  std::string method, path;
  Route route = Route::not_found;
  Clock::time_point start = Clock::now();
  std::string bytes;         // the image
  size_t received = 0;       // body bytes, as sent (multipart framing included)
  std::string upload_error;  // a malformed form
  MHD_PostProcessor* form = nullptr;
  enum class Field { before, image, after } field = Field::before;  // only the first "image" field counts
  std::optional<Answer> answer;                                     // set by a worker while suspended
  int status = 0;                                                   // the answer sent, for the log
  bool refused = false;  // answered 413/503 mid-upload: the rest of the body is dropped
  size_t buffered = 0;   // bytes of this request counted in Impl::buffered

  ~Request() {
    if (form) MHD_destroy_post_processor(form);
  }
};

MHD_Result on_form_field(void* cls, MHD_ValueKind, const char* key, const char*, const char*, const char*,
                         const char* data, uint64_t offset, size_t size) {
  auto& r = *static_cast<Request*>(cls);
  const bool image = key && std::strcmp(key, "image") == 0;
  if (r.field == Request::Field::image && (!image || offset == 0))
    r.field = Request::Field::after;
  else if (r.field == Request::Field::before && image)
    r.field = Request::Field::image;
  if (r.field == Request::Field::image) r.bytes.append(data, size);
  return MHD_YES;
}

std::optional<std::string> argument(MHD_Connection* c, const char* key) {
  const char* value = nullptr;
  if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, std::strlen(key), &value, nullptr) != MHD_YES)
    return std::nullopt;
  return value ? value : "";
}

// ?beam=K: 1 … kMaxBeam (the command line's range), or the reason it is not.
std::optional<int> beam_of(MHD_Connection* c, std::string& error) {
  const std::optional<std::string> v = argument(c, "beam");
  if (!v) return 3;
  char* end = nullptr;
  const long k = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || k < 1 || k > kMaxBeam) {
    error = "beam must be 1 … " + std::to_string(kMaxBeam) + ", got '" + *v + "'";
    return std::nullopt;
  }
  return static_cast<int>(k);
}

Answer speech_answer(const std::string& text) {
  if (text.size() > kMaxSpeechBytes)
    return error_answer(400, "text longer than " + std::to_string(kMaxSpeechBytes) + " bytes");
  const speech::Options voice;
  std::vector<int16_t> pcm;
  try {
    pcm = speech::synthesize(text, voice);
  } catch (const nn::Error& e) {  // the speech library's reason, written for users
    return error_answer(400, e.what());
  }
  if (pcm.size() > static_cast<size_t>(kMaxSpeechSeconds) * voice.sample_rate)
    return error_answer(400, "the text takes longer than " + std::to_string(kMaxSpeechSeconds) + " s to say");
  return {200, speech::encode_wav(pcm, voice.sample_rate), "audio/wav"};
}

std::string captions_json(const std::vector<Caption>& captions, double seconds, const std::string& wav) {
  std::string json = "{\"caption\": " + json_string(captions.front().text) +
                     ", \"score\": " + json_number(captions.front().score) + ", \"alternatives\": [";
  for (size_t i = 0; i < captions.size(); ++i)
    json += std::string(i ? ", " : "") + "{\"caption\": " + json_string(captions[i].text) +
            ", \"score\": " + json_number(captions[i].score) + "}";
  return json + "], \"seconds\": " + json_number(seconds) + ", \"audio\": \"data:audio/wav;base64," + web::base64(wav) +
         "\"}";
}

}  // namespace

void log_to_stderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

struct DescribeServer::Impl {
  ServerOptions options;
  web::DescriberPool pool;
  web::Page page;
  ConnectionGuard guard;
  std::atomic<size_t> buffered{0};  // upload bytes held, every request together (ServerOptions::max_buffered_bytes)
  web::Workers workers;
  std::vector<std::string> hosts;  // allowed Host names
  int listen_fd = -1;
  int port = 0;
  MHD_Daemon* daemon = nullptr;
  std::mutex mutex;  // run() and stop()
  std::condition_variable stopped_changed;
  bool stopped = false;

  explicit Impl(const ServerOptions& o)
      : options(o),
        pool(o.model, std::max(1, o.models), {.weights_search = o.weights_search}),
        page(pool.name(), pool.describes()),
        guard(Deadlines{.headers = std::chrono::seconds(o.header_seconds),
                        .body_grace = std::chrono::seconds(o.header_seconds),
                        .min_body_bytes_per_second = o.min_upload_bytes_per_second,
                        .max_connections = static_cast<size_t>(std::max(1, o.max_connections))}),
        // Each model's requests get an equal share of the cores, instead of every worker starting a full team.
        workers(o.threads, nn::num_threads() / std::max(1, o.models)) {
    hosts = {"localhost", "127.0.0.1", "::1", host_name(o.host)};
    for (const std::string& h : o.allowed_hosts) hosts.push_back(host_name(h));
    listen_fd = listen_on(o.host, o.port);
    port = port_of(listen_fd);
  }

  // Every answer: JSON or the page, never sniffed as anything else, never framed, never cached.
  static std::vector<std::pair<const char*, std::string>> headers_of(const Answer& a, const std::string& csp) {
    return {{"Content-Type", a.type},
            {"X-Content-Type-Options", "nosniff"},
            {"X-Frame-Options", "DENY"},
            {"Referrer-Policy", "no-referrer"},
            {"Cache-Control", "no-store"},
            {"Content-Security-Policy", csp.empty() ? "default-src 'none'; frame-ancestors 'none'" : csp}};
  }

  MHD_Result send(MHD_Connection* c, Request& r, const Answer& a, const std::string& csp = {}) {
    MHD_Response* response =
        MHD_create_response_from_buffer(a.body.size(), const_cast<char*>(a.body.data()), MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    for (const auto& [name, value] : headers_of(a, csp)) MHD_add_response_header(response, name, value.c_str());
    r.status = a.status;
    const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned>(a.status), response);
    MHD_destroy_response(response);
    return queued;
  }

  // 413 in the middle of a body: libmicrohttpd queues answers only before a body or after it, so this one is
  // written to the socket directly, the sending side closed, and the rest of the body read and dropped for a
  // moment (ConnectionGuard's linger) so that a client still writing reads the answer rather than a reset.
  MHD_Result refuse_upload(MHD_Connection* c, Request& r, const Answer& a) {
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + std::string(MHD_get_reason_phrase_for(a.status)) +
                       "\r\nConnection: close\r\nContent-Length: " + std::to_string(a.body.size()) + "\r\n";
    for (const auto& [name, value] : headers_of(a, {})) head += std::string(name) + ": " + value + "\r\n";
    const std::string raw = head + "\r\n" + a.body;
    const int fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
    (void)::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL | MSG_DONTWAIT);  // a fresh socket buffer holds it
    ::shutdown(fd, SHUT_WR);
    r.status = a.status;
    r.refused = true;
    drop_upload(r);
    guard.lingering(c);
    return MHD_YES;
  }

  // The request's upload is no longer needed: its memory and its share of the budget go back.
  void drop_upload(Request& r) {
    r.bytes.clear();
    r.bytes.shrink_to_fit();
    buffered -= std::exchange(r.buffered, 0);
  }

  std::optional<Answer> host_refused(MHD_Connection* c) const {
    const char* host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host) return std::nullopt;  // HTTP/1.0 (libmicrohttpd refuses HTTP/1.1 without one): no browser
    if (std::find(hosts.begin(), hosts.end(), host_name(host)) != hosts.end()) return std::nullopt;
    return error_answer(421, "this server does not answer for the host '" + std::string(host) + "'; use " +
                                 options.host + ":" + std::to_string(port));
  }

  Answer too_large() const {
    return error_answer(
        413, "the upload is larger than the limit of " + std::to_string(options.max_upload_bytes >> 20) + " MiB");
  }

  // The first call for a request: its headers are in.
  MHD_Result begin(MHD_Connection* c, Request& r) {
    guard.request_began(c);
    if (auto refused = host_refused(c)) return send(c, r, *refused);
    switch (r.route) {
      case Route::page: {
        auto [html, csp] = page.draw();
        return send(c, r, {200, html, "text/html; charset=utf-8"}, csp);
      }
      case Route::health:
        return send(c, r,
                    {200, "{\"ok\": true, \"model\": " + json_string(pool.description()) + ", \"name\": " +
                              json_string(pool.name()) + ", \"describes\": " + json_string(pool.describes()) + "}"});
      case Route::not_found:
        return send(c, r, error_answer(404, "no such page"));
      case Route::wrong_method:
        return send(c, r, error_answer(405, r.method + " is not allowed on " + r.path));
      case Route::speech:
        return MHD_YES;
      case Route::describe:
        break;
    }
    // A declared length over the limit is refused before a byte of the body is read; a client waiting for
    // "100 Continue" then sends none.
    const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (length && std::strtoull(length, nullptr, 10) > options.max_upload_bytes)
      return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect") ? send(c, r, too_large())
                                                                       : refuse_upload(c, r, too_large());
    const char* type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (type && std::strncmp(type, "multipart/form-data", 19) == 0) {
      r.form = MHD_create_post_processor(c, 64 * 1024, on_form_field, &r);
      if (!r.form) return send(c, r, error_answer(400, "the multipart form has no boundary"));
    }
    return MHD_YES;
  }

  // A piece of the body: counted before it is kept, so no transfer encoding gets past the limit.
  MHD_Result receive(MHD_Connection* c, Request& r, const char* data, size_t n) {
    guard.body_read(c, n);
    if (r.refused) return MHD_YES;
    r.received += n;
    if (r.received > options.max_upload_bytes) return refuse_upload(c, r, too_large());
    if (r.route != Route::describe) return MHD_YES;  // a GET's body is ignored
    if (buffered.fetch_add(n) + n > options.max_buffered_bytes) {
      buffered -= n;
      return refuse_upload(c, r, error_answer(503, "the server is receiving too many uploads at once; try again"));
    }
    r.buffered += n;
    if (!r.form)
      r.bytes.append(data, n);
    else if (r.upload_error.empty() && MHD_post_process(r.form, data, n) != MHD_YES)
      r.upload_error = "the multipart form is malformed";
    return MHD_YES;
  }

  // The whole request is in: answer what needs no model at once, hand the rest to a worker.
  MHD_Result finish(MHD_Connection* c, Request& r) {
    if (r.refused) return MHD_NO;                // answered already: close
    if (r.answer) return send(c, r, *r.answer);  // a worker's answer, after resume
    std::string error;
    const std::optional<int> beam = beam_of(c, error);
    if (r.route == Route::describe) {
      if (r.form && r.upload_error.empty() && r.field == Request::Field::before)
        r.upload_error = "the form has no field named 'image'";
      if (!r.upload_error.empty()) return send(c, r, error_answer(400, r.upload_error));
      if (!beam) return send(c, r, error_answer(400, error));
      if (r.bytes.empty()) return send(c, r, error_answer(400, "the request has no image in its body"));
    }
    std::function<Answer()> work = [this, &r, beam = beam.value_or(3), queued = Clock::now()] {
      return describe(r.bytes, beam, queued);
    };
    if (r.route == Route::speech) work = [text = argument(c, "text").value_or("")] { return speech_answer(text); };
    guard.busy(c);
    MHD_suspend_connection(c);
    workers.post([this, c, &r, work = std::move(work)](bool cancelled) {
      r.answer = cancelled ? error_answer(503, "the server is stopping") : answer_of(work);
      drop_upload(r);  // the image is not needed for sending the answer, however slowly the client reads it
      MHD_resume_connection(c);
    });
    return MHD_YES;
  }

  // The work's answer; whatever it throws becomes a JSON answer too, with no internal text in it.
  static Answer answer_of(const std::function<Answer()>& work) {
    try {
      return work();
    } catch (const nn::Error& e) {  // the library's reasons are written for users: "upload: is not a JPEG …"
      return error_answer(400, e.what());
    } catch (...) {
      return error_answer(500, "the server failed on this request; try again");
    }
  }

  Answer describe(const std::string& bytes, int beam, Clock::time_point queued) {
    const Clock::time_point start = Clock::now();
    std::vector<Caption> captions;
    {
      web::DescriberPool::Checkout describer =
          pool.take(std::chrono::seconds(options.timeout_seconds) - (start - queued));
      if (!describer) return error_answer(503, "every model is busy; try again shortly");
      if (options.while_model_out) options.while_model_out();
      captions =
          describer->describe({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, "upload", beam);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const speech::Options voice;
    std::string wav;
    try {
      wav = speech::encode_wav(speech::synthesize(captions.front().text, voice), voice.sample_rate);
    } catch (const nn::Error& e) {
      return error_answer(500, "the caption could not be spoken (" + std::string(e.what()) + ")");
    }
    return {200, captions_json(captions, seconds, wav)};
  }

  // libmicrohttpd's callbacks are C: nothing may be thrown through them (std::bad_alloc included); a request that
  // fails here is closed.
  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char* version,
                               const char* data, size_t* size, void** request) noexcept {
    try {
      return handle(*static_cast<Impl*>(cls), c, url, method, version, data, size, request);
    } catch (...) {
      return MHD_NO;
    }
  }

  static MHD_Result handle(Impl& s, MHD_Connection* c, const char* url, const char* method, const char*,
                           const char* data, size_t* size, void** request) {
    if (!*request) {
      auto* r = new Request{.method = method, .path = url};
      r->route = route_of(r->method, r->path);
      *request = r;
      return s.begin(c, *r);
    }
    Request& r = *static_cast<Request*>(*request);
    if (*size == 0) return s.finish(c, r);
    const size_t n = *size;
    *size = 0;
    return s.receive(c, r, data, n);
  }

  // After the answer went out (or the client left): one log line, and the connection is idle again.
  static void on_completed(void* cls, MHD_Connection* c, void** request, MHD_RequestTerminationCode) noexcept {
    Impl& s = *static_cast<Impl*>(cls);
    std::unique_ptr<Request> r(static_cast<Request*>(*request));
    *request = nullptr;
    s.guard.request_done(c);
    if (!r) return;
    s.buffered -= std::exchange(r->buffered, 0);
    if (!r->status || !s.options.log) return;
    try {
      const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - r->start).count();
      s.options.log(r->method + " " + r->path + " " + std::to_string(r->status) + " " + std::to_string(ms) + " ms");
    } catch (...) {  // a log that fails loses its line, not the server
    }
  }

  static void on_connection(void* cls, MHD_Connection* c, void**, MHD_ConnectionNotificationCode code) {
    Impl& s = *static_cast<Impl*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
      s.guard.opened(c, MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd);
    else
      s.guard.closed(c);
  }

  void start() {
    const unsigned hard_limit = static_cast<unsigned>(std::max(1, options.max_connections)) + 64;
    daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, nullptr,
                              nullptr, &Impl::on_request, this, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                              MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed, this, MHD_OPTION_NOTIFY_CONNECTION,
                              &Impl::on_connection, this, MHD_OPTION_CONNECTION_TIMEOUT,
                              static_cast<unsigned>(std::max(1, options.idle_seconds)), MHD_OPTION_CONNECTION_LIMIT,
                              hard_limit, MHD_OPTION_END);
    if (!daemon) nn::fail("describe server", "cannot serve on " + options.host + ":" + std::to_string(port));
  }
};

DescribeServer::DescribeServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {}

DescribeServer::~DescribeServer() {
  stop();
}

int DescribeServer::port() const {
  return impl_->port;
}

// The event thread serves; this one sweeps the deadlines ten times a second until stop().
void DescribeServer::run() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  if (s.stopped) return;
  s.start();
  while (!s.stopped) {
    s.stopped_changed.wait_for(lock, std::chrono::milliseconds(100));
    s.guard.sweep(Clock::now());
  }
}

// No new connections; the workers answer what they hold (queued requests: 503) and resume it, since
// libmicrohttpd cannot stop with a connection suspended; then every connection is closed.
void DescribeServer::stop() {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  if (s.stopped) return;
  s.stopped = true;
  if (s.daemon) MHD_quiesce_daemon(s.daemon);
  s.pool.close();
  s.workers.stop();
  if (s.daemon) MHD_stop_daemon(s.daemon);
  s.daemon = nullptr;
  ::close(s.listen_fd);
  s.stopped_changed.notify_all();
}

}  // namespace captioning
