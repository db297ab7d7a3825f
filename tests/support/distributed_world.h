// The small captioning problem the data-parallel tests train on, built the same way in the test (the
// single-process oracle) and in tests/distributed_worker.cpp (the mpirun ranks): `images` examples with features
// (1, 8) drawn from the image's number and captions of 2 … 6 words, so that the shards of a batch hold different
// numbers of words and the masked loss's averaging by the global word count is exercised.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <captioning/trainer.h>
#include <nn/core/random.h>

namespace test {

struct DistributedWorld {
  std::map<std::string, std::vector<std::string>> captions;
  std::vector<std::string> train_ids, val_ids;
  captioning::Tokenizer tokenizer;
  std::vector<captioning::Example> train_set, val_set;
  captioning::FeatureLookup features = [](const std::string& id) {
    nn::Generator gen(std::stoull(id) + 11);
    return nn::Tensor::normal({1, 8}, 0.0f, 1.0f, gen);
  };

  DistributedWorld(int train_images, int val_images) {
    const char* words[] = {"dog", "cat", "runs", "sleeps", "on", "grass", "sofa", "red", "big", "small"};
    std::vector<std::string> all;
    for (int i = 0; i < train_images + val_images; ++i) {
      std::string caption;
      for (int j = 0; j < 2 + i % 5; ++j) caption += std::string(j > 0 ? " " : "") + words[(i * 7 + j * 3) % 10];
      const std::string id = std::to_string(i);
      captions[id] = {caption};
      all.push_back(caption);
      (i < train_images ? train_ids : val_ids).push_back(id);
    }
    tokenizer = captioning::Tokenizer::fit(all);
    train_set = captioning::make_examples(train_ids, captions, tokenizer);
    val_set = captioning::make_examples(val_ids, captions, tokenizer);
  }

  // No dropout: masks differ per rank by design, which the comparison with one process must leave out.
  captioning::CaptionModelOptions model_options() const {
    return {.vocab = tokenizer.vocab_size(), .feature_dim = 8, .units = 16, .dropout = 0.0f, .seed = 3};
  }
};

}  // namespace test
