#include "captioning/flickr8k.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <nn/core/error.h>
#include <nn/io/checkpoint.h>

namespace captioning {

namespace fs = std::filesystem;

void ReadReport::warn(std::string message) {
  if (warnings.size() < 10) warnings.push_back(std::move(message));
}

Flickr8kPaths find_flickr8k(const fs::path& dir) {
  // (text folder, image folder) of each known layout.
  const std::pair<const char*, const char*> layouts[] = {
      {"Flickr8k_text", "Flickr8k_Dataset"}, {"text", "images"}, {".", "Flicker8k_Dataset"}};
  for (auto [text, images] : layouts) {
    fs::path t = dir / text;
    if (std::error_code ec; !fs::exists(t / "Flickr8k.token.txt", ec)) continue;
    Flickr8kPaths p{t / "Flickr8k.token.txt", t / "Flickr_8k.trainImages.txt", t / "Flickr_8k.devImages.txt",
                    t / "Flickr_8k.testImages.txt", dir / images};
    for (const fs::path& f : {p.train_split, p.dev_split, p.test_split}) {
      if (std::error_code ec; !fs::exists(f, ec))
        nn::fail(dir.string(), "has " + p.token_file.string() + " but not " + f.string());
    }
    return p;
  }
  nn::fail(dir.string(),
           "holds no Flickr8k text: expected Flickr8k_text/Flickr8k.token.txt (the official zip) or "
           "text/Flickr8k.token.txt");
}

namespace {

std::ifstream open_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) nn::fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  return in;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

}  // namespace

Descriptions read_token_file(const fs::path& path, ReadReport& report, bool strict) {
  std::ifstream in = open_text(path);
  Descriptions out;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    ++report.lines;
    if (trim(line).empty()) continue;
    const std::string where = path.string() + ":" + std::to_string(number);
    size_t tab = line.find('\t');
    size_t hash = line.find('#');
    if (tab == std::string::npos || hash == std::string::npos || hash > tab || hash == 0) {
      if (strict) nn::fail(where, "expected '<image>.jpg#<k>\\t<caption>', got '" + line.substr(0, 80) + "'");
      ++report.malformed_lines;
      report.warn(where + ": malformed line skipped");
      continue;
    }
    std::string key = line.substr(0, hash);
    std::string id = key.substr(0, key.find('.'));
    std::string caption = trim(std::string_view(line).substr(tab + 1));
    if (caption.empty()) {
      if (strict) nn::fail(where, "empty caption for image '" + id + "'");
      ++report.empty_captions;
      report.warn(where + ": empty caption skipped");
      continue;
    }
    out[id].push_back(caption);
  }
  return out;
}

std::string clean_caption(std::string_view caption) {
  std::string out, word;
  auto flush = [&] {
    // Lowercased with punctuation stripped already; keep words of two or more letters only.
    bool letters = word.size() > 1;
    for (char c : word) letters = letters && std::isalpha(static_cast<unsigned char>(c));
    if (letters) {
      if (!out.empty()) out += ' ';
      out += word;
    }
    word.clear();
  };
  for (char c : caption) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isspace(u)) {
      flush();
    } else if (!std::ispunct(u)) {
      word += static_cast<char>(std::tolower(u));
    }
  }
  flush();
  return out;
}

Descriptions clean_descriptions(const Descriptions& raw, ReadReport& report) {
  Descriptions out;
  for (const auto& [id, captions] : raw) {
    for (const std::string& caption : captions) {
      std::string cleaned = clean_caption(caption);
      if (cleaned.empty()) {
        ++report.empty_captions;
        report.warn("image '" + id + "': caption '" + caption + "' is empty once cleaned; skipped");
        continue;
      }
      out[id].push_back(std::move(cleaned));
    }
  }
  return out;
}

void write_descriptions(const fs::path& path, const Descriptions& descriptions) {
  nn::write_file_atomically(path, [&](std::FILE* file) {
    for (const auto& [id, captions] : descriptions)
      for (const std::string& caption : captions) {
        if (std::fprintf(file, "%s %s\n", id.c_str(), caption.c_str()) < 0) throw nn::Error("write failed");
      }
  });
}

std::vector<std::string> read_split(const fs::path& path, const Descriptions& descriptions, ReadReport& report) {
  std::ifstream in = open_text(path);
  std::vector<std::string> ids;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string name = trim(line);
    if (name.empty()) continue;
    std::string id = name.substr(0, name.find('.'));
    if (!descriptions.count(id)) {
      ++report.unknown_ids;
      report.warn(path.string() + ":" + std::to_string(number) + ": image '" + id + "' has no caption; skipped");
      continue;
    }
    ids.push_back(id);
  }
  return ids;
}

}  // namespace captioning
