// describe_server: the describe web page — open a photo, read its caption, hear it.
//   describe_server [--model BUNDLE] [--host 127.0.0.1] [--port 8080] [--models 2] [--max-upload-mb 10]
// Serves on the loopback interface by default; Ctrl-C stops it.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include <captioning/web/server.h>

namespace {
int usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: describe_server [--model BUNDLE] [--host ADDRESS] [--port N] [--models N] [--max-upload-mb N]\n"
               "Serves the describe page at http://ADDRESS:N/ (default 127.0.0.1:8080, model weights/shapes.nnck).\n");
  return status;
}

bool parse_int(const char* text, long lo, long hi, long& out) {
  char* end = nullptr;
  out = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && out >= lo && out <= hi;
}
}  // namespace

int main(int argc, char** argv) {
  captioning::ServerOptions options{.model = std::string(NN_SOURCE_DIR) + "/weights/shapes.nnck"};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help") return usage(0);
    if (i + 1 >= argc) return std::fprintf(stderr, "describe_server: %s needs a value\n", flag.c_str()), usage(2);
    const char* value = argv[++i];
    long n = 0;
    auto number = [&](long lo, long hi) {
      if (parse_int(value, lo, hi, n)) return true;
      std::fprintf(stderr, "describe_server: %s expects a whole number in [%ld, %ld], got '%s'\n", flag.c_str(), lo, hi, value);
      return false;
    };
    if (flag == "--model") options.model = value;
    else if (flag == "--host") options.host = value;
    else if (flag == "--port") { if (!number(0, 65535)) return 2; options.port = static_cast<int>(n); }
    else if (flag == "--models") { if (!number(1, 64)) return 2; options.models = static_cast<int>(n); }
    else if (flag == "--max-upload-mb") { if (!number(1, 1024)) return 2; options.max_upload_bytes = static_cast<size_t>(n) << 20; }
    else return std::fprintf(stderr, "describe_server: unknown flag %s\n", flag.c_str()), usage(2);
  }
  // SIGINT/SIGTERM are taken by a waiting thread, which stops the server cleanly.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    captioning::DescribeServer server(options);
    std::thread waiter([&] {
      int signal = 0;
      sigwait(&stop_signals, &signal);
      server.stop();
    });
    waiter.detach();
    std::printf("describe_server: http://%s:%d/ (model %s)\n", options.host.c_str(), server.port(),
                options.model.c_str());
    std::fflush(stdout);
    server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "describe_server: %s\n", e.what());
    return 1;
  }
  return 0;
}
