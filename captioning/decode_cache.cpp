#include "captioning/decode_cache.h"

#include <algorithm>
#include <cstring>

#include <nn/autograd/autograd.h>
#include <nn/core/error.h>

#include "captioning/decode_step.h"
#include "captioning/output_screen_kernels.h"

namespace captioning {

namespace {

// The model, once its embedding and LSTM are known to be f32 (the output layer is the OutputScreen's to check).
const CaptionModel& with_f32_inputs(const CaptionModel& model) {
  const nn::LstmWeights w = model.lstm_layer().weights();
  for (const auto& [name, t] :
       {std::pair{"embedding", model.embedding_layer().weight()}, std::pair{"lstm kernel", w.kernel},
        std::pair{"lstm recurrent kernel", w.recurrent_kernel}, std::pair{"lstm bias", w.bias}}) {
    if (t.dtype() != nn::DType::f32)
      nn::fail_expected("DecodeCache", std::string("f32 ") + name, nn::dtype_name(t.dtype()));
  }
  return model;
}

}  // namespace

DecodeCache::DecodeCache(const CaptionModel& model, int64_t max_gate_table_bytes)
    : vocab_(model.options().vocab), width_(4 * model.options().units), screen_(with_f32_inputs(model).output_layer()) {
  const nn::Tensor embedding = model.embedding_layer().weight();
  const nn::LstmWeights w = model.lstm_layer().weights();
  embedding_sample_ = WeightSample(embedding);
  kernel_sample_ = WeightSample(w.kernel);
  bias_sample_ = WeightSample(w.bias);
  // The table, kMaxStepRows words at a time, by the function a step uses (the same numbers whatever the rows).
  nn::NoGradGuard no_grad;
  const int64_t e = embedding.dim(1);
  if (vocab_ * width_ * static_cast<int64_t>(sizeof(float)) > max_gate_table_bytes) return;
  gates_.resize(static_cast<size_t>(vocab_ * width_));
  for (int64_t w0 = 0; w0 < vocab_; w0 += kMaxStepRows) {
    const int64_t rows = std::min(kMaxStepRows, vocab_ - w0);
    nn::Tensor words = nn::Tensor::empty({rows, e});
    std::memcpy(words.data(), embedding.data() + w0 * e, sizeof(float) * rows * e);
    const nn::Tensor gates = lstm_input_gates(model.lstm_layer(), words);
    std::memcpy(gates_.data() + w0 * width_, gates.data(), sizeof(float) * rows * width_);
  }
}

bool DecodeCache::screens_output() const {
  return screen_products_kind(1) != ScreenProducts::plain;  // the kernel screen_rows runs, not a second guess at it
}

bool DecodeCache::fits(const CaptionModel& model) const {
  return model.options().vocab == vocab_ && 4 * model.options().units == width_ &&
         model.output_layer().options().in == screen_.in() && model.output_layer().options().out == screen_.out();
}

std::string DecodeCache::shapes() const {
  return "V=" + std::to_string(vocab_) + ", U=" + std::to_string(width_ / 4);
}

bool DecodeCache::matches(const CaptionModel& model) const {
  const nn::LstmWeights w = model.lstm_layer().weights();
  return fits(model) && embedding_sample_.matches(model.embedding_layer().weight()) &&
         kernel_sample_.matches(w.kernel) && bias_sample_.matches(w.bias) && screen_.matches(model.output_layer());
}

nn::Tensor DecodeCache::word_gates(const std::vector<int32_t>& words) const {
  if (gates_.empty()) {
    nn::fail_expected("DecodeCache", "a gate table", "none (built without one for " + shapes() + ")");
  }
  nn::Tensor gates = nn::Tensor::empty({static_cast<int64_t>(words.size()), width_});
  for (size_t r = 0; r < words.size(); ++r) {
    if (words[r] < 0 || words[r] >= vocab_) {
      nn::fail_expected("DecodeCache", "word ids in [0," + std::to_string(vocab_) + ")",
                        std::to_string(words[r]) + " at row " + std::to_string(r));
    }
    std::memcpy(gates.data() + static_cast<int64_t>(r) * width_, gates_.data() + int64_t{words[r]} * width_,
                sizeof(float) * width_);
  }
  return gates;
}

}  // namespace captioning
