// xception_features: Xception's pooled features of images (text or --json), or, with a model that has the ImageNet
// top, the five most likely classes.
#include <nn/nn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "cli.h"

namespace {

struct Args {
  std::string weights;
  float random_width = 0;  // > 0: a randomly initialised model of this width (no weights file)
  bool json = false;
  bool peak_memory = false;  // print this process's peak resident memory to stderr at the end
  bool keep_orientation = false;
  std::string precision = "f32";  // the dtype the model computes in (nn::parse_dtype); features are printed as f32
  std::string classes;
  nn::ResizeFilter filter = nn::ResizeFilter::nearest;
  int batch = 1;      // images per forward pass
  bool rate = false;  // print images per second, end to end, to stderr
  std::vector<std::string> images;
};

// A forward batch decoded on the loader's thread: each path with its image, or the error that reading it gave.
struct Decoded {
  std::vector<std::string> paths;
  std::vector<nn::Tensor> images;   // (1, 299, 299, 3) each, for the paths read; undefined for the others
  std::vector<std::string> errors;  // empty for the paths read
};

// imagenet_class_index.json: {"0": ["n01440764", "tench"], …} → names by index.
std::vector<std::string> read_class_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw nn::Error(path + ": cannot open the class index");
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  std::vector<std::string> names(1000);
  const std::regex entry(R"re("(\d+)": \["n\d+", "([^"]+)"\])re");
  size_t found = 0;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), entry); it != std::sregex_iterator(); ++it) {
    size_t index = std::stoul((*it)[1].str());
    if (index < names.size()) names[index] = (*it)[2].str(), ++found;
  }
  if (found != names.size()) throw nn::Error(path + ": expected 1000 classes, got " + std::to_string(found));
  return names;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  cli::Parser cli("xception_features",
                  "Prints each image's pooled Xception features (one line: path, then the values), or, when the model\n"
                  "has the ImageNet top, its five most likely classes (names from imagenet_class_index.json via\n"
                  "--classes). Models come from convert_keras_weights; see weights/download.sh.");
  cli.synopsis("(--weights MODEL.nnck | --random-width W) [options] IMAGE...");
  cli.positionals("IMAGE", a.images, "JPEG or PNG images");
  cli.text("--weights", "MODEL.nnck", a.weights, "the Xception model");
  cli.number("--random-width", "W", a.random_width, {.low = 0, .high = 4, .low_open = true},
             "a randomly initialised Xception of this width instead");
  cli.flag("--json", a.json, "print a JSON array");
  cli.text("--classes", "FILE", a.classes, "imagenet_class_index.json, for class names");
  cli.choice<nn::ResizeFilter>("--filter",
                               {{"nearest", nn::ResizeFilter::nearest}, {"bilinear", nn::ResizeFilter::bilinear}},
                               a.filter, "how images are resized to 299×299");
  cli.flag("--keep-orientation", a.keep_orientation,
           "ignore the EXIF orientation (the stored pixels, as Keras's loader reads them)");
  cli.text("--precision", "f32|bf16", a.precision, "the dtype Xception computes in (bf16: the model converted)");
  cli.flag("--peak-memory", a.peak_memory, "print the peak resident memory to stderr at the end");
  cli.whole("--batch", "N", a.batch, 1, 64,
            "images per forward pass (more: faster on many images; about 60 MB more memory per image with one thread, "
            "per worker thread with more)");
  cli.flag("--rate", a.rate, "print the images per second, end to end (decoding included), to stderr at the end");
  if (auto status = cli.parse(argc, argv)) return *status;
  if (a.weights.empty() == (a.random_width == 0))
    return cli.usage_error("give one of --weights MODEL.nnck and --random-width W");
  nn::DType precision = nn::DType::f32;
  try {
    precision = nn::parse_dtype(a.precision, "--precision");
  } catch (const nn::Error& e) {
    return cli.usage_error(e.what());
  }
  int status = 0;
  try {
    std::unique_ptr<nn::Xception> model;
    if (!a.weights.empty()) {
      model = nn::load_xception(a.weights);
    } else {
      model = std::make_unique<nn::Xception>(nn::XceptionOptions{.width = a.random_width});
    }
    std::vector<std::string> names;
    model->eval();
    std::shared_ptr<nn::Xception> inference = model->folded();  // BatchNorms folded into the convolutions
    model.reset();
    inference->to(precision);
    if (!a.classes.empty()) names = read_class_names(a.classes);
    nn::NoGradGuard no_grad;
    if (a.json) std::printf("[");
    bool first = true;
    // Decoding and resizing run on the loader's thread, a batch ahead of the forward pass, in the given order.
    nn::VectorDataset<std::string> list(a.images);
    auto decode = [&a](std::vector<std::string>&& paths) {
      Decoded d{std::move(paths), {}, {}};
      for (const std::string& path : d.paths) {
        try {
          d.images.push_back(nn::load_xception_input(path, a.filter, 299, {.keep_orientation = a.keep_orientation}));
          d.errors.emplace_back();
        } catch (const nn::Error& e) {
          d.images.emplace_back();
          d.errors.emplace_back(e.what());
        }
      }
      return d;
    };
    nn::DataLoader<std::string, Decoded> loader(list, decode, {.batch_size = a.batch, .shuffle = false, .prefetch = 1});
    // Planned from the first batch when more follow (a single batch would only pay for the arena). With one kernel
    // thread every full batch asks for the same blocks in the same order; with batch-parallel workers the plan covers
    // this thread's chunks, as many as in the recorded batch (a run that takes another number of chunks is served by
    // the cache from the first difference on).
    std::optional<nn::MemoryPlan> plan;
    if (a.images.size() > static_cast<size_t>(a.batch)) plan.emplace();
    const auto start = std::chrono::steady_clock::now();
    size_t described = 0;
    auto epoch = loader.epoch(1);
    while (auto decoded = epoch.next()) {
      std::vector<nn::Tensor> readable;
      for (const nn::Tensor& image : decoded->images)
        if (image.defined()) readable.push_back(image);
      nn::Tensor outputs;  // (B, …)
      if (!readable.empty()) {
        nn::Tensor batch = nn::concat(readable, 0);
        std::optional<nn::MemoryPlanScope> scope;  // the first batch's activations planned, later ones' served
        if (plan) scope.emplace(*plan);
        outputs = inference->forward(batch);
      }
      int64_t row = 0;
      for (size_t i = 0; i < decoded->paths.size(); ++i) {
        const std::string& path = decoded->paths[i];
        if (!decoded->errors[i].empty()) {
          status = cli.error(nn::Error(decoded->errors[i]));
          continue;
        }
        nn::Tensor out = nn::slice(outputs, 0, row, row + 1);
        ++row;
        ++described;
        const float* v = out.data();
        const int64_t n = out.numel();
        if (a.json) std::printf("%s\n{\"image\": %s, ", first ? "" : ",", json_string(path).c_str());
        first = false;
        if (inference->options().include_top) {
          std::vector<int64_t> order(n);
          std::iota(order.begin(), order.end(), 0);
          std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                            [&](int64_t x, int64_t y) { return v[x] > v[y]; });
          if (a.json) std::printf("\"top5\": [");
          for (int k = 0; k < 5; ++k) {
            std::string label = names.empty() ? std::to_string(order[k]) : names[order[k]];
            if (a.json) {
              std::printf("%s{\"class\": %lld, \"name\": %s, \"probability\": %.6g}", k ? ", " : "",
                          static_cast<long long>(order[k]), json_string(label).c_str(),
                          static_cast<double>(v[order[k]]));
            } else {
              std::printf("%s\t%d\t%s\t%.4f\n", path.c_str(), k + 1, label.c_str(), static_cast<double>(v[order[k]]));
            }
          }
          if (a.json) std::printf("]}");
        } else {
          if (a.json)
            std::printf("\"features\": [");
          else
            std::printf("%s", path.c_str());
          for (int64_t i = 0; i < n; ++i)
            std::printf(a.json ? (i ? ", %.6g" : "%.6g") : " %.6g", static_cast<double>(v[i]));
          std::printf(a.json ? "]}" : "\n");
        }
      }
    }
    if (a.rate) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "described %zu images in %.3f s: %.2f images/s end to end (batch %d)\n", described, seconds,
                   described / seconds, a.batch);
    }
    if (a.json) std::printf("\n]\n");
    if (a.peak_memory) {
      struct rusage usage {};
      getrusage(RUSAGE_SELF, &usage);
      std::fprintf(stderr, "peak resident memory: %.0f MB\n", usage.ru_maxrss / 1024.0);
    }
  } catch (const std::exception& e) {
    return cli.error(e);
  }
  return status;
}
