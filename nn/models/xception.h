/// @file
/// Xception (Chollet 2017) exactly as Keras builds it (keras.applications.Xception): layer order, names, shapes,
/// TensorFlow padding; so that Keras's ImageNet weights load into it and give the same features.
///   input (N,299,299,3) scaled to [−1, 1] → entry flow (blocks 1–4) → middle flow (blocks 5–12) → exit flow
///   (blocks 13–14) → (N,10,10,2048) → global average (or max) pooling → (N,2048) [→ Dense 1000 softmax].
/// Layers are registered in Keras-1's creation order (each down block's residual convolution before its separable
/// ones), which is the order of the weights in Keras's .h5 files: named_state() lists them so.
/// Parameters are named by Keras layer: "block1_conv1.kernel", "block2_sepconv1_bn.gamma"… Keras leaves the four
/// residual 1×1 convolutions unnamed (conv2d_N, batch_normalization_N); here they are "blockB_residual" and
/// "blockB_residual_bn" for B = 2, 3, 4, 13.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "nn/io/options.h"
#include "nn/layers/batch_norm.h"
#include "nn/layers/conv.h"
#include "nn/layers/dense.h"
#include "nn/layers/module.h"

namespace nn {

/// What Xception does to the final feature map without the top (Keras's `pooling=`).
enum class XceptionPooling { none, avg, max };

/// Xception's configuration, Keras's arguments plus a width multiplier.
struct XceptionOptions {
  bool include_top = false;                        ///< global average pooling + Dense(classes, softmax)
  XceptionPooling pooling = XceptionPooling::avg;  ///< without the top: (N,10,10,2048) → (N,2048), or none
  float width = 1.0f;                              ///< multiplies every filter count (small test and demo models)
  int middle_blocks = 8;                           ///< Keras: 8 (blocks 5–12)
  int64_t classes = 1000;                          ///< the top's outputs (with include_top)
  /// The inference form Xception::folded() builds: every BatchNorm folded into the convolution before it (the
  /// convolutions have biases; there are no BatchNorm layers). Not part of the saved options: a folded model is
  /// not saved (save_xception refuses it), the model it was folded from is.
  bool folded = false;
};

/// The Xception network (see the file comment): x (N,H,W,3) → features (N,2048), (N,10,10,2048) with
/// XceptionPooling::none, or class probabilities (N,classes) with the top.
class Xception : public Layer {
 public:
  /// Builds the layers, drawing their initial weights from `gen`.
  explicit Xception(const XceptionOptions& options = {}, Generator& gen = default_generator());

  /// x (N,H,W,3), already preprocessed to [−1, 1] (H, W ≥ 71; 299 for ImageNet). In eval() mode the batch norms
  /// use their moving statistics. After to(nn::bf16) (Module::to: the batch norms stay f32) the network computes in
  /// bf16: x of either dtype is converted to bf16 at the stem, and the result (features, feature map or
  /// probabilities) is f32 — the last feature map is converted before the pooling.
  Tensor forward(const Tensor& x) override;

  /// An inference copy with every BatchNorm folded into the convolution before it (fold_batch_norm: kernels scaled
  /// per output channel by γ/√(σ² + ε), biases β − μ·γ/√(σ² + ε) from the moving statistics) and each ReLU before a
  /// separable convolution fused into its depthwise read, in eval mode: the same features within float rounding,
  /// without a normalisation pass per convolution or a ReLU pass per unit — what PyTorch's frozen TorchScript does
  /// to its graph. A snapshot: later changes to this model do not reach it. Needs an f32 model (fold
  /// first, then to(nn::bf16)); throws nn::Error otherwise, or when this model is folded already.
  std::shared_ptr<Xception> folded() const;

  /// Batch-level parallelism in inference: in eval mode, with nothing recorded, a batch of N ≥ 2 runs on
  /// min(N, threads) workers at once, each taking chunks of the batch with its share of the kernel threads
  /// (run_batch_parallel), giving the features of the whole batch within float rounding. Off: each layer parallel
  /// within. A memory plan (MemoryPlanScope) covers the calling thread's chunks only, and only while it takes as many
  /// as in the recorded run (the workers take them as they come). Until set, on for an f32 model and off for a bf16
  /// one: the folded bf16 model's batch of 8 ran faster with each layer parallel within in every run of
  /// benchmarks/xception on 2 threads of an Intel Xeon with AMX (sessions 20–22: 44.4–52.4 against 37.7–51.9 images/s
  /// for a worker per thread), the f32 one with workers (17.4 against 17.0–17.2 in session 22).
  void set_batch_parallel(bool on) { batch_parallel_ = on; }
  /// Whether a batch runs on workers: the choice set, or the default for the model's dtype.
  bool batch_parallel() const;

  /// The channel count of the final feature map (2048 at width 1).
  int64_t feature_channels() const { return feature_channels_; }
  /// The configuration it was built with.
  const XceptionOptions& options() const { return options_; }
  std::string to_string() const override;

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<Xception>(options_, scratch_generator());
  }
  // [ReLU] → SeparableConv2D "NAME" → BatchNorm "NAME_bn", both registered on the model under Keras's flat names
  // (folded: no BatchNorm, the convolution has a bias).
  struct SepConvUnit {
    bool relu_first = true;
    std::shared_ptr<SeparableConv2D> conv;
    std::shared_ptr<BatchNorm> bn;
  };
  SepConvUnit unit(const std::string& name, int64_t in, int64_t out, bool relu_first, Generator& gen);
  // x normalised by `bn`, or x itself in a folded model (no BatchNorm).
  static Tensor normalized(const std::shared_ptr<BatchNorm>& bn, const Tensor& x);
  Tensor run_units(const std::vector<SepConvUnit>& units, Tensor x);
  Tensor forward_whole(const Tensor& input);  // forward on this thread's kernel threads, the input checked

  struct Residual {
    std::shared_ptr<Conv2D> conv;
    std::shared_ptr<BatchNorm> bn;
  };
  // An entry/exit block: units, then a 3×3/2 max-pool, plus a strided 1×1 convolution of the block's input.
  struct DownBlock {
    std::vector<SepConvUnit> units;
    Residual residual;
  };

  XceptionOptions options_;
  int64_t feature_channels_ = 0;
  std::optional<bool> batch_parallel_;  // unset: by dtype (batch_parallel())
  std::shared_ptr<Conv2D> conv1_, conv2_;
  std::shared_ptr<BatchNorm> conv1_bn_, conv2_bn_;
  std::vector<DownBlock> entry_;                  // blocks 2, 3, 4
  std::vector<std::vector<SepConvUnit>> middle_;  // blocks 5 … 4 + middle_blocks
  DownBlock exit_;                                // block 13
  std::vector<SepConvUnit> block14_;              // ReLU after each unit
  std::shared_ptr<Dense> predictions_;
};

/// Describes XceptionOptions to an options archive (nn/io/options.h): include_top, pooling ("none", "avg", "max"),
/// width in [0.001, 4], middle_blocks in [0, 64], classes in [1, 100000].
void option_fields(OptionsArchive& archive, XceptionOptions& options);

/// The number of floats in an Xception's named_state() (parameters and buffers) for `options`, without building
/// it: 20,861,480 without the top at width 1, as Keras counts (its moving statistics included), 22,910,480 with.
int64_t xception_state_numel(const XceptionOptions& options);

/// Saves an Xception with its options as JSON (texts "model" = "xception" and "xception.options"), so that
/// load_xception rebuilds it — pooling, width, middle blocks, top — from the file alone.
void save_xception(const std::filesystem::path& path, const Xception& model);
/// Rebuilds and loads a model written by save_xception, in eval mode. Files from before "xception.options" (texts
/// "xception.include_top", "xception.width", "xception.middle_blocks", "xception.classes"; always average pooling)
/// still load. Throws nn::Error naming the file (and the option) on anything else or an implausible option.
std::unique_ptr<Xception> load_xception(const std::filesystem::path& path);

}  // namespace nn
