#include "captioning/web/server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>

#include <nn/error.h>

#include "captioning/describer.h"
#include "captioning/speech/embed.h"
#include "captioning/speech/speech.h"

// The page, assembled into the library.
NN_EMBED_FILE(describe_page, DESCRIBE_PAGE_PATH);

namespace captioning {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
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

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Describer>> free_;
  std::string description_;
};

}  // namespace

struct DescribeServer::Impl {
  ServerOptions options;
  DescriberPool pool;
  httplib::Server http;
  int port = 0;

  explicit Impl(const ServerOptions& o) : options(o), pool(o.model, std::max(1, o.models)) {}

  void describe(const httplib::Request& req, httplib::Response& res) {
    int beam = 3;
    if (req.has_param("beam")) {
      const std::string v = req.get_param_value("beam");
      char* end = nullptr;
      const long k = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || k < 1 || k > 8) return send_error(res, 400, "beam must be 1 … 8, got '" + v + "'");
      beam = static_cast<int>(k);
    }
    const httplib::MultipartFormData form_image = req.get_file_value("image");
    const std::string* bytes = &req.body;
    if (req.is_multipart_form_data()) {
      if (!req.has_file("image")) return send_error(res, 400, "the form has no field named 'image'");
      bytes = &form_image.content;
    }
    if (bytes->empty()) return send_error(res, 400, "the request has no image in its body");
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<Describer> describer = pool.take(std::chrono::seconds(options.timeout_seconds));
    if (!describer) return send_error(res, 503, "every model is busy; try again shortly");
    std::vector<Caption> captions;
    try {
      captions = describer->describe({reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size()}, "upload", beam);
    } catch (const nn::Error& e) {
      pool.give_back(std::move(describer));
      return send_error(res, 400, e.what());
    }
    pool.give_back(std::move(describer));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const speech::Options voice;
    const std::string wav = speech::encode_wav(speech::synthesize(captions.front().text, voice), voice.sample_rate);
    std::string json = "{\"caption\": " + json_string(captions.front().text) +
                       ", \"score\": " + std::to_string(captions.front().score) + ", \"alternatives\": [";
    for (size_t i = 0; i < captions.size(); ++i)
      json += std::string(i ? ", " : "") + "{\"caption\": " + json_string(captions[i].text) +
              ", \"score\": " + std::to_string(captions[i].score) + "}";
    json += "], \"seconds\": " + std::to_string(seconds) + ", \"audio\": \"data:audio/wav;base64," + base64(wav) + "\"}";
    res.set_content(json, "application/json");
  }

  void routes() {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(describe_page_begin, describe_page_end), "text/html; charset=utf-8");
    });
    http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"ok\": true, \"model\": " + json_string(pool.description()) + "}", "application/json");
    });
    http.Post("/api/describe", [this](const httplib::Request& req, httplib::Response& res) { describe(req, res); });
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
        send_error(res, 413, "the upload is larger than the limit of " + std::to_string(options.max_upload_bytes >> 20) + " MiB");
      else if (res.status == 404) send_error(res, 404, "no such page");
      else send_error(res, res.status, "request failed");
    });
  }
};

DescribeServer::DescribeServer(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {
  Impl& s = *impl_;
  s.http.new_task_queue = [n = std::max(1, options.threads)] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  s.http.set_payload_max_length(options.max_upload_bytes);
  s.http.set_read_timeout(options.timeout_seconds, 0);
  s.http.set_write_timeout(options.timeout_seconds, 0);
  s.http.set_keep_alive_timeout(options.timeout_seconds);
  s.routes();
  if (options.port == 0) {
    s.port = s.http.bind_to_any_port(options.host);
  } else {
    s.port = s.http.bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (s.port <= 0)
    throw std::runtime_error("describe server: cannot listen on " + options.host + ":" + std::to_string(options.port));
}

DescribeServer::~DescribeServer() { stop(); }
int DescribeServer::port() const { return impl_->port; }
void DescribeServer::run() { impl_->http.listen_after_bind(); }
void DescribeServer::stop() { impl_->http.stop(); }

}  // namespace captioning
