// cli: the one command-line convention of every program in examples/ — a tiny argparse.
//
//   cli::Parser cli("describe", "Prints one caption per image.");
//   cli.positionals("IMAGE", images, "JPEG or PNG images");
//   cli.whole("--beam", "K", beam, 1, captioning::kMaxBeam, "beam width, 1 is greedy");
//   cli.flag("--json", json, "print a JSON array");
//   if (auto status = cli.parse(argc, argv)) return *status;
//
// Every option is bound to a variable; its value at declaration is the default that --help shows. parse() then
// behaves the same in every program:
//   -h, --help   usage, every option with its meaning and default, on stdout; exit status 0
//   --version    "PROGRAM (libnn) X.Y.Z" on stdout (nn::version()); exit status 0
//   a usage error (unknown option, with the closest known one suggested; missing value; a number out of range;
//   missing or extra arguments): "PROGRAM: what is wrong" and "(see PROGRAM --help)" on stderr; exit status 2.
// Options may come before, between or after the arguments; --name=value works too; "--" ends the options.
// Runtime errors are the program's: `catch (const std::exception& e) { return cli.error(e); }` prints
// "PROGRAM: message" and gives exit status 1.
#pragma once

#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cli {

// A number's allowed interval, printed as "[0, 1)", "(0, 4]"…
struct Range {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false;
  bool high_open = false;
};

class Parser {
 public:
  // `about`: what the program does, printed under the usage line(s) of --help.
  Parser(std::string program, std::string about);

  // A usage form after "usage: PROGRAM " (several calls: several forms). Default: "[options] ARGUMENTS".
  void synopsis(std::string form);

  // An option without a value: sets `on` to true.
  void flag(const std::string& name, bool& on, const std::string& help);
  // An option with a text value; `value` is the placeholder ("FILE"). An empty default is not shown.
  void text(const std::string& name, const std::string& value, std::string& out, const std::string& help);
  void text(const std::string& name, const std::string& value, std::filesystem::path& out, const std::string& help);
  // A whole number in [low, high] ("--beam expects a whole number in [1, 16], got '-3'").
  template <class Int>
  void whole(const std::string& name, const std::string& value, Int& out, long long low, long long high,
             const std::string& help) {
    // A default outside the range means "not set": not shown.
    const bool in = static_cast<long double>(out) >= low && static_cast<long double>(out) <= high;
    add_whole(name, value, low, high, in ? std::to_string(out) : "", help,
              [&out](long long v) { out = static_cast<Int>(v); });
  }
  // A finite number in `range` ("--width expects a number in (0, 4], got 'x'").
  template <class Real>
  void number(const std::string& name, const std::string& value, Real& out, Range range, const std::string& help) {
    add_number(name, value, range, static_cast<double>(out), help, [&out](double v) { out = static_cast<Real>(v); });
  }
  // One of the named values ("--filter expects nearest or bilinear, got 'x'"); the default is the name of `out`'s
  // value at declaration.
  template <class T>
  void choice(const std::string& name, const std::vector<std::pair<std::string, T>>& choices, T& out,
              const std::string& help) {
    std::vector<std::string> names;
    std::string shown;
    for (const auto& [n, v] : choices) {
      names.push_back(n);
      if (v == out) shown = n;
    }
    add_choice(name, names, shown, help, [choices, &out](size_t i) { out = choices[i].second; });
  }

  // Positional arguments, taken in declaration order: one required argument, or (last) one or more.
  void positional(const std::string& value, std::string& out, const std::string& help);
  void positionals(const std::string& value, std::vector<std::string>& out, const std::string& help,
                   size_t at_least = 1);

  // Parses the command line. nullopt: go on; otherwise the program's exit status (0 after --help or --version,
  // 2 after a usage error, whose message has been printed).
  std::optional<int> parse(int argc, char** argv);

  // A usage error found by the program itself: prints "PROGRAM: message" and the --help hint; returns 2.
  int usage_error(const std::string& message) const;
  // A runtime error: prints "PROGRAM: what()"; returns 1.
  int error(const std::exception& e) const;
  const std::string& program() const { return program_; }

 private:
  struct Option {
    std::string name, value, help, shown_default;                       // value empty: a flag
    std::string range;                                                  // "[1, 16]", shown in --help
    std::function<std::optional<std::string>(const std::string&)> set;  // error message, or nothing
  };
  struct Positional {
    std::string value, help;
    std::function<void(const std::string&)> add;
    size_t at_least = 1, at_most = 1, count = 0;
  };
  void add_whole(const std::string& name, const std::string& value, long long low, long long high, std::string shown,
                 const std::string& help, std::function<void(long long)> set);
  void add_number(const std::string& name, const std::string& value, Range range, double initial,
                  const std::string& help, std::function<void(double)> set);
  void add_choice(const std::string& name, std::vector<std::string> names, std::string shown, const std::string& help,
                  std::function<void(size_t)> set);
  Option* find(const std::string& name);
  std::string closest(const std::string& name) const;
  void print_help() const;

  std::string program_, about_;
  std::vector<std::string> synopses_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
};

// A data file the programs use by default (flickr8k.nnck, shapes.nnck, sample_shapes.jpg), looked up in order in
//   1. the folders of the environment variable LIBNN_DATA_PATH (colon-separated), when set: models kept elsewhere,
//      and tests that need a program to see a model of their own;
//   2. the installation: the running program's folder/NN_DATA_FROM_BIN/NAME (PREFIX/bin → PREFIX/share/libnn);
//   3. the source tree the program was built from: NN_SOURCE_DIR/weights/NAME (programs run from build/).
struct DataFile {
  std::filesystem::path found;                // empty when none exists
  std::vector<std::filesystem::path> looked;  // every place tried, in order
  std::string looked_text() const;            // "A, B or C"
};
DataFile find_data_file(const std::string& name);
// The folders find_data_file searches, in its order (also where a Flickr8k bundle's Xception weights are looked for
// after the bundle's own folder).
std::vector<std::filesystem::path> data_folders();

// describe's and describe_server's --model: a bundle's path, or the name of a shipped model —
//   "flickr8k"  photos: flickr8k.nnck, which scripts/flickr8k.sh trains and installs beside its Xception weights
//   "shapes"    synthetic shapes: shapes.nnck, in the repository and installed with the programs
// (a file called "shapes" in the working folder is ./shapes). The default is "flickr8k" when flickr8k.nnck is
// found, else "shapes".
std::string default_model();
// The --help text of --model: the choices and the default in effect, with its path (or where none was found).
std::string model_help();
// What --model names.
struct Model {
  std::filesystem::path path;  // the bundle; empty when a named model is not found (then `error` says why)
  std::string error;           // a usage error: "no flickr8k.nnck at A, B or C (scripts/flickr8k.sh installs it)…"
  std::string fix;             // for a named model: how to repair it, appended to a load error ("; run …")
};
Model resolve_model(const std::string& value);

}  // namespace cli
