#include "cli.h"

#include <nn/core/version.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace cli {
namespace {

// 1.0 → "1", 0.125 → "0.125", ±∞ → "-inf"/"inf".
std::string format_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

std::string range_text(const Range& r) {
  return (r.low_open ? "(" : "[") + format_number(r.low) + ", " + format_number(r.high) + (r.high_open ? ")" : "]");
}

bool in_range(double v, const Range& r) {
  return (r.low_open ? v > r.low : v >= r.low) && (r.high_open ? v < r.high : v <= r.high);
}

// Edit distance (insertions, deletions, substitutions), for "did you mean".
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

Parser::Parser(std::string program, std::string about) : program_(std::move(program)), about_(std::move(about)) {}

void Parser::synopsis(std::string form) {
  synopses_.push_back(std::move(form));
}

void Parser::flag(const std::string& name, bool& on, const std::string& help) {
  options_.push_back({name, "", help, "", "", [&on](const std::string&) -> std::optional<std::string> {
                        on = true;
                        return std::nullopt;
                      }});
}

void Parser::text(const std::string& name, const std::string& value, std::string& out, const std::string& help) {
  options_.push_back({name, value, help, out, "", [&out](const std::string& v) -> std::optional<std::string> {
                        out = v;
                        return std::nullopt;
                      }});
}

void Parser::text(const std::string& name, const std::string& value, std::filesystem::path& out,
                  const std::string& help) {
  options_.push_back({name, value, help, out.string(), "", [&out](const std::string& v) -> std::optional<std::string> {
                        out = v;
                        return std::nullopt;
                      }});
}

void Parser::add_whole(const std::string& name, const std::string& value, long long low, long long high,
                       std::string shown, const std::string& help, std::function<void(long long)> set) {
  const std::string range = "[" + std::to_string(low) + ", " + std::to_string(high) + "]";
  options_.push_back(
      {name, value, help, std::move(shown), range, [=](const std::string& v) -> std::optional<std::string> {
         char* end = nullptr;
         errno = 0;
         const long long n = std::strtoll(v.c_str(), &end, 10);
         if (v.empty() || *end != '\0' || errno == ERANGE || n < low || n > high)
           return name + " expects a whole number in " + range + ", got '" + v + "'";
         set(n);
         return std::nullopt;
       }});
}

void Parser::add_number(const std::string& name, const std::string& value, Range range, double initial,
                        const std::string& help, std::function<void(double)> set) {
  const bool bounded = std::isfinite(range.low) || std::isfinite(range.high);
  const std::string expects = bounded ? "a number in " + range_text(range) : "a number";
  // A default outside the range means "not set" (a width of 0 when --weights is given instead): not shown.
  const std::string shown = in_range(initial, range) ? format_number(initial) : "";
  options_.push_back({name, value, help, shown, bounded ? range_text(range) : "",
                      [=](const std::string& v) -> std::optional<std::string> {
                        char* end = nullptr;
                        const double x = std::strtod(v.c_str(), &end);
                        if (v.empty() || *end != '\0' || !std::isfinite(x) || !in_range(x, range))
                          return name + " expects " + expects + ", got '" + v + "'";
                        set(x);
                        return std::nullopt;
                      }});
}

void Parser::add_choice(const std::string& name, std::vector<std::string> names, std::string shown,
                        const std::string& help, std::function<void(size_t)> set) {
  std::string listed;  // "a, b or c"
  for (size_t i = 0; i < names.size(); ++i) listed += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  std::string value;  // "a|b|c"
  for (const std::string& n : names) value += (value.empty() ? "" : "|") + n;
  options_.push_back({name, value, help, std::move(shown), "", [=](const std::string& v) -> std::optional<std::string> {
                        for (size_t i = 0; i < names.size(); ++i) {
                          if (names[i] == v) return set(i), std::nullopt;
                        }
                        return name + " expects " + listed + ", got '" + v + "'";
                      }});
}

void Parser::positional(const std::string& value, std::string& out, const std::string& help) {
  positionals_.push_back({value, help, [&out](const std::string& v) { out = v; }, 1, 1});
}

void Parser::positionals(const std::string& value, std::vector<std::string>& out, const std::string& help,
                         size_t at_least) {
  positionals_.push_back({value, help, [&out](const std::string& v) { out.push_back(v); }, at_least, SIZE_MAX});
}

Parser::Option* Parser::find(const std::string& name) {
  for (Option& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// The known option nearest to `name` (a typo or a prefix of exactly one), or "".
std::string Parser::closest(const std::string& name) const {
  std::vector<std::string> known{"--help", "--version"};
  for (const Option& o : options_) known.push_back(o.name);
  std::string best, prefixed;
  size_t best_distance = name.size() > 10 ? 3 : 2, prefixes = 0;  // farther than this is no typo
  for (const std::string& k : known) {
    const size_t d = distance(name, k);
    if (d <= best_distance && (best.empty() || d < best_distance)) best = k, best_distance = d;
    if (name.size() > 3 && k.rfind(name, 0) == 0) prefixed = k, ++prefixes;
  }
  if (best.empty() && prefixes == 1) return prefixed;
  return best;
}

std::optional<int> Parser::parse(int argc, char** argv) {
  // --help and --version win wherever they are, even after an error.
  for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return print_help(), 0;
    if (arg == "--version") return std::printf("%s (libnn) %s\n", program_.c_str(), nn::version()), 0;
  }
  bool options_ended = false;
  size_t next = 0;  // the positional taking the next argument
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!options_ended && arg == "--") {
      options_ended = true;
      continue;
    }
    if (!options_ended && arg.size() > 1 && arg[0] == '-') {
      const size_t equals = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string::npos;
      const std::string name = arg.substr(0, equals);
      Option* o = find(name);
      if (!o) {
        const std::string suggestion = closest(name);
        return usage_error("unknown option '" + name + "'" +
                           (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)"));
      }
      std::string value;
      if (o->value.empty()) {
        if (equals != std::string::npos)
          return usage_error(name + " takes no value, got '" + arg.substr(equals + 1) + "'");
      } else if (equals != std::string::npos) {
        value = arg.substr(equals + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return usage_error(name + " needs a value (" + o->value + ")");
      }
      if (auto problem = o->set(value)) return usage_error(*problem);
      continue;
    }
    while (next < positionals_.size() && positionals_[next].count == positionals_[next].at_most) ++next;
    if (next == positionals_.size())
      return usage_error("unexpected argument '" + arg + "' (quote an argument that holds spaces)");
    positionals_[next].add(arg);
    ++positionals_[next].count;
  }
  for (const Positional& p : positionals_) {
    if (p.count < p.at_least) return usage_error("missing " + p.value + (p.at_most > 1 ? "..." : ""));
  }
  return std::nullopt;
}

int Parser::usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program_.c_str(), message.c_str(), program_.c_str());
  return 2;
}

int Parser::error(const std::exception& e) const {
  std::fprintf(stderr, "%s: %s\n", program_.c_str(), e.what());
  return 1;
}

void Parser::print_help() const {
  std::vector<std::string> forms = synopses_;
  if (forms.empty()) {
    std::string form = options_.empty() ? "" : "[options]";
    for (const Positional& p : positionals_) {
      const std::string shown = p.value + (p.at_most > 1 ? "..." : "");
      form += (form.empty() ? "" : " ") + (p.at_least == 0 ? "[" + shown + "]" : shown);
    }
    forms.push_back(form);
  }
  for (size_t i = 0; i < forms.size(); ++i)
    std::printf("%s %s %s\n", i == 0 ? "usage:" : "      ", program_.c_str(), forms[i].c_str());
  std::printf("%s\n", about_.c_str());

  std::vector<std::pair<std::string, std::string>> rows;  // (left column, meaning)
  for (const Positional& p : positionals_) rows.emplace_back(p.value + (p.at_most > 1 ? "..." : ""), p.help);
  for (const Option& o : options_) {
    std::string notes;  // "in [1, 16]; default: 1"
    if (!o.range.empty()) notes = "in " + o.range;
    if (!o.shown_default.empty()) notes += (notes.empty() ? "" : "; ") + ("default: " + o.shown_default);
    const std::string meaning = notes.empty() ? o.help : o.help + " (" + notes + ")";
    rows.emplace_back(o.value.empty() ? o.name : o.name + " " + o.value, meaning);
  }
  rows.emplace_back("-h, --help", "print this help and exit");
  rows.emplace_back("--version", "print the program's version and exit");
  size_t width = 0;
  for (const auto& [left, meaning] : rows) width = std::max(width, left.size());
  width = std::min<size_t>(width, 26);
  std::printf("\n");
  for (const auto& [left, meaning] : rows) {
    if (left.size() > width) std::printf("  %s\n", left.c_str());
    std::printf("  %-*s", static_cast<int>(width), left.size() > width ? "" : left.c_str());
    // The meaning, wrapped at spaces to lines of at most 120 characters.
    const size_t room = 120 - 4 - width;
    size_t start = 0;
    while (meaning.size() - start > room) {
      size_t cut = meaning.rfind(' ', start + room);
      if (cut == std::string::npos || cut <= start) cut = start + room;
      std::printf("  %s\n  %-*s", meaning.substr(start, cut - start).c_str(), static_cast<int>(width), "");
      start = cut + (meaning[cut] == ' ');
    }
    std::printf("  %s\n", meaning.c_str() + start);
  }
}

std::string DataFile::looked_text() const {
  std::string text;
  for (size_t i = 0; i < looked.size(); ++i)
    text += (i == 0 ? "" : i + 1 == looked.size() ? " or " : ", ") + looked[i].string();
  return text;
}

std::vector<std::filesystem::path> data_folders() {
  namespace fs = std::filesystem;
  std::vector<fs::path> folders;
  if (const char* env = std::getenv("LIBNN_DATA_PATH")) {
    std::string list = env;
    for (size_t start = 0; start <= list.size();) {
      const size_t colon = std::min(list.find(':', start), list.size());
      if (colon > start) folders.emplace_back(list.substr(start, colon - start));
      start = colon + 1;
    }
  }
#ifdef NN_DATA_FROM_BIN
  std::error_code error;
  const fs::path program = fs::read_symlink("/proc/self/exe", error);
  if (!error) folders.push_back((program.parent_path() / NN_DATA_FROM_BIN).lexically_normal());
#endif
#ifdef NN_SOURCE_DIR
  folders.push_back(fs::path(NN_SOURCE_DIR) / "weights");
#endif
  return folders;
}

DataFile find_data_file(const std::string& name) {
  namespace fs = std::filesystem;
  DataFile file;
  for (const fs::path& folder : data_folders()) file.looked.push_back(folder / name);
  for (const fs::path& candidate : file.looked) {
    std::error_code error;
    if (fs::is_regular_file(candidate, error)) {
      file.found = candidate;
      break;
    }
  }
  return file;
}

std::string default_model() {
  return find_data_file("flickr8k.nnck").found.empty() ? "shapes" : "flickr8k";
}

std::string model_help() {
  const DataFile photos = find_data_file("flickr8k.nnck");
  const DataFile shapes = find_data_file("shapes.nnck");
  std::string help = "the captioning bundle: its path, or flickr8k (photos) or shapes (synthetic shapes); ";
  if (!photos.found.empty()) return help + "the default is the photo model, " + photos.found.string();
  help += "the default is the photo model when flickr8k.nnck is found (scripts/flickr8k.sh installs it; none at " +
          photos.looked_text() + "), so now ";
  if (shapes.found.empty()) return help + "required: no shapes.nnck either";
  return help + "the shapes model, " + shapes.found.string();
}

Model resolve_model(const std::string& value) {
  Model model;
  if (value != "flickr8k" && value != "shapes") {
    model.path = value;
    return model;
  }
  const DataFile file = find_data_file(value + ".nnck");
  model.path = file.found;
  if (value == "flickr8k") {
    if (file.found.empty())
      model.error = "no flickr8k.nnck at " + file.looked_text() +
                    ": scripts/flickr8k.sh trains and installs the photo model; or pass --model shapes";
    model.fix =
        "; run scripts/flickr8k.sh again to reinstall the photo model and the Xception weights it needs "
        "beside it (xception_notop.nnck), or pass --model shapes";
  } else if (file.found.empty()) {
    model.error = "no shapes.nnck at " + file.looked_text() + "; pass --model BUNDLE";
  }
  return model;
}

}  // namespace cli
