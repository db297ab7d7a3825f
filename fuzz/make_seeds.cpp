// Writes small valid inputs for each fuzz target into fuzz/corpus/<target>/ (the .h5 seeds come from
// make_h5_seeds.py). usage: fuzz_make_seeds CORPUS_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <captioning/bundle.h>
#include <captioning/captioner.h>
#include <captioning/feature_cache.h>
#include <captioning/tokenizer.h>
#include <nn/core/tensor.h>

namespace fs = std::filesystem;

static void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n"), 2;
  const fs::path dir = argv[1];
  for (const char* t :
       {"fuzz_image", "fuzz_checkpoint", "fuzz_feature_cache", "fuzz_flickr8k_text", "fuzz_speech_text"})
    fs::create_directories(dir / t);

  std::vector<unsigned char> rgba(3 * 2 * 4), grey(5 * 4), rgb(8 * 8 * 3);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = static_cast<unsigned char>(i * 37);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<unsigned char>(i * 11);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>(i * 5);
  stbi_write_png((dir / "fuzz_image" / "rgba_3x2.png").c_str(), 3, 2, 4, rgba.data(), 12);
  stbi_write_png((dir / "fuzz_image" / "grey_5x4.png").c_str(), 5, 4, 1, grey.data(), 5);
  stbi_write_jpg((dir / "fuzz_image" / "rgb_8x8.jpg").c_str(), 8, 8, 3, rgb.data(), 90);

  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit({"red circle"});
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 4, .units = 4});
  captioning::save_bundle(dir / "fuzz_checkpoint" / "caption_model.nnck", model, tokenizer, nullptr,
                          {{"features.extractor", "xception random width=0.03125 seed=1 filter=nearest"}});
  captioning::ImageCaptioner captioner(
      {.cnn_width = 1.0f / 32, .cnn_middle_blocks = 0, .image_size = 71, .vocab = tokenizer.vocab_size(), .units = 4});
  captioning::save_captioner(dir / "fuzz_checkpoint" / "captioner.nnck", captioner, tokenizer);

  {
    captioning::FeatureCache cache(dir / "fuzz_feature_cache" / "two_records.bin", 4, "fuzz extractor");
    cache.append({{"a.jpg", nn::Tensor::full({4}, 0.5f)}, {"b", nn::Tensor::full({1, 4}, -1.0f)}});
  }

  write_text(dir / "fuzz_flickr8k_text" / "token.txt",
             "1111111111_aaaaaaaaaa.jpg#0\tA boy in a red coat is walking down a flight of steps .\n"
             "1111111111_aaaaaaaaaa.jpg#1\tA woman going into a stone house .\n"
             "2222222222_bbbbbbbbbb.jpg#0\tA white cat and a striped cat are sleeping\n");
  write_text(dir / "fuzz_flickr8k_text" / "split.txt", "1111111111_aaaaaaaaaa.jpg\n2222222222_bbbbbbbbbb.jpg\n");
  write_text(dir / "fuzz_speech_text" / "caption.txt", "A dog runs on the grass, and 2 cats watch.");
  write_text(dir / "fuzz_speech_text" / "mixed.txt",
             "Mr. Smith's 21st caf\xc3\xa9 \xe2\x80\x94 QXZ? 3.5% of $40, e.g. skateboarders!");
  return 0;
}
