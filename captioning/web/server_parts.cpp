#include "captioning/web/server_parts.h"

#include <cstdio>
#include <random>

#include "captioning/json.h"
#include "captioning/speech/embed.h"
#include "nn/core/threads.h"

// The page, assembled into the library.
NN_EMBED_FILE(describe_page, DESCRIBE_PAGE_PATH);

namespace captioning::web {

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

Answer error_answer(int status, const std::string& message) {
  return {status, "{\"error\": " + json_string(message) + "}"};
}

namespace {
void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
}
}  // namespace

Page::Page(const std::string& model_name, const std::string& describes) {
  std::string page(describe_page_begin, describe_page_end);
  replace_all(page, "{{MODEL}}", html_escape(model_name));
  replace_all(page, "{{DESCRIBES}}", html_escape(describes));
  replace_all(page, "<script>", "<script nonce=\"\x01\">");
  replace_all(page, "<style>", "<style nonce=\"\x01\">");
  for (size_t from = 0;;) {
    const size_t at = page.find('\x01', from);
    parts_.push_back(page.substr(from, at - from));
    if (at == std::string::npos) break;
    from = at + 1;
  }
}

std::pair<std::string, std::string> Page::draw() const {
  std::random_device random;
  std::string seed;
  for (int i = 0; i < 4; ++i) {
    const uint32_t r = random();
    seed.append(reinterpret_cast<const char*>(&r), sizeof r);
  }
  const std::string nonce = base64(seed);
  std::string page = parts_.front();
  for (size_t i = 1; i < parts_.size(); ++i) page += nonce + parts_[i];
  // Only the page's own script and style run; images and audio come from data: and blob: URLs the page makes;
  // it talks only to this server; it cannot be framed.
  const std::string csp = "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce +
                          "'; img-src data: blob:; media-src data: blob:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";
  return {page, csp};
}

DescriberPool::DescriberPool(const std::filesystem::path& model, int count, const DescriberOptions& options)
    : shared_(model, options), free_slots_(std::max(1, count)) {
  description_ = shared_.description();
  describes_ = shared_.describes();
}

DescriberPool::Checkout DescriberPool::take(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return closed_ || free_slots_ > 0; }) || closed_) return {this, nullptr};
  --free_slots_;
  return {this, &shared_};
}

void DescriberPool::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

size_t DescriberPool::available() const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(free_slots_);
}

void DescriberPool::give_back(Describer*) noexcept {
  {
    std::lock_guard lock(mutex_);
    ++free_slots_;
  }
  ready_.notify_one();
}

Workers::Workers(int count, int threads_each) {
  for (int i = 0; i < std::max(1, count); ++i)
    threads_.emplace_back([this, threads_each] {
      const nn::ThreadCountScope share(std::max(1, threads_each));  // this worker's share of the cores
      for (;;) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        auto job = std::move(queue_.front());
        queue_.pop_front();
        const bool cancelled = stopping_;
        lock.unlock();
        job(cancelled);
      }
    });
}

Workers::~Workers() {
  stop();
}

void Workers::post(std::function<void(bool)> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      ready_.notify_one();
      return;
    }
  }
  job(true);
}

void Workers::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace captioning::web
