#include "captioning/describer.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nn/autograd/autograd.h>
#include <nn/core/error.h>
#include <nn/core/random.h>
#include <nn/io/checkpoint.h>
#include <nn/ops/ops.h>

#include "captioning/bundle.h"
#include "captioning/xception_weights.h"

namespace fs = std::filesystem;

namespace captioning {
namespace {

// A text of the bundle, or "" when it has none.
std::string text_of(const Texts& texts, const std::string& key) {
  const std::string* v = find_text(texts, key);
  return v ? *v : "";
}

// The folders searched for a content-hashed Xception, in DescriberOptions' order.
std::vector<fs::path> weights_search(const fs::path& bundle, const DescriberOptions& options) {
  std::vector<fs::path> search{bundle.parent_path().empty() ? fs::path(".") : bundle.parent_path()};
  search.insert(search.end(), options.weights_search.begin(), options.weights_search.end());
  if (const char* env = options.use_environment ? std::getenv("LIBNN_WEIGHTS_PATH") : nullptr) {
    std::istringstream folders(env);
    for (std::string folder; std::getline(folders, folder, ':');)
      if (!folder.empty()) search.emplace_back(folder);
  }
  return search;
}

// The Xception a features.extractor text names, and the resize filter its features were made with:
//   "xception sha256=HEX filter=F"               weights found by content (xception_weights.h)
//   "xception random width=W seed=S filter=F"    rebuilt from the seed
//   "xception PATH filter=F"                     the weights at PATH (bundles from before content hashes)
struct Extractor {
  std::unique_ptr<nn::Xception> model;
  fs::path file;  // the content-hashed kind's file, as found
  nn::ResizeFilter filter = nn::ResizeFilter::nearest;
  nn::DType precision = nn::DType::f32;  // what the label says the training features were computed in
};
Extractor xception_from(const std::string& extractor, const fs::path& bundle, const Texts& texts,
                        const DescriberOptions& options) {
  const std::string where = bundle.string() + ": features.extractor '" + nn::printable(extractor) + "'";
  Extractor out;
  // The filter: the last word, " filter=nearest" or " filter=bilinear" (a path before it may hold spaces).
  const size_t filter = extractor.rfind(" filter=");
  if (filter != std::string::npos) {
    const std::string name = extractor.substr(filter + 8);
    if (name == "bilinear")
      out.filter = nn::ResizeFilter::bilinear;
    else if (name != "nearest")
      nn::fail(where, "names an unknown resize filter (nearest or bilinear)");
  }
  // The precision: a " precision=NAME" word (xception_weights.h, precision_label).
  if (const size_t at = extractor.find(" precision="); at != std::string::npos) {
    const size_t begin = at + 11;
    const std::string name = extractor.substr(begin, extractor.find(' ', begin) - begin);
    try {
      out.precision = nn::parse_dtype(name, "precision");
    } catch (const nn::Error&) {
      nn::fail(where, "names an unknown precision '" + nn::printable(name) + "' (f32 or bf16)");
    }
  }
  std::istringstream words(extractor);
  std::string kind, first;
  words >> kind >> first;
  if (kind != "xception" || first.empty()) nn::fail(where, "is not an Xception extractor this program can rebuild");
  if (first.rfind("sha256=", 0) == 0) {
    XceptionWeights w = find_xception_weights(first.substr(7), text_of(texts, "features.weights"),
                                              weights_search(bundle, options), bundle.string());
    out.model = std::move(w.model);
    out.file = w.file;
    return out;
  }
  if (first == "random") {
    double width = 0;
    unsigned long long seed = 0;
    for (std::string w; words >> w;) {
      if (w.rfind("width=", 0) == 0) width = std::strtod(w.c_str() + 6, nullptr);
      if (w.rfind("seed=", 0) == 0) seed = std::strtoull(w.c_str() + 5, nullptr, 10);
    }
    if (!(width > 0 && width <= 1)) nn::fail(where, "has no usable width=");
    nn::Generator gen(seed);
    out.model = std::make_unique<nn::Xception>(nn::XceptionOptions{.width = static_cast<float>(width)}, gen);
    return out;
  }
  // A path (which may hold spaces): everything up to " filter=".
  const std::string path = extractor.substr(9, filter == std::string::npos ? std::string::npos : filter - 9);
  if (!fs::exists(path))
    nn::fail(where, "names Xception weights that are not there: " + nn::printable(path) +
                        " (a bundle from before content hashes needs its weights at that path; convert them again "
                        "with convert_keras_weights, or pass --model with another bundle)");
  out.model = nn::load_xception(path);
  return out;
}

// What a bundle's model describes. A bundle may say so in a "describes" text; none written so far does, so the rule
// falls back on the model kind, which tells the trainer apart: only train_shapes saves image captioners ("model" =
// "image-captioner", trained on generated pictures of coloured shapes), and only train_flickr8k saves caption
// models with a "features.extractor" text (trained on Flickr8k photos).
std::string describes_of(const Texts& texts) {
  if (std::string said = text_of(texts, "describes"); !said.empty()) return said;
  return text_of(texts, "model") == "image-captioner" ? "synthetic shapes" : "photos (Flickr8k)";
}

}  // namespace

Describer::Describer(const fs::path& bundle, const DescriberOptions& options) {
  const Texts texts = nn::read_checkpoint_texts(bundle);
  describes_ = describes_of(texts);
  name_ = bundle.filename().string();
  if (text_of(texts, "model") == "image-captioner") {
    CaptionerBundle b = load_captioner(bundle);
    captioner_ = std::move(b.model);
    feature_precision_ = options.precision.value_or(nn::DType::f32);
    captioner_->eval();  // for good: describing never changes a mode (several threads may share the model)
    for (const auto& [child, module] : captioner_->named_children())
      if (child == "cnn") module->to(feature_precision_);  // the features stay f32 (Xception::forward)
    tokenizer_ = std::move(b.tokenizer);
    image_size_ = captioner_->options().image_size;
    filter_ = nn::ResizeFilter::bilinear;
    description_ = "image captioner (" + std::to_string(image_size_) + " px)";
    image_options_.min_side = 2 * image_size_;
    if (options.decode_cache) cache_ = std::make_unique<DecodeCache>(captioner_->decoder());
    return;
  }
  const std::string extractor = text_of(texts, "features.extractor");
  if (extractor.empty())
    nn::fail(bundle.string(), "is neither an image captioner nor a caption model with a features.extractor text");
  Bundle b = load_bundle(bundle);
  Extractor x = xception_from(extractor, bundle, texts, options);
  x.model->eval();
  xception_ = x.model->folded();  // each BatchNorm folded into its convolution: the same features, one pass fewer
  x.model.reset();
  feature_precision_ = options.precision.value_or(x.precision);
  xception_->to(feature_precision_);  // the features stay f32 (Xception::forward)
  xception_file_ = x.file;
  filter_ = x.filter;
  decoder_ = std::move(b.model);
  decoder_->eval();
  tokenizer_ = std::move(b.tokenizer);
  description_ = "caption model over " + extractor;
  image_options_.min_side = 2 * image_size_;
  if (options.decode_cache) cache_ = std::make_unique<DecodeCache>(*decoder_);
}

std::vector<Caption> Describer::caption(const nn::Tensor& decoded, int beam) {
  nn::NoGradGuard no_grad;
  const nn::Tensor input = nn::xception_preprocess(nn::resize_image(decoded, image_size_, image_size_, filter_))
                               .reshape({1, image_size_, image_size_, 3});
  // The decoder's cache: the captions of its f32 layers at a third of the memory read per word (decode_cache.h).
  const GenerateOptions search{.beam = beam, .cache = cache_.get()};
  if (captioner_) return beam_search(captioner_->decoder(), tokenizer_, captioner_->features(input), search);
  return beam_search(*decoder_, tokenizer_, xception_->forward(input), search);
}

std::vector<Caption> Describer::describe(std::span<const unsigned char> image, const std::string& name, int beam) {
  return caption(nn::decode_image(image, name, image_options_), beam);
}

std::vector<Caption> Describer::describe_file(const fs::path& image, int beam) {
  return caption(nn::load_image(image, image_options_), beam);
}

}  // namespace captioning
