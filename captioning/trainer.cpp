#include "captioning/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nn/autograd.h>
#include <nn/checkpoint.h>
#include <nn/error.h>
#include <nn/fault.h>
#include <nn/ops.h>
#include <nn/optim/adam.h>

#include "captioning/bundle.h"
#include "captioning/stop_signal.h"

namespace captioning {

namespace fs = std::filesystem;

std::vector<Example> make_examples(const std::vector<std::string>& ids,
                                   const std::map<std::string, std::vector<std::string>>& captions,
                                   const Tokenizer& tokenizer, int max_words) {
  std::vector<Example> out;
  for (const std::string& id : ids) {
    auto it = captions.find(id);
    if (it == captions.end()) continue;
    for (const std::string& caption : it->second) {
      std::vector<int32_t> words = tokenizer.encode(caption, false);
      if (words.empty()) continue;
      if (static_cast<int>(words.size()) > max_words) words.resize(max_words);
      Example e{id, {Tokenizer::kStart}};
      e.ids.insert(e.ids.end(), words.begin(), words.end());
      e.ids.push_back(Tokenizer::kEnd);
      out.push_back(std::move(e));
    }
  }
  return out;
}

namespace {

struct Batch {
  nn::Tensor features;
  TokenBatch tokens;
};

Batch make_batch(const std::vector<const Example*>& examples, const FeatureLookup& features) {
  std::vector<const std::vector<int32_t>*> captions;
  std::vector<nn::Tensor> rows;
  for (const Example* e : examples) {
    captions.push_back(&e->ids);
    rows.push_back(features(e->image));
  }
  return {nn::concat(rows, 0), make_token_batch(captions)};
}

std::string history_text(const std::vector<EpochResult>& history) {
  std::string out;
  char line[160];
  for (const EpochResult& r : history) {
    std::snprintf(line, sizeof line, "%d %.17g %.17g %.6g %lld\n", r.epoch, r.train_loss, r.val_loss, r.seconds,
                  static_cast<long long>(r.tokens));
    out += line;
  }
  return out;
}

std::vector<EpochResult> parse_history(const std::string& text) {
  std::vector<EpochResult> out;
  std::istringstream in(text);
  EpochResult r;
  long long tokens = 0;
  while (in >> r.epoch >> r.train_loss >> r.val_loss >> r.seconds >> tokens) {
    r.tokens = tokens;
    out.push_back(r);
  }
  return out;
}

}  // namespace

TokenBatch make_token_batch(const std::vector<const std::vector<int32_t>*>& captions) {
  const int64_t n = static_cast<int64_t>(captions.size());
  int64_t t = 0;
  for (const auto* ids : captions) t = std::max<int64_t>(t, static_cast<int64_t>(ids->size()) - 1);
  std::vector<int32_t> inputs(n * t, 0), targets(n * t, 0);
  TokenBatch b;
  b.mask = nn::Tensor::zeros({n, t});
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int32_t>& ids = *captions[i];
    for (size_t k = 0; k + 1 < ids.size(); ++k) {
      inputs[i * t + k] = ids[k];
      targets[i * t + k] = ids[k + 1];
      b.mask.data()[i * t + k] = 1.0f;
      ++b.tokens;
    }
  }
  b.inputs = nn::Indices({n, t}, std::move(inputs));
  b.targets = nn::Indices({n, t}, std::move(targets));
  return b;
}

float scheduled_learning_rate(const TrainConfig& config, int epoch) {
  if (config.epochs <= 1) return config.learning_rate;
  const double progress = static_cast<double>(epoch - 1) / (config.epochs - 1);  // 0 … 1
  const double fraction =
      config.final_lr_fraction + (1.0 - config.final_lr_fraction) * 0.5 * (1.0 + std::cos(M_PI * progress));
  return static_cast<float>(config.learning_rate * fraction);
}

void drop_words(TokenBatch& tokens, float p, nn::Generator& gen) {
  if (tokens.inputs.shape.size() != 2 || tokens.inputs.shape[1] < 1) return;
  const size_t t = static_cast<size_t>(tokens.inputs.shape[1]);
  for (size_t k = 0; k < tokens.inputs.values.size(); ++k) {
    if (k % t == 0 || tokens.mask.data()[k] == 0.0f) continue;  // <start>, padding
    if (gen.uniform() < p) tokens.inputs.values[k] = Tokenizer::kUnknown;
  }
}

std::vector<size_t> shuffled_order(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  nn::Generator gen(seed);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);  // Fisher–Yates
  return order;
}

PassResult run_pass(size_t count, const std::vector<size_t>& order, int batch_size, const BatchLoss& loss_of,
                    nn::Optimizer* optimizer, const std::string& who, int epoch, const PassControl& control) {
  PassResult pass = control.so_far;
  for (size_t first = 0, step = 1; first < count; first += batch_size, ++step) {
    if (step < control.first_step) continue;
    if (control.before_step) control.before_step(step);
    std::vector<size_t> indices;
    for (size_t i = first; i < std::min(count, first + batch_size); ++i)
      indices.push_back(order.empty() ? i : order[i]);
    auto [loss, tokens] = loss_of(indices);
    const float value = loss.item();
    if (optimizer != nullptr) {
      if (!std::isfinite(value)) {
        nn::fail(who, "the loss is " + std::to_string(value) + " at epoch " + std::to_string(epoch) + ", step " +
                          std::to_string(step));
      }
      nn::fault_point("train_step");
      optimizer->zero_grad();
      loss.backward();
      if (!nn::gradients_finite(optimizer->parameters()))
        nn::fail(who, "the gradient is not finite at epoch " + std::to_string(epoch) + ", step " +
                          std::to_string(step) + " (the loss was " + std::to_string(value) + ")");
      optimizer->step();
    }
    pass.weighted += static_cast<double>(value) * tokens;
    pass.tokens += tokens;
    pass.steps = step;
    if (control.stop && first + batch_size < count && control.stop()) {
      pass.interrupted = true;
      break;
    }
  }
  pass.loss = pass.tokens ? pass.weighted / static_cast<double>(pass.tokens) : NAN;
  return pass;
}

void write_loss_curve(const fs::path& path, const std::vector<EpochResult>& history) {
  const std::string svg = loss_curve_svg(history);
  nn::write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(svg.data(), 1, svg.size(), f) != svg.size()) throw nn::Error("write failed");
  });
}

namespace {
// The masked cross-entropy of examples[indices] by teacher forcing, and the number of tokens it averages over;
// with word_dropout > 0 the inputs are dropped (drop_words) by `gen`.
std::pair<nn::Tensor, int64_t> teacher_forced_loss(CaptionModel& model, const FeatureLookup& features,
                                                   const std::vector<Example>& examples,
                                                   const std::vector<size_t>& indices, float word_dropout = 0.0f,
                                                   nn::Generator* gen = nullptr) {
  std::vector<const Example*> batch;
  for (size_t i : indices) batch.push_back(&examples[i]);
  Batch b = make_batch(batch, features);
  if (word_dropout > 0.0f) drop_words(b.tokens, word_dropout, *gen);
  return {nn::softmax_cross_entropy(model.forward(b.features, b.tokens.inputs), b.tokens.targets, b.tokens.mask),
          b.tokens.tokens};
}
}  // namespace

double evaluate_loss(CaptionModel& model, const FeatureLookup& features, const std::vector<Example>& examples,
                     int batch_size) {
  if (examples.empty()) return NAN;
  const bool was_training = model.is_training();
  model.eval();
  nn::NoGradGuard no_grad;
  PassResult pass = run_pass(examples.size(), {}, batch_size, [&](const std::vector<size_t>& indices) {
    return teacher_forced_loss(model, features, examples, indices);
  });
  model.train(was_training);
  return pass.loss;
}

std::vector<EpochResult> train(CaptionModel& model, const Tokenizer& tokenizer, const FeatureLookup& features,
                               const std::vector<Example>& train_set, const std::vector<Example>& val_set,
                               const TrainConfig& config, const std::function<void(const EpochResult&)>& on_epoch) {
  if (config.epochs < 1 || config.batch_size < 1 || !(config.learning_rate > 0)) {
    nn::fail_expected("train", "epochs ≥ 1, batch_size ≥ 1 and learning_rate > 0",
                      "epochs=" + std::to_string(config.epochs) + ", batch_size=" + std::to_string(config.batch_size));
  }
  if (!(config.word_dropout >= 0.0f && config.word_dropout < 1.0f))
    nn::fail_expected("train", "0 ≤ word_dropout < 1", std::to_string(config.word_dropout));
  if (train_set.empty()) nn::fail("train", "no training examples");
  nn::make_directories(config.out_dir);
  const fs::path last = config.out_dir / "last.nnck", best = config.out_dir / "best.nnck";
  nn::Adam adam(model.named_parameters(), {.lr = config.learning_rate});
  std::vector<EpochResult> history;
  double best_val = INFINITY;
  // An interrupted epoch to finish first: "EPOCH STEP WEIGHTED TOKENS" (train.partial).
  int partial_epoch = 0;
  PassResult partial;
  if (std::error_code ec; config.resume && fs::exists(last, ec)) {
    Texts texts = load_bundle_into(last, model, &adam);
    for (const auto& [key, value] : texts) {
      if (key == "train.history") history = parse_history(value);
      if (key == "train.partial") {
        std::istringstream in(value);
        if (!(in >> partial_epoch >> partial.steps >> partial.weighted >> partial.tokens))
          nn::fail(last.string(), "has an unreadable train.partial text '" + value + "'");
      }
    }
    for (const EpochResult& r : history) best_val = std::min(best_val, r.val_loss);
  }
  auto save_last = [&](const Texts& more) {
    Texts extra{{"train.history", history_text(history)}};
    extra.insert(extra.end(), more.begin(), more.end());
    extra.insert(extra.end(), config.bundle_texts.begin(), config.bundle_texts.end());
    save_bundle(last, model, tokenizer, &adam, extra);
    return extra;
  };
  model.train();
  for (int epoch = static_cast<int>(history.size()) + 1; epoch <= config.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    const uint64_t epoch_seed = config.seed * 1000003ull + static_cast<uint64_t>(epoch);
    adam.options().lr = scheduled_learning_rate(config, epoch);
    std::vector<size_t> order = shuffled_order(train_set.size(), epoch_seed);
    // Dropout masks and dropped words come from (seed, epoch, step), so a resumed epoch draws what it would have.
    nn::Generator word_gen;
    PassControl control{.before_step =
                            [&](size_t step) {
                              model.reseed_dropout(epoch_seed * 1000003ull + step);
                              word_gen = nn::Generator((epoch_seed * 1000003ull + step) ^ 0x770dd809ull);
                            },
                        .stop = stop_requested};
    if (epoch == partial_epoch) {
      control.first_step = partial.steps + 1;
      control.so_far = partial;
    }
    EpochResult r;
    r.epoch = epoch;
    PassResult pass;
    try {
      pass = run_pass(
          order.size(), order, config.batch_size,
          [&](const std::vector<size_t>& indices) {
            return teacher_forced_loss(model, features, train_set, indices, config.word_dropout, &word_gen);
          },
          &adam, "train", epoch, control);
    } catch (const nn::Error& e) {
      throw nn::Error(std::string(e.what()) + " (the last good checkpoint is " + last.string() + ")");
    }
    if (pass.interrupted) {
      char text[96];
      std::snprintf(text, sizeof text, "%d %zu %.17g %lld", epoch, pass.steps, pass.weighted,
                    static_cast<long long>(pass.tokens));
      save_last({{"train.epoch", std::to_string(epoch - 1)}, {"train.partial", text}});
      throw TrainingStopped("train: stopped on request at epoch " + std::to_string(epoch) + ", step " +
                            std::to_string(pass.steps) + "; saved " + last.string() + " (--resume continues there)");
    }
    r.train_loss = pass.loss;
    r.tokens = pass.tokens;
    r.val_loss = val_set.empty() ? NAN : evaluate_loss(model, features, val_set, config.batch_size);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history.push_back(r);
    const Texts extra = save_last({{"train.epoch", std::to_string(epoch)}});
    if (!(r.val_loss >= best_val)) {  // also when there is no validation loss (NaN)
      best_val = std::isnan(r.val_loss) ? best_val : r.val_loss;
      save_bundle(best, model, tokenizer, nullptr, extra);
    }
    write_loss_curve(config.out_dir / "loss.svg", history);
    if (on_epoch) on_epoch(r);
  }
  return history;
}

std::string loss_curve_svg(const std::vector<EpochResult>& history) {
  const double width = 640, height = 400, left = 60, right = 20, top = 30, bottom = 50;
  double low = INFINITY, high = -INFINITY;
  for (const EpochResult& r : history)
    for (double v : {r.train_loss, r.val_loss}) {
      if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
    }
  if (!std::isfinite(low)) low = 0, high = 1;
  if (high - low < 1e-9) high = low + 1;
  const size_t n = history.size();
  auto x = [&](size_t i) { return left + (n > 1 ? (width - left - right) * i / (n - 1) : 0.0); };
  auto y = [&](double v) { return top + (height - top - bottom) * (high - v) / (high - low); };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"18\">loss per word (train: blue, validation: orange)</text>\n"
      << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right << "\" y2=\""
      << height - bottom << "\" stroke=\"black\"/>\n<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
      << "\" y2=\"" << height - bottom << "\" stroke=\"black\"/>\n";
  svg << "<text x=\"5\" y=\"" << y(high) + 4 << "\">" << high << "</text>\n<text x=\"5\" y=\"" << y(low) + 4 << "\">"
      << low << "</text>\n<text x=\"" << width / 2 << "\" y=\"" << height - 15 << "\">epoch 1…" << n << "</text>\n";
  for (int series = 0; series < 2; ++series) {
    svg << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << (series ? "#e67e22" : "#2471a3") << "\" points=\"";
    for (size_t i = 0; i < n; ++i) {
      double v = series ? history[i].val_loss : history[i].train_loss;
      if (std::isfinite(v)) svg << x(i) << "," << y(v) << " ";
    }
    svg << "\"/>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace captioning
