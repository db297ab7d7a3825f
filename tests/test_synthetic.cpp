// The synthetic captioning world: Flickr8k layout, deterministic, held-out combinations only in the test split,
// images that show what their captions say.
#include <array>
#include <filesystem>
#include <fstream>
#include <set>

#include <captioning/captioner.h>
#include <captioning/describer.h>
#include <captioning/evaluation.h>
#include <captioning/flickr8k.h>
#include <captioning/generate.h>
#include <captioning/synthetic.h>
#include <nn/autograd/autograd.h>
#include <nn/io/checkpoint.h>
#include <nn/io/image.h>

#include "support/check.h"
#include "support/files.h"

namespace fs = std::filesystem;

namespace {
std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
bool is_held_out(const captioning::SyntheticObject& o) {
  for (const auto& [shape, colour] : captioning::held_out_combinations()) {
    if (o.shape == shape && o.colour == colour) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("the synthetic world is written in the Flickr8k layout, deterministically, and reads back") {
  test::TempDir dir("nn_synthetic");
  captioning::SyntheticOptions o{.train = 24, .dev = 6, .test = 8, .size = 96, .seed = 3};
  std::vector<captioning::SyntheticImage> images = captioning::write_synthetic_flickr8k(dir.path / "a", o);
  REQUIRE(images.size() == 38);
  captioning::Flickr8kPaths paths = captioning::find_flickr8k(dir.path / "a");
  captioning::ReadReport report;
  captioning::Descriptions d = captioning::read_token_file(paths.token_file, report);
  CHECK(d.size() == 38);
  CHECK(report.malformed_lines == 0);
  for (const auto& [id, captions] : d) CHECK(captions.size() == 4);
  CHECK(captioning::read_split(paths.train_split, d, report).size() == 24);
  CHECK(captioning::read_split(paths.test_split, d, report).size() == 8);

  // The same seed writes the same bytes; another seed does not.
  captioning::write_synthetic_flickr8k(dir.path / "b", o);
  CHECK(bytes_of(dir.path / "a" / "text" / "Flickr8k.token.txt") ==
        bytes_of(dir.path / "b" / "text" / "Flickr8k.token.txt"));
  CHECK(bytes_of(dir.path / "a" / "images" / "shapes_00005.jpg") ==
        bytes_of(dir.path / "b" / "images" / "shapes_00005.jpg"));
  o.seed = 4;
  captioning::write_synthetic_flickr8k(dir.path / "c", o);
  CHECK(bytes_of(dir.path / "a" / "text" / "Flickr8k.token.txt") !=
        bytes_of(dir.path / "c" / "text" / "Flickr8k.token.txt"));
}

TEST_CASE("held-out shape-colour combinations appear in every test image and in no training or dev image") {
  test::TempDir dir("nn_synthetic");
  std::vector<captioning::SyntheticImage> images =
      captioning::write_synthetic_flickr8k(dir.path, {.train = 60, .dev = 10, .test = 15, .seed = 9});
  for (size_t i = 0; i < images.size(); ++i) {
    bool any = false;
    for (const auto& o : images[i].objects) any = any || is_held_out(o);
    INFO("image " << images[i].id);
    CHECK(any == (i >= 70));
  }
}

TEST_CASE("each object is drawn in its colour where the captions put it, and captions name every object") {
  test::TempDir dir("nn_synthetic");
  std::vector<captioning::SyntheticImage> images =
      captioning::write_synthetic_flickr8k(dir.path, {.train = 12, .dev = 0, .test = 3, .seed = 5});
  const std::map<std::string, std::array<float, 3>> colours{{"red", {220, 30, 30}},     {"green", {30, 170, 40}},
                                                            {"blue", {40, 70, 220}},    {"yellow", {235, 210, 30}},
                                                            {"purple", {140, 40, 170}}, {"white", {245, 245, 245}}};
  for (const auto& image : images) {
    nn::Tensor pixels = nn::load_image(dir.path / "images" / (image.id + ".jpg"));
    REQUIRE(pixels.shape() == nn::Shape{96, 96, 3});
    for (size_t k = 0; k + 1 < image.objects.size(); ++k) CHECK(image.objects[k].cx < image.objects[k + 1].cx);
    for (const auto& o : image.objects) {
      INFO(image.id << ": " << o.colour << " " << o.shape << " at " << o.cx << "," << o.cy);
      for (int c = 0; c < 3; ++c) CHECK(std::fabs(pixels.at({o.cy, o.cx, c}) - colours.at(o.colour)[c]) < 40);
      for (const std::string& caption : image.captions) {
        CHECK(caption.find(o.colour + " " + o.shape) != std::string::npos);
      }
    }
  }
}

TEST_CASE("the shipped model (weights/shapes.nnck) loads and names every object of the bundled sample") {
  const fs::path weights = fs::path(NN_SOURCE_DIR) / "weights";
  captioning::CaptionerBundle bundle = captioning::load_captioner(weights / "shapes.nnck");
  nn::NoGradGuard no_grad;
  nn::Tensor features = bundle.model->features(
      captioning::load_captioner_input(weights / "sample_shapes.jpg", bundle.model->options().image_size));
  const std::string caption = captioning::greedy_caption(bundle.model->decoder(), bundle.tokenizer, features).text;
  std::ifstream references(weights / "sample_shapes.txt");
  std::string reference;
  REQUIRE(std::getline(references, reference));
  INFO("caption: " << caption << "; reference: " << reference);
  CHECK(captioning::names_every_object(caption, reference));
  CHECK_FALSE(captioning::names_every_object("small red circle", reference));  // the check can fail
  CHECK(captioning::count_objects(reference) == 3);
  CHECK(captioning::count_objects("red circle to the left of blue squares") == 1);  // "squares" is not a shape word
  CHECK(captioning::count_objects("") == 0);
}

TEST_CASE("a captioner attending over its feature map round-trips through its bundle, attention recorded") {
  CHECK(captioning::feature_map_side(299) == 10);  // Keras's Xception: (N,10,10,2048) at 299×299
  CHECK(captioning::feature_map_side(96) == 3);
  CHECK(captioning::feature_map_side(71) == 3);
  captioning::Tokenizer tokenizer = captioning::Tokenizer::fit({"a red circle", "a blue square beside a red circle"});
  captioning::ImageCaptioner model({.cnn_width = 1.0f / 32,
                                    .cnn_middle_blocks = 0,
                                    .image_size = 71,
                                    .vocab = tokenizer.vocab_size(),
                                    .units = 8,
                                    .attention = true});
  model.eval();
  nn::NoGradGuard no_grad;
  nn::Generator gen(5);
  const nn::Tensor images = nn::Tensor::uniform({2, 71, 71, 3}, -1, 1, gen);
  const int64_t channels = 64;  // 2048 / 32
  CHECK(model.features(images).shape() == nn::Shape{2, 9 * channels});
  const nn::Indices ids({2, 3}, {1, 4, 5, 1, 6, 4});
  const nn::Tensor logits = model.forward(images, ids);
  test::TempDir dir("nn_attention_bundle");
  captioning::save_captioner(dir.path / "a.nnck", model, tokenizer);
  captioning::CaptionerBundle loaded = captioning::load_captioner(dir.path / "a.nnck");
  CHECK(loaded.model->options().attention);
  CHECK(loaded.model->decoder().options().positions == 9);
  test::check_close(loaded.model->forward(images, ids), logits, 1e-6, 1e-7, "logits after loading");
  // A bundle from before attention existed (hand-made texts, no "captioner.attention") loads as a pooling captioner.
  captioning::ImageCaptioner pooled(
      {.cnn_width = 1.0f / 32, .cnn_middle_blocks = 0, .image_size = 71, .vocab = tokenizer.vocab_size(), .units = 8});
  const captioning::Texts texts{{"model", "image-captioner"},
                                {"captioner.cnn_width", "0.03125"},
                                {"captioner.cnn_middle_blocks", "0"},
                                {"captioner.image_size", "71"},
                                {"captioner.vocab", std::to_string(tokenizer.vocab_size())},
                                {"captioner.units", "8"},
                                {"captioner.dropout", "0.2"},
                                {"tokenizer", tokenizer.serialize()}};
  nn::save(dir.path / "old.nnck", pooled, nullptr, texts);
  CHECK_FALSE(captioning::load_captioner(dir.path / "old.nnck").model->options().attention);
}

TEST_CASE("the held-out evaluation counts images by their number of objects, as the generator drew them") {
  test::TempDir dir("nn_evaluate_split");
  const std::vector<captioning::SyntheticImage> world =
      captioning::write_synthetic_flickr8k(dir.path, {.train = 2, .dev = 1, .test = 12, .seed = 7});
  std::array<size_t, 4> drawn{};
  for (size_t i = world.size() - 12; i < world.size(); ++i) ++drawn[world[i].objects.size()];
  captioning::Describer describer(fs::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck");
  const captioning::SplitEvaluation e = captioning::evaluate_split(describer, dir.path, captioning::Split::test);
  CHECK(e.images == 12);
  CHECK(e.images_with == drawn);
  CHECK(e.all_named_with[0] == 0);
  CHECK(e.all_named_with[1] + e.all_named_with[2] + e.all_named_with[3] == e.all_objects_named);
  for (size_t k = 1; k <= 3; ++k) CHECK(e.all_named_with[k] <= e.images_with[k]);
  CHECK(e.bleu[0] > 0.5);  // the shipped model names most objects, even of held-out pairs
  CHECK(e.bleu[3] <= e.bleu[0]);
}
