// Pieces of the describe server that need no HTTP library (internal to nn::describe_web): JSON and base64 text,
// the page with its CSP nonce, the model pool with its checkout guard, and the worker threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "captioning/describer.h"

namespace captioning::web {

std::string base64(const std::string& bytes);
std::string html_escape(const std::string& s);

// An answer: status, body and its Content-Type.
struct Answer {
  int status = 200;
  std::string body;
  std::string type = "application/json";
};
Answer error_answer(int status, const std::string& message);

// The page with which model answers (its file name) and what it describes filled in, and its inline <script> and
// <style> marked with a nonce that each answer draws afresh, so its Content-Security-Policy can forbid every other
// script and style.
class Page {
 public:
  Page(const std::string& model_name, const std::string& describes);
  // The page and the CSP that goes with it.
  std::pair<std::string, std::string> draw() const;

 private:
  std::vector<std::string> parts_;  // the page split where the nonce goes
};

// A fixed set of describers handed out one request at a time.
// One Describer, shared read-only by every request (its models stay in eval mode; inference writes nothing in
// them), and `count` inference slots: at most that many describes run at once. A checkout is a slot.
class DescriberPool {
 public:
  // A slot checked out of the pool. It goes back when the checkout ends, whatever ends it (an answer, an exception
  // thrown while it is out), so the pool never shrinks.
  class Checkout {
   public:
    Checkout(DescriberPool* pool, Describer* d) : pool_(pool), d_(d) {}
    Checkout(const Checkout&) = delete;
    Checkout& operator=(const Checkout&) = delete;
    ~Checkout() {
      if (d_) pool_->give_back(d_);
    }
    explicit operator bool() const { return d_ != nullptr; }
    Describer* operator->() const { return d_; }

   private:
    DescriberPool* pool_;
    Describer* d_;
  };

  // `options`: where a Flickr8k bundle's Xception weights are looked for (DescriberOptions).
  DescriberPool(const std::filesystem::path& model, int count, const DescriberOptions& options = {});
  // Waits up to `timeout` for a free describer; an empty checkout when none came free or the pool was closed.
  Checkout take(std::chrono::steady_clock::duration timeout);
  // Wakes every waiting take() empty-handed, and every later one: the server is stopping.
  void close();
  size_t available() const;
  const std::string& description() const { return description_; }
  const std::string& describes() const { return describes_; }
  const std::string& name() const { return shared_.name(); }

 private:
  void give_back(Describer* d) noexcept;

  Describer shared_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  bool closed_ = false;
  int free_slots_ = 0;  // giving a slot back is a count: it cannot fail
  std::string description_;
  std::string describes_;
};

// Threads that run jobs off the event thread. A job gets `true` when the server stops before it could run.
class Workers {
 public:
  // `count` threads, each running libnn work with `threads_each` OpenMP threads (nn::ThreadCountScope).
  Workers(int count, int threads_each);
  ~Workers();
  void post(std::function<void(bool cancelled)> job);
  // Lets running jobs finish, cancels the queued ones, joins. Jobs posted afterwards run at once, cancelled.
  void stop();

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void(bool)>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace captioning::web
