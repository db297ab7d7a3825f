#include "captioning/flickr8k_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>

#include <nn/autograd/autograd.h>
#include <nn/core/allocator.h>
#include <nn/core/error.h>
#include <nn/io/checkpoint.h>
#include <nn/io/image.h>
#include <nn/models/xception.h>

#include "captioning/bleu.h"
#include "captioning/bundle.h"
#include "captioning/feature_cache.h"
#include "captioning/generate.h"
#include "captioning/sharded_features.h"
#include "captioning/stop_signal.h"
#include "captioning/xception_weights.h"

namespace captioning {

namespace fs = std::filesystem;

namespace {

// The ids of a split whose image file is present.
std::vector<std::string> present(const std::vector<std::string>& ids, const fs::path& images, size_t& missing) {
  std::vector<std::string> out;
  for (const std::string& id : ids) {
    if (std::error_code ec; fs::exists(images / (id + ".jpg"), ec)) {
      out.push_back(id);
    } else {
      ++missing;
    }
  }
  return out;
}

std::string format(const char* pattern, double a, double b = 0, double c = 0, double d = 0) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, pattern, a, b, c, d);
  return buffer;
}

// Whether `old_label` is the label features had before labels named the weights' content, "xception PATH
// filter=nearest", with PATH naming the very file `weights` (by any equivalent path).
bool old_label_of(const std::string& old_label, const fs::path& weights) {
  const std::string prefix = "xception ", suffix = " filter=nearest";
  if (old_label.size() <= prefix.size() + suffix.size() || !old_label.starts_with(prefix) ||
      !old_label.ends_with(suffix))
    return false;
  const fs::path path = old_label.substr(prefix.size(), old_label.size() - prefix.size() - suffix.size());
  std::error_code ec;
  return path.is_absolute() && fs::equivalent(path, weights, ec) && !ec;
}

// Whether two feature vectors of one image agree to float rounding (batches of other sizes may sum in another
// order): within 1e-4 of the largest magnitude, relative, whatever the features' scale. Features of other weights
// differ far more.
bool same_features(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  float scale = 0, worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  return worst <= 1e-4f * scale;
}

}  // namespace

size_t peak_memory_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return static_cast<size_t>(std::strtoull(line.c_str() + 6, nullptr, 10)) * 1024;
  }
  return 0;
}

bool reset_peak_memory() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // resets VmHWM to the current resident size (Linux ≥ 4.0); elsewhere nothing happens
  clear.flush();
  return static_cast<bool>(clear);
}

Flickr8kRunResult run_flickr8k(const Flickr8kRunOptions& o, const std::function<void(const std::string&)>& log) {
  if (o.xception.empty() == !(o.random_width > 0)) {
    nn::fail("train_flickr8k", "give either converted Xception weights or a random width, not both or neither");
  }
  nn::check_new_run(o.out_dir, o.resume, o.overwrite, "train");  // before the slow feature extraction
  Flickr8kRunResult result;
  reset_peak_memory();

  // The feature extractor, first: wrong weights (the file with the ImageNet top) are refused before any slow work.
  // Features are labelled by the weights' content and the preprocessing, never by the file's path.
  std::unique_ptr<nn::Xception> xception;
  std::string extractor;
  nn::CheckpointTexts bundle_texts;
  if (!o.xception.empty()) {
    XceptionWeights weights = load_feature_xception(o.xception);
    xception = std::move(weights.model);
    extractor = extractor_label(weights.sha256, nn::ResizeFilter::nearest, o.precision);
    bundle_texts.emplace_back("features.weights", o.xception.filename().string());  // a hint for finding them
  } else {
    nn::Generator gen(o.seed);
    xception = std::make_unique<nn::Xception>(nn::XceptionOptions{.width = o.random_width}, gen);
    extractor = "xception random width=" + format("%g", o.random_width) + " seed=" + std::to_string(o.seed) +
                precision_label(o.precision) + " filter=nearest";
  }
  xception->to(o.precision);  // the label above names the precision: a cache never mixes f32 and bf16 features
  bundle_texts.insert(bundle_texts.begin(), {"features.extractor", extractor});
  const Flickr8kPaths paths = find_flickr8k(o.data_dir);
  nn::make_directories(o.out_dir);
  const bool first = o.parallel == nullptr || o.parallel->rank() == 0;  // the process that writes and scores

  // Text: clean the captions of every image, write them, split.
  Descriptions clean = clean_descriptions(read_token_file(paths.token_file, result.text_report), result.text_report);
  if (first) write_descriptions(o.out_dir / "descriptions.txt", clean);
  std::vector<std::string> train_ids =
      present(read_split(paths.train_split, clean, result.text_report), paths.images, result.missing_images);
  std::vector<std::string> dev_ids =
      present(read_split(paths.dev_split, clean, result.text_report), paths.images, result.missing_images);
  std::vector<std::string> test_ids =
      present(read_split(paths.test_split, clean, result.text_report), paths.images, result.missing_images);
  if (o.limit > 0 && train_ids.size() > static_cast<size_t>(o.limit)) train_ids.resize(o.limit);
  if (train_ids.empty()) nn::fail(paths.images.string(), "holds none of the training split's images");
  result.train_images = train_ids.size();
  result.dev_images = dev_ids.size();
  result.test_images = test_ids.size();
  if (first)
    log("text: " + std::to_string(clean.size()) + " images with captions; images present: train " +
        std::to_string(train_ids.size()) + ", dev " + std::to_string(dev_ids.size()) + ", test " +
        std::to_string(test_ids.size()) + " (" + std::to_string(result.missing_images) + " split images missing)");

  std::vector<std::string> train_captions;
  for (const std::string& id : train_ids) {
    for (const std::string& caption : clean.at(id)) train_captions.push_back(caption);
  }
  const Tokenizer tokenizer = Tokenizer::fit(train_captions, o.min_count);
  result.vocab = tokenizer.vocab_size();
  if (first) log("tokenizer: " + std::to_string(tokenizer.vocab_size() - Tokenizer::kFirstWord) + " words");

  // Features, computed once into the cache. A cache labelled by the old scheme (the weights' path) whose path names
  // these very weights is relabelled rather than refused.
  // The path may name these weights yet the file may have been rewritten since (converted again from another .h5),
  // so one cached image's features are computed again and must match.
  auto same_extractor = [&](const std::string& old, const FeatureCache& records) {
    if (o.xception.empty() || o.precision != nn::DType::f32 || !old_label_of(old, o.xception)) return false;
    for (const auto* ids : {&train_ids, &dev_ids, &test_ids}) {
      for (const std::string& id : *ids) {
        if (!records.contains(id)) continue;
        nn::NoGradGuard no_grad;
        const nn::Tensor now = xception->forward(nn::load_xception_input(paths.images / (id + ".jpg")));
        return same_features(records.get(id).to_vector(), now.to_vector());
      }
    }
    return true;  // no record of these images: nothing that could be wrong
  };
  std::vector<std::pair<std::string, fs::path>> images;
  for (const auto* ids : {&train_ids, &dev_ids, &test_ids}) {
    for (const std::string& id : *ids) images.emplace_back(id, paths.images / (id + ".jpg"));
  }
  // Under a Parallel, rank 0 opens the cache first (it may repair or relabel it) and merges the part files that an
  // interrupted sharded extraction left; the others open it after.
  std::optional<FeatureCache> opened;
  auto open_cache = [&] {
    opened.emplace(o.out_dir / "features.bin", xception->feature_channels(), extractor, same_extractor);
  };
  if (first) {
    open_cache();
    if (!opened->relabelled_from().empty())
      log("features: the cache labelled '" + opened->relabelled_from() + "' was relabelled '" + extractor + "'");
    for (const std::string& repair : opened->repairs()) log("features: " + repair);
    if (const size_t merged = o.parallel != nullptr ? merge_feature_parts(*opened, images) : 0; merged > 0)
      log("features: " + nn::with_commas(merged) + " merged from the parts of an interrupted sharded extraction");
  }
  if (o.parallel != nullptr) {
    std::vector<double> wait{0};
    o.parallel->sum(wait);  // rank 0's cache is complete on disk from here
    if (!first) open_cache();
  }
  FeatureCache& cache = *opened;
  size_t cached = 0;
  for (const auto& image : images) cached += cache.contains(image.first) ? 1 : 0;
  if (cached > 0 && first) {
    log("features: " + nn::with_commas(cached) + " of " + nn::with_commas(images.size()) + " cached" +
        (cached < images.size() ? "; continuing" : ""));
  }
  const ExtractOptions extract{.progress = o.progress && first, .stop = stop_requested};
  ExtractReport extracted = o.parallel != nullptr
                                ? extract_features_sharded(cache, *xception, images, extract, *o.parallel)
                                : extract_features(cache, *xception, images, extract);
  result.unreadable_images = extracted.unreadable.size();
  for (const std::string& line : extracted.unreadable) log("unreadable image skipped: " + line);
  if (extracted.stopped) {
    throw TrainingStopped("stopped: features of " + nn::with_commas(extracted.already_cached + extracted.computed) +
                          " of " + nn::with_commas(images.size()) +
                          " images cached; run the same command with --resume to continue");
  }
  if (first) {
    log("features: " + std::to_string(extracted.computed) + " computed, " + std::to_string(extracted.already_cached) +
        " from the cache" + (o.parallel != nullptr ? " by " + std::to_string(o.parallel->size()) + " processes" : ""));
  }
  result.features_peak_bytes = peak_memory_bytes();
  xception.reset();  // training needs only the cached features
  nn::empty_allocator_cache();
  if (!reset_peak_memory()) log("peak memory: this system cannot reset the peak, so training's includes extraction's");
  // Training's large tensors change size with every batch (the longest caption sets T in the logits (N, T, V): up to
  // 64 × 35 × 7,600 floats, 68 MB, for Flickr8k), so freed blocks of every size would pile up in the allocator's
  // cache to its limit (2 GB: 1.16 GB peak measured, against 0.42 GB without): only 16 MB of small blocks are kept,
  // at much the same speed, unless NN_ALLOCATOR_CACHE_MB says otherwise. The default (nn/core/allocator.h) comes back
  // after.
  struct CacheLimit {
    bool set = std::getenv("NN_ALLOCATOR_CACHE_MB") == nullptr;
    size_t before = nn::allocator_cache_limit();  // a library caller's own limit comes back too
    CacheLimit() {
      if (set) nn::set_allocator_cache_limit(size_t{16} << 20);
    }
    ~CacheLimit() {
      if (set) nn::set_allocator_cache_limit(before);
    }
  } cache_limit;
  auto usable = [&](std::vector<std::string> ids) {
    std::erase_if(ids, [&](const std::string& id) { return !cache.contains(id); });
    return ids;
  };
  train_ids = usable(train_ids);
  dev_ids = usable(dev_ids);
  test_ids = usable(test_ids);
  FeatureLookup features = [&](const std::string& id) { return cache.get(id); };

  // Training.
  CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = cache.dim(), .seed = o.seed});
  TrainConfig config{.epochs = o.epochs,
                     .batch_size = o.batch_size,
                     .seed = o.seed,
                     .out_dir = o.out_dir,
                     .resume = o.resume,
                     .overwrite = o.overwrite,
                     .progress = o.progress && first,
                     .bundle_texts = bundle_texts,
                     .on_resume =
                         [&](const std::string& line) {
                           if (!o.progress && first) log(line);  // the trainer prints it itself with progress on
                         },
                     .parallel = o.parallel,
                     .length_buckets = o.length_buckets};
  result.history = train(model, tokenizer, features, make_examples(train_ids, clean, tokenizer),
                         make_examples(dev_ids, clean, tokenizer), config, [&](const EpochResult& r) {
                           if (!o.progress && first)  // the trainer prints its epoch lines itself
                             log(format("epoch %.0f: train loss %.4f, validation loss %.4f, %.1f s", r.epoch,
                                        r.train_loss, r.val_loss, r.seconds));
                         });

  if (!first) return result;  // rank 0 writes the bundle and scores the test split

  // The bundle describe loads: best.nnck without what only training needs — the optimiser's and the schedule's
  // state (40 of its 60 MB for Flickr8k) and the train.* texts — written atomically beside it.
  Bundle best = load_bundle(o.out_dir / "best.nnck");
  Texts kept;
  for (const auto& [key, value] : best.texts) {
    if (key != "model" && key != "caption.options" && key != "tokenizer" && !key.starts_with("train."))
      kept.emplace_back(key, value);  // features.extractor, features.weights, trained.command, …
  }
  result.bundle = o.out_dir / "model.nnck";
  save_bundle(result.bundle, *best.model, best.tokenizer, nullptr, kept);

  // BLEU on the test split with the best model.
  std::vector<std::vector<Tokens>> references;
  std::vector<Tokens> hypotheses;
  const DecodeCache decode_cache(
      *best.model);  // the same captions as the layers', a third of the reads (decode_cache.h)
  for (const std::string& id : test_ids) {
    if (stop_requested()) {  // training is complete: a resumed run goes straight to the scoring
      throw TrainingStopped("stopped while scoring the test split (" + nn::with_commas(hypotheses.size()) + " of " +
                            nn::with_commas(test_ids.size()) + " images captioned); " + result.bundle.string() +
                            " is written; run the same command with --resume to score it");
    }
    std::vector<Caption> c =
        beam_search(*best.model, best.tokenizer, cache.get(id), {.beam = o.beam, .cache = &decode_cache});
    hypotheses.push_back(split_words(c.front().text));
    references.emplace_back();
    for (const std::string& caption : clean.at(id)) references.back().push_back(split_words(caption));
    if (result.samples.size() < 5) result.samples.emplace_back(id, c.front().text);
  }
  if (!hypotheses.empty()) result.bleu = corpus_bleu(references, hypotheses);
  log(format("test BLEU-1 %.4f, BLEU-2 %.4f, BLEU-3 %.4f, BLEU-4 %.4f", result.bleu[0], result.bleu[1], result.bleu[2],
             result.bleu[3]) +
      " on " + std::to_string(hypotheses.size()) + " images");
  result.training_peak_bytes = peak_memory_bytes();
  return result;
}

std::string published_bleu_line() {
  const PublishedBleu p;
  std::string line = "published for this kind of model (Flickr8k test split, all 8,091 images):";
  for (int n = 0; n < 4; ++n) line += format(" BLEU-%.0f %.3f–%.3f", n + 1, p.low[n], p.high[n]) + (n < 3 ? "," : "");
  line += format(" (Tanti et al. 2017); Brownlee's 2017 VGG16 merge model %.3f, %.3f, %.3f, %.3f", p.tutorial[0],
                 p.tutorial[1], p.tutorial[2], p.tutorial[3]);
  return line;
}

}  // namespace captioning
