// describe_server: the describe web page — open a photo, read its caption, hear it.
//   describe_server [--model BUNDLE] [--host 127.0.0.1] [--port 8080] [--models 2] [--max-upload-mb 10]
//                   [--allow-host NAME]
// Serves on the loopback interface by default; Ctrl-C stops it.
#include <captioning/web/server.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "cli.h"

int main(int argc, char** argv) {
  const cli::DataFile shapes = cli::find_data_file("shapes.nnck");
  captioning::ServerOptions options{.model = shapes.found};
  int max_upload_mb = static_cast<int>(options.max_upload_bytes >> 20);
  std::string allow_host;
  cli::Parser cli("describe_server",
                  "Serves the describe page at http://ADDRESS:N/: open a photo, read its caption, "
                  "hear it. Ctrl-C stops it.");
  cli.text("--model", "BUNDLE", options.model,
           shapes.found.empty() ? "the captioning bundle (required: none found at " + shapes.looked_text() + ")"
                                : "the captioning bundle");
  cli.text("--host", "ADDRESS", options.host, "the address to listen on");
  cli.text("--allow-host", "NAME", allow_host,
           "one more Host name to answer for (other names get 421), besides localhost, 127.0.0.1, ::1 and --host");
  cli.whole("--port", "N", options.port, 0, 65535, "the port, 0 for any free one");
  cli.whole("--models", "N", options.models, 1, 64, "describers loaded, i.e. images captioned at once");
  cli.whole("--max-upload-mb", "N", max_upload_mb, 1, 1024, "the largest upload in MB");
  if (auto status = cli.parse(argc, argv)) return *status;
  if (options.model.empty())
    return cli.usage_error("no default model at " + shapes.looked_text() + "; pass --model BUNDLE");
  options.max_upload_bytes = static_cast<size_t>(max_upload_mb) << 20;
  if (!allow_host.empty()) options.allowed_hosts.push_back(allow_host);
  options.log = captioning::log_to_stderr;  // one line per request
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
    return cli.error(e);
  }
  return 0;
}
