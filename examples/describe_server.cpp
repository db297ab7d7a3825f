// describe_server: the describe web page — open a photo, read its caption, hear it. The model is the photo model
// flickr8k.nnck when scripts/flickr8k.sh has installed it, else the shapes model (see describe --help).
//   describe_server [--model BUNDLE|flickr8k|shapes] [--host 127.0.0.1] [--port 8080] [--models 2] [--max-upload-mb 10]
//                   [--allow-host NAME]
// Serves on the loopback interface by default; Ctrl-C stops it.
#include <captioning/web/server.h>
#include <nn/core/error.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "cli.h"

int main(int argc, char** argv) {
  std::string model = cli::default_model();
  captioning::ServerOptions options{.weights_search = cli::data_folders()};
  int max_upload_mb = static_cast<int>(options.max_upload_bytes >> 20);
  std::string allow_host;
  cli::Parser cli("describe_server",
                  "Serves the describe page at http://ADDRESS:N/: open a photo, read its caption, "
                  "hear it. Ctrl-C stops it.\n"
                  "The default model is the photo model flickr8k.nnck once scripts/flickr8k.sh has installed it;\n"
                  "until then shapes.nnck (synthetic shapes). Models are looked up in $LIBNN_DATA_PATH (folders\n"
                  "separated by ':'), then PREFIX/share/libnn, then the source tree's weights/; a photo model's\n"
                  "Xception weights beside it, in those folders, or in $LIBNN_WEIGHTS_PATH.");
  cli.text("--model", "BUNDLE", model, cli::model_help());
  cli.text("--host", "ADDRESS", options.host, "the address to listen on");
  cli.text("--allow-host", "NAME", allow_host,
           "one more Host name to answer for (other names get 421), besides localhost, 127.0.0.1, ::1 and --host");
  cli.whole("--port", "N", options.port, 0, 65535, "the port, 0 for any free one");
  cli.whole("--models", "N", options.models, 1, 64, "describers loaded, i.e. images captioned at once");
  cli.whole("--max-upload-mb", "N", max_upload_mb, 1, 1024, "the largest upload in MB");
  if (auto status = cli.parse(argc, argv)) return *status;
  const cli::Model chosen = cli::resolve_model(model);
  if (!chosen.error.empty()) return cli.usage_error(chosen.error);
  options.model = chosen.path;
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
    std::unique_ptr<captioning::DescribeServer> loaded;
    try {
      loaded = std::make_unique<captioning::DescribeServer>(options);
    } catch (const nn::Error& e) {  // the model's errors name it (not those of listening)
      if (std::string(e.what()).rfind(options.model.string(), 0) == 0) throw nn::Error(e.what() + chosen.fix);
      throw;
    }
    captioning::DescribeServer& server = *loaded;
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
