#include "nn/models/xception.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/core/threads.h"
#include "nn/io/checkpoint.h"
#include "nn/layers/batch_parallel.h"

namespace nn {

namespace {

const PoolOptions kDownPool{.size = {3, 3}, .strides = {2, 2}, .padding = Padding::same};

}  // namespace

Xception::SepConvUnit Xception::unit(const std::string& name, int64_t in, int64_t out, bool relu_first,
                                     Generator& gen) {
  SepConvUnit u;
  u.relu_first = relu_first;
  u.conv = register_module(
      name, std::make_shared<SeparableConv2D>(
                SeparableConv2DOptions{.in_channels = in,
                                       .filters = out,
                                       .padding = Padding::same,
                                       .use_bias = options_.folded,
                                       .relu_input = options_.folded && relu_first},  // folded: the ReLU fused
                gen));
  if (!options_.folded)
    u.bn = register_module(name + "_bn", std::make_shared<BatchNorm>(BatchNormOptions{.channels = out}));
  return u;
}

Xception::Xception(const XceptionOptions& o, Generator& gen) : options_(o) {
  if (!(o.width > 0.0f) || o.middle_blocks < 0 || o.classes < 1) {
    fail_expected("Xception", "width > 0, middle_blocks ≥ 0 and classes ≥ 1",
                  "width=" + std::to_string(o.width) + ", middle_blocks=" + std::to_string(o.middle_blocks) +
                      ", classes=" + std::to_string(o.classes));
  }
  auto f = [&](int64_t filters) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(filters) * o.width)));
  };
  auto residual = [&](const std::string& block, int64_t in, int64_t out) {
    Residual r;
    r.conv = register_module(block + "_residual", std::make_shared<Conv2D>(Conv2DOptions{.in_channels = in,
                                                                                         .filters = out,
                                                                                         .kernel_size = {1, 1},
                                                                                         .strides = {2, 2},
                                                                                         .padding = Padding::same,
                                                                                         .use_bias = o.folded},
                                                                           gen));
    if (!o.folded) {
      r.bn = register_module(block + "_residual_bn", std::make_shared<BatchNorm>(BatchNormOptions{.channels = out}));
    }
    return r;
  };

  // Entry flow. Keras creates each down block's residual convolution before its separable ones.
  conv1_ = register_module(
      "block1_conv1",
      std::make_shared<Conv2D>(
          Conv2DOptions{
              .in_channels = 3, .filters = f(32), .kernel_size = {3, 3}, .strides = {2, 2}, .use_bias = o.folded},
          gen));
  if (!o.folded) {
    conv1_bn_ = register_module("block1_conv1_bn", std::make_shared<BatchNorm>(BatchNormOptions{.channels = f(32)}));
  }
  conv2_ = register_module(
      "block1_conv2",
      std::make_shared<Conv2D>(
          Conv2DOptions{.in_channels = f(32), .filters = f(64), .kernel_size = {3, 3}, .use_bias = o.folded}, gen));
  if (!o.folded) {
    conv2_bn_ = register_module("block1_conv2_bn", std::make_shared<BatchNorm>(BatchNormOptions{.channels = f(64)}));
  }
  int64_t channels = f(64);
  for (auto [block, out] : {std::pair{2, 128}, std::pair{3, 256}, std::pair{4, 728}}) {
    const std::string name = "block" + std::to_string(block);
    DownBlock down;
    down.residual = residual(name, channels, f(out));
    down.units.push_back(unit(name + "_sepconv1", channels, f(out), block != 2, gen));  // block 2: no ReLU first
    down.units.push_back(unit(name + "_sepconv2", f(out), f(out), true, gen));
    entry_.push_back(down);
    channels = f(out);
  }
  // Middle flow: three ReLU → SeparableConv → BN units and an identity shortcut per block.
  for (int b = 0; b < o.middle_blocks; ++b) {
    const std::string name = "block" + std::to_string(5 + b);
    std::vector<SepConvUnit> units;
    for (int k = 1; k <= 3; ++k)
      units.push_back(unit(name + "_sepconv" + std::to_string(k), channels, channels, true, gen));
    middle_.push_back(units);
  }
  // Exit flow.
  const std::string b13 = "block" + std::to_string(5 + o.middle_blocks);
  exit_.residual = residual(b13, channels, f(1024));
  exit_.units.push_back(unit(b13 + "_sepconv1", channels, f(728), true, gen));
  exit_.units.push_back(unit(b13 + "_sepconv2", f(728), f(1024), true, gen));
  const std::string b14 = "block" + std::to_string(6 + o.middle_blocks);
  block14_.push_back(unit(b14 + "_sepconv1", f(1024), f(1536), false, gen));
  block14_.push_back(unit(b14 + "_sepconv2", f(1536), f(2048), false, gen));
  feature_channels_ = f(2048);
  if (o.include_top) {
    predictions_ = register_module(
        "predictions",
        std::make_shared<Dense>(
            DenseOptions{.in = feature_channels_, .out = o.classes, .activation = Activation::softmax}, gen));
  }
}

Tensor Xception::normalized(const std::shared_ptr<BatchNorm>& bn, const Tensor& x) {
  return bn ? (*bn)(x) : x;
}

Tensor Xception::run_units(const std::vector<SepConvUnit>& units, Tensor x) {
  for (const SepConvUnit& u : units) {
    const bool relu_here = u.relu_first && !options_.folded;  // a folded unit's convolution reads relu(x) itself
    x = normalized(u.bn, (*u.conv)(relu_here ? relu(x) : x));
  }
  return x;
}

std::shared_ptr<Xception> Xception::folded() const {
  if (options_.folded) fail("Xception::folded", "the model is folded already");
  if (conv1_->kernel().dtype() != DType::f32) {
    fail_expected("Xception::folded", "an f32 model (fold first, then convert with to())",
                  std::string("a ") + dtype_name(conv1_->kernel().dtype()) + " model");
  }
  XceptionOptions o = options_;
  o.folded = true;
  auto out = std::make_shared<Xception>(o, scratch_generator());
  NoGradGuard no_grad;
  auto fold_into = [](const Tensor& kernel, const BatchNorm& bn, Tensor into_kernel, Tensor into_bias) {
    const FoldedConv f = fold_batch_norm(kernel, Tensor(), bn);
    into_kernel.copy_from(f.kernel);
    into_bias.copy_from(f.bias);
  };
  auto fold_conv = [&](const Conv2D& from, const BatchNorm& bn, Conv2D& to) {
    fold_into(from.kernel(), bn, to.kernel(), to.bias());
  };
  auto fold_unit = [&](const SepConvUnit& from, const SepConvUnit& to) {
    to.conv->depthwise_kernel().copy_from(from.conv->depthwise_kernel());
    fold_into(from.conv->pointwise_kernel(), *from.bn, to.conv->pointwise_kernel(), to.conv->bias());
  };
  auto fold_units = [&](const std::vector<SepConvUnit>& from, const std::vector<SepConvUnit>& to) {
    for (size_t i = 0; i < from.size(); ++i) fold_unit(from[i], to[i]);
  };
  fold_conv(*conv1_, *conv1_bn_, *out->conv1_);
  fold_conv(*conv2_, *conv2_bn_, *out->conv2_);
  for (size_t b = 0; b < entry_.size(); ++b) {
    fold_conv(*entry_[b].residual.conv, *entry_[b].residual.bn, *out->entry_[b].residual.conv);
    fold_units(entry_[b].units, out->entry_[b].units);
  }
  for (size_t b = 0; b < middle_.size(); ++b) fold_units(middle_[b], out->middle_[b]);
  fold_conv(*exit_.residual.conv, *exit_.residual.bn, *out->exit_.residual.conv);
  fold_units(exit_.units, out->exit_.units);
  fold_units(block14_, out->block14_);
  if (predictions_) {
    out->predictions_->kernel().copy_from(predictions_->kernel());
    out->predictions_->bias().copy_from(predictions_->bias());
  }
  out->eval();
  return out;
}

Tensor Xception::forward(const Tensor& input) {
  if (input.rank() != 4 || input.dim(3) != 3) {
    fail_expected("Xception", "an input of shape (N,H,W,3)", nn::to_string(input.shape()));
  }
  if (input.dim(1) < 71 || input.dim(2) < 71) {
    fail_expected("Xception", "an input of at least 71×71 pixels", nn::to_string(input.shape()));
  }
  // Inference on a batch: a worker per thread, each taking chunks of it through the whole network with its share of
  // the kernel threads (no barrier per layer across workers). Training keeps the whole batch together: its batch norms
  // use the batch's statistics. While summary() logs shapes, one thread sees every layer.
  const int threads = current_num_threads();
  if (batch_parallel() && !is_training() && !grad_mode_enabled() && input.dim(0) >= 2 && threads >= 2 &&
      !logging_shapes())
    return run_batch_parallel([this](const Tensor& part) { return forward_whole(part); }, input, threads);
  return forward_whole(input);
}

bool Xception::batch_parallel() const {
  return batch_parallel_.value_or(conv1_->kernel().dtype() == DType::f32);
}

Tensor Xception::forward_whole(const Tensor& input) {
  // A model converted with to(nn::bf16) computes in bf16 from the stem on (an f32 input is converted there) and
  // returns f32: the last feature map is converted before the pooling, whose sums want f32 anyway.
  const DType dtype = conv1_->kernel().dtype();
  // Children are called through Layer::operator(), so that summary(input_shape) shows their output shapes.
  Tensor x = relu(normalized(conv1_bn_, (*conv1_)(input.to(dtype))));
  x = relu(normalized(conv2_bn_, (*conv2_)(x)));
  // Down blocks: the shortcut reads the block's input before the first ReLU (never a ReLU done in place).
  auto down = [&](const DownBlock& b, const Tensor& in) {
    Tensor shortcut = normalized(b.residual.bn, (*b.residual.conv)(in));
    return add(max_pool2d(run_units(b.units, in), kDownPool), shortcut);
  };
  for (const DownBlock& b : entry_) x = down(b, x);
  for (const auto& units : middle_) x = add(run_units(units, x), x);
  x = down(exit_, x);
  for (const SepConvUnit& u : block14_) x = relu(normalized(u.bn, (*u.conv)(x)));
  x = x.to(DType::f32);
  if (options_.include_top) return (*predictions_)(global_avg_pool2d(x));
  switch (options_.pooling) {
    case XceptionPooling::avg:
      return global_avg_pool2d(x);
    case XceptionPooling::max: {
      const PoolOptions whole{.size = {x.dim(1), x.dim(2)}};
      return max_pool2d(x, whole).reshape({x.dim(0), x.dim(3)});
    }
    case XceptionPooling::none:
      return x;
  }
  return x;
}

std::string Xception::to_string() const {
  static const char* const kPooling[] = {"none", "avg", "max"};
  char buffer[200];
  std::snprintf(buffer, sizeof buffer,
                "Xception(width=%g, middle_blocks=%d, include_top=%s, pooling=%s, features=%lld)",
                static_cast<double>(options_.width), options_.middle_blocks, options_.include_top ? "true" : "false",
                kPooling[static_cast<int>(options_.pooling)], static_cast<long long>(feature_channels_));
  return buffer;
}

int64_t xception_state_numel(const XceptionOptions& o) {
  auto f = [&](int64_t filters) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(filters) * o.width)));
  };
  auto bn = [](int64_t c) { return 4 * c; };  // gamma, beta, moving mean and variance
  auto unit = [&](int64_t in, int64_t out) { return 9 * in + in * out + bn(out); };  // depthwise, pointwise, BN
  auto residual = [&](int64_t in, int64_t out) { return in * out + bn(out); };
  int64_t n = 27 * f(32) + bn(f(32)) + 9 * f(32) * f(64) + bn(f(64));
  int64_t channels = f(64);
  for (int64_t out : {128, 256, 728}) {
    n += residual(channels, f(out)) + unit(channels, f(out)) + unit(f(out), f(out));
    channels = f(out);
  }
  n += 3 * static_cast<int64_t>(o.middle_blocks) * unit(channels, channels);
  n += residual(channels, f(1024)) + unit(channels, f(728)) + unit(f(728), f(1024));
  n += unit(f(1024), f(1536)) + unit(f(1536), f(2048));
  if (o.include_top) n += f(2048) * o.classes + o.classes;
  return n;
}

void option_fields(OptionsArchive& archive, XceptionOptions& o) {
  archive.field("include_top", o.include_top);
  archive.field("pooling", o.pooling,
                {{"none", XceptionPooling::none}, {"avg", XceptionPooling::avg}, {"max", XceptionPooling::max}});
  archive.field("width", o.width, {.min = 0.001, .max = 4});
  archive.field("middle_blocks", o.middle_blocks, {.min = 0, .max = 64});
  archive.field("classes", o.classes, {.min = 1, .max = 100'000});
}

namespace {

// The texts written before "xception.options" (no pooling: those files always meant average pooling).
XceptionOptions legacy_options(const std::vector<std::pair<std::string, std::string>>& texts,
                               const std::filesystem::path& path) {
  auto text = [&](const std::string& key) {
    for (const auto& [k, v] : texts)
      if (k == key) return v;
    fail(path.string(), "is not an Xception model file (no 'xception.options')");
  };
  XceptionOptions o;
  try {
    o.include_top = text("xception.include_top") == "1";
    o.width = std::stof(text("xception.width"));
    o.middle_blocks = std::stoi(text("xception.middle_blocks"));
    o.classes = std::stoll(text("xception.classes"));
  } catch (const std::logic_error&) {
    fail(path.string(), "has an unreadable Xception configuration");
  }
  if (!(o.width > 0.0f && o.width <= 4.0f) || o.middle_blocks < 0 || o.middle_blocks > 64 || o.classes < 1 ||
      o.classes > 100000) {
    fail(path.string(), "has an implausible Xception configuration");
  }
  return o;
}

}  // namespace

void save_xception(const std::filesystem::path& path, const Xception& model) {
  if (model.options().folded) {
    fail(path.string(), "save_xception: a folded Xception is an inference copy; save the model it was folded from");
  }
  save(path, model, nullptr, {{"model", "xception"}, options_entry("xception.options", model.options())});
}

std::unique_ptr<Xception> load_xception(const std::filesystem::path& path) {
  // The configuration only; the weights are read once, into the model.
  const auto texts = read_checkpoint_texts(path);
  const std::string* kind = nullptr;
  for (const auto& [k, v] : texts)
    if (k == "model") kind = &v;
  if (kind == nullptr) fail(path.string(), "is not an Xception model file (no 'model')");
  if (*kind != "xception") fail(path.string(), "holds a '" + printable(*kind) + "' model, not an Xception");
  std::optional<XceptionOptions> read = find_options<XceptionOptions>(texts, "xception.options", path);
  const XceptionOptions o = read ? *read : legacy_options(texts, path);
  check_model_fits(path, xception_state_numel(o));
  auto model = std::make_unique<Xception>(o);
  load(path, *model);
  model->eval();
  return model;
}

}  // namespace nn
