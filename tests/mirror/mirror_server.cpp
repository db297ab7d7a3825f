// A small HTTP file server on 127.0.0.1 for the loopback-mirror test of scripts/flickr8k.sh: serves the files of one
// folder (GET, with single byte ranges), prints the port it listens on, logs one line per request, and injects the
// faults a real mirror shows: a connection dropped mid-file (--cut) and a slow link (--throttle).
//   mirror_server --root DIR --log FILE [--port N] [--cut FILE:BYTES]… [--throttle FILE:BYTES_PER_S]…
// Log lines: `GET /NAME range=<Range header or -> status=<code>[ cut=<bytes>]`, flushed at once so that the test can
// read them while the server runs. Files are read when asked for: the test may swap them between runs.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path root, log;
  int port = 0;
  std::map<std::string, size_t> cut;       // file → bytes sent by its first GET before the connection is dropped
  std::map<std::string, size_t> throttle;  // file → bytes per second
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "mirror_server: %s\nusage: mirror_server --root DIR --log FILE [--port N] [--cut FILE:BYTES]... "
               "[--throttle FILE:BYTES_PER_S]...\n",
               why.c_str());
  std::exit(2);
}

// "NAME:NUMBER" → (NAME, NUMBER).
std::pair<std::string, size_t> name_and_number(const std::string& option, const std::string& value) {
  size_t colon = value.rfind(':');
  char* end = nullptr;
  unsigned long long n = colon == std::string::npos ? 0 : std::strtoull(value.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || end == value.c_str() + colon + 1 || *end != '\0')
    usage(option + " expects FILE:NUMBER, got '" + value + "'");
  return {value.substr(0, colon), static_cast<size_t>(n)};
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage("missing the value of " + a);
    std::string v = argv[++i];
    if (a == "--root")
      o.root = v;
    else if (a == "--log")
      o.log = v;
    else if (a == "--port")
      o.port = std::atoi(v.c_str());
    else if (a == "--cut")
      o.cut.insert(name_and_number(a, v));
    else if (a == "--throttle")
      o.throttle.insert(name_and_number(a, v));
    else
      usage("unknown option " + a);
  }
  if (o.root.empty() || o.log.empty()) usage("--root and --log are required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::mutex mutex;  // guards the log and the set of files already cut
  std::ofstream log(o.log, std::ios::app);
  if (!log) usage("cannot open the log " + o.log.string());
  std::set<std::string> already_cut;

  httplib::Server server;
  server.Get(R"(/([^/]+))", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const std::string range = req.has_header("Range") ? req.get_header_value("Range") : "-";
    const fs::path file = o.root / name;
    std::error_code ec;
    const size_t size = fs::is_regular_file(file, ec) ? fs::file_size(file, ec) : 0;
    size_t cut = 0;  // 0: no cut
    {
      std::lock_guard lock(mutex);
      if (auto it = o.cut.find(name); it != o.cut.end() && !already_cut.count(name)) {
        already_cut.insert(name);
        cut = it->second;
      }
    }
    int status = 200;
    if (!fs::is_regular_file(file, ec))
      status = 404;
    else if (req.ranges.size() > 1)
      status = 416;  // several ranges: not needed by curl -C -
    else if (req.ranges.size() == 1) {
      // (first, last) with -1 for an open end: "bytes=N-" is (N, -1), "bytes=-N" is (-1, N).
      const auto first = req.ranges[0].first;
      status = first >= 0 && static_cast<size_t>(first) < size ? 206 : 416;
    }
    {
      std::lock_guard lock(mutex);
      log << "GET /" << name << " range=" << range << " status=" << status;
      if (cut > 0) log << " cut=" << cut;
      log << std::endl;
    }
    if (status == 404) {
      res.status = 404;
      res.set_content("not found\n", "text/plain");
      return;
    }
    if (status == 416) {
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      res.set_content("", "text/plain");
      return;
    }
    // The whole file's length: cpp-httplib itself answers a single byte range (206, Content-Range) and asks the
    // provider for just those bytes, offsets counted from the start of the file.
    const size_t rate = o.throttle.count(name) ? o.throttle.at(name) : 0;
    auto sent = std::make_shared<size_t>(0);
    res.set_content_provider(size, "application/octet-stream",
                             [file, cut, rate, sent](size_t offset, size_t length, httplib::DataSink& sink) {
                               std::ifstream in(file, std::ios::binary);
                               // Slow links send small pieces with pauses between them, so that the client sees steady
                               // progress.
                               size_t chunk = rate > 0 ? std::max<size_t>(1, rate / 10) : 64 * 1024;
                               chunk = std::min(chunk, length);
                               if (cut > 0) {
                                 if (*sent >= cut) return false;  // drop the connection mid-file
                                 chunk = std::min(chunk, cut - *sent);
                               }
                               std::vector<char> buffer(chunk);
                               in.seekg(static_cast<std::streamoff>(offset));
                               if (!in.read(buffer.data(), static_cast<std::streamsize>(chunk))) return false;
                               if (rate > 0)
                                 std::this_thread::sleep_for(std::chrono::milliseconds(1000 * chunk / rate));
                               *sent += chunk;
                               return sink.write(buffer.data(), chunk);
                             });
  });

  int port =
      o.port > 0 ? (server.bind_to_port("127.0.0.1", o.port) ? o.port : -1) : server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "mirror_server: cannot listen on 127.0.0.1:%d\n", o.port);
    return 1;
  }
  std::printf("%d\n", port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
