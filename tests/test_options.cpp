// Model options saved generically (nn/io/options.h): every options struct round-trips through its checkpoint as a JSON
// text, and every model rebuilt from a file computes what the saved one did; bad option texts are named.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <captioning/bundle.h>
#include <captioning/captioner.h>
#include <nn/io/checkpoint.h>
#include <nn/io/keras_h5.h>
#include <nn/io/options.h>
#include <nn/models/xception.h>

#include "support/check.h"
#include "support/files.h"

namespace fs = std::filesystem;
using nn::Tensor;

namespace {

// A struct of one's own with a field of every kind the archive takes.
enum class Mode { fast, exact };
struct DemoOptions {
  bool flag = false;
  int count = 1;
  int64_t size = 2;
  uint64_t seed = 3;
  float rate = 0.5f;
  double scale = 1.0;
  std::string label = "none";
  Mode mode = Mode::fast;
  int added_later = 42;  // a field files written before it existed lack
};

void option_fields(nn::OptionsArchive& ar, DemoOptions& o) {
  ar.field("flag", o.flag);
  ar.field("count", o.count, {.min = -10, .max = 10});
  ar.field("size", o.size, {.min = 0});
  ar.field("seed", o.seed);
  ar.field("rate", o.rate, {.min = 0, .max = 0.9});
  ar.field("scale", o.scale);
  ar.field("label", o.label);
  ar.field("mode", o.mode, {{"fast", Mode::fast}, {"exact", Mode::exact}});
  ar.field("added_later", o.added_later, {.optional = true});
}

// One field a line, in the order option_fields lists them.
const std::string kDemoJson = R"({
"flag": true,
"count": -3,
"size": 9007199254740993,
"seed": 18446744073709551615,
"rate": 0.1,
"scale": 2.5,
"label": "a \"quoted\" café",
"mode": "exact",
"added_later": 7
})";

DemoOptions demo() {
  return {.flag = true,
          .count = -3,
          .size = 9007199254740993,  // 2^53 + 1: not a double
          .seed = 18446744073709551615u,
          .rate = 0.1f,
          .scale = 2.5,
          .label = "a \"quoted\" café",
          .mode = Mode::exact,
          .added_later = 7};
}

struct GainOptions {
  float gain = 1;  // no limits: any float
};

void option_fields(nn::OptionsArchive& ar, GainOptions& o) {
  ar.field("gain", o.gain);
}

std::string demo_error(const std::string& json) {
  return test::error_of([&] { nn::options_from_json<DemoOptions>(json, "f.nnck: 'demo'"); });
}

// Moving statistics away from their initial values, so that a buffer lost on the way would show in the output.
void randomize_buffers(nn::Module& model, uint64_t seed) {
  nn::Generator gen(seed);
  for (auto& [name, t] : model.named_buffers()) t.copy_from(Tensor::uniform(t.shape(), 0.5f, 1.5f, gen));
}

// The output of `before` on `x` equals, to the bit, the output of the model rebuilt from its file.
void check_same(const Tensor& before, const Tensor& after, const std::string& what) {
  INFO(what);
  CHECK(after.shape() == before.shape());
  CHECK(after.to_vector() == before.to_vector());
}

int64_t state_numel(const nn::Module& model) {
  int64_t n = 0;
  for (const auto& [name, t] : model.named_state()) n += t.numel();
  return n;
}

const std::vector<std::string> kCaptions{"a red square", "a green circle", "two blue triangles"};

}  // namespace

TEST_CASE("an options struct is written as JSON with every field, readably, and read back equal") {
  const DemoOptions o = demo();
  CHECK(nn::options_to_json(o) == kDemoJson);
  const DemoOptions back = nn::options_from_json<DemoOptions>(kDemoJson, "demo");
  CHECK(back.flag);
  CHECK(back.count == -3);
  CHECK(back.size == 9007199254740993);
  CHECK(back.seed == 18446744073709551615u);
  CHECK(back.rate == 0.1f);
  CHECK(back.scale == 2.5);
  CHECK(back.label == o.label);
  CHECK(back.mode == Mode::exact);
  CHECK(back.added_later == 7);
  // Fields may come in any order; a field marked optional may be absent and keeps its default.
  const DemoOptions reordered = nn::options_from_json<DemoOptions>(
      R"({"mode":"fast","label":"x","scale":1,"rate":0,"seed":0,"size":0,"count":10,"flag":false})", "demo");
  CHECK(reordered.count == 10);
  CHECK(reordered.scale == 1.0);
  CHECK(reordered.added_later == 42);
}

TEST_CASE("a bad options text gives an error naming the file, the entry and the field") {
  const std::string all = R"("flag":true,"count":1,"size":2,"seed":3,"rate":0.5,"scale":1,"label":"x","mode":"fast")";
  CHECK(demo_error("{" + all + "}") == "no error");
  CHECK(demo_error(R"({"flag":true})") == "f.nnck: 'demo': has no option 'count'");
  CHECK(demo_error("{" + all + R"(,"colour":"red"})") ==
        "f.nnck: 'demo': has option 'colour', which this libnn does not know (a file from a newer version, or a "
        "damaged one)");
  CHECK(demo_error(R"({"flag":1,"count":1})") == "f.nnck: 'demo': option 'flag': expected true or false, got 1");
  CHECK(demo_error(R"({"flag":true,"count":"3"})") ==
        "f.nnck: 'demo': option 'count': expected an integer in [-10, 10], got \"3\"");
  CHECK(demo_error(R"({"flag":true,"count":11})") ==
        "f.nnck: 'demo': option 'count': expected an integer in [-10, 10], got 11");
  CHECK(demo_error(R"({"flag":true,"count":2.5})") ==
        "f.nnck: 'demo': option 'count': expected an integer in [-10, 10], got 2.5");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":-1})") ==
        "f.nnck: 'demo': option 'size': expected an integer ≥ 0, got -1");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":-1})") ==
        "f.nnck: 'demo': option 'seed': expected an integer, got -1");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":1,"rate":NaN})") ==
        "f.nnck: 'demo': option 'rate': expected a number in [0, 0.9], got NaN");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":1,"rate":0.9,"scale":1e300,"label":"x","mode":"fast"})") ==
        "no error");  // a double takes it, a float does not
  CHECK(test::error_of([] { nn::options_from_json<GainOptions>(R"({"gain": 1e300})", "g"); }) ==
        "g: option 'gain': expected a number, got 1e300");
  CHECK(nn::options_from_json<GainOptions>(R"({"gain": -3.4e38})", "g").gain == -3.4e38f);
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":1,"rate":0.9,"scale":Infinity})") ==
        "f.nnck: 'demo': option 'scale': expected a number, got Infinity");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":1,"rate":0.9,"scale":1,"label":"x","mode":"slow"})") ==
        "f.nnck: 'demo': option 'mode': expected one of \"fast\", \"exact\", got \"slow\"");
  CHECK(demo_error(R"({"flag":true,"count":1,"size":1,"seed":1,"rate":0.9,"scale":1,"label":5})") ==
        "f.nnck: 'demo': option 'label': expected a string, got 5");
  CHECK(demo_error(R"({"flag":true,)") ==
        "f.nnck: 'demo': is not valid JSON (Missing a name for object member. at byte 13)");
  CHECK(demo_error("[1, 2]") == "f.nnck: 'demo': expected a JSON object of options, got another JSON value");
  CHECK(demo_error(R"({"flag":{"nested":true}})") ==
        "f.nnck: 'demo': option 'flag': expected a plain value, got an object or array");
  CHECK(demo_error(R"({"flag":true,"flag":false})") == "f.nnck: 'demo': option 'flag' appears twice");
  CHECK(demo_error("{" + all + R"(,"x\u001b[31m":1})") ==
        "f.nnck: 'demo': has option 'x\\x1B[31m', which this libnn does not know (a file from a newer version, or a "
        "damaged one)");
  CHECK(demo_error(std::string(70000, ' ')) ==
        "f.nnck: 'demo': expected an options text of at most 65536 bytes, got 70000 bytes");
  // Nesting deep enough to exhaust a recursive parser's stack is refused like any other bad text.
  CHECK(demo_error(std::string(60000, '[')) == "f.nnck: 'demo': is not valid JSON (Invalid value. at byte 60000)");
}

TEST_CASE("an Xception saved with any options is rebuilt from its file alone and computes the same outputs") {
  test::TempDir dir("nn_options_xception");
  nn::Generator gen(11);
  const Tensor x = Tensor::uniform({2, 71, 71, 3}, -1, 1, gen);
  const std::vector<nn::XceptionOptions> cases{
      {.pooling = nn::XceptionPooling::none, .width = 1.0f / 32, .middle_blocks = 0},
      {.pooling = nn::XceptionPooling::avg, .width = 1.0f / 16, .middle_blocks = 1},
      {.pooling = nn::XceptionPooling::max, .width = 0.05f, .middle_blocks = 2},
      {.include_top = true, .width = 1.0f / 32, .middle_blocks = 0, .classes = 7},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    nn::Generator init(100 + i);
    nn::Xception model(cases[i], init);
    randomize_buffers(model, i);
    model.eval();
    CHECK(nn::xception_state_numel(cases[i]) == state_numel(model));
    const fs::path file = dir.path / ("x" + std::to_string(i) + ".nnck");
    nn::save_xception(file, model);
    std::unique_ptr<nn::Xception> loaded = nn::load_xception(file);
    CHECK(loaded->to_string() == model.to_string());
    CHECK(loaded->options().pooling == cases[i].pooling);
    CHECK(loaded->options().width == cases[i].width);
    CHECK(loaded->options().middle_blocks == cases[i].middle_blocks);
    CHECK(loaded->options().include_top == cases[i].include_top);
    CHECK(loaded->options().classes == cases[i].classes);
    nn::NoGradGuard no_grad;
    check_same(model.forward(x), loaded->forward(x), model.to_string());
  }
  // Keras's counts of its Xception's weights (moving statistics included).
  CHECK(nn::xception_state_numel({}) == 20'861'480);
  CHECK(nn::xception_state_numel({.include_top = true}) == 22'910'480);
  // pooling=none keeps the feature map: [2,3,3,64] at width 1/32, not the pooled [2,64].
  CHECK(nn::load_xception(dir.path / "x0.nnck")->forward(x).shape() == nn::Shape{2, 3, 3, 64});
}

TEST_CASE("an Xception file from before the options text still loads, with average pooling") {
  test::TempDir dir("nn_options_xception_legacy");
  nn::Generator init(3);
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 1}, init);
  model.eval();
  nn::save(dir.path / "old.nnck", model, nullptr,
           {{"model", "xception"},
            {"xception.include_top", "0"},
            {"xception.width", "0.03125"},
            {"xception.middle_blocks", "1"},
            {"xception.classes", "1000"}});
  std::unique_ptr<nn::Xception> loaded = nn::load_xception(dir.path / "old.nnck");
  CHECK(loaded->options().pooling == nn::XceptionPooling::avg);
  nn::Generator gen(4);
  const Tensor x = Tensor::uniform({1, 71, 71, 3}, -1, 1, gen);
  nn::NoGradGuard no_grad;
  check_same(model.forward(x), loaded->forward(x), "legacy Xception");
}

TEST_CASE("a damaged or implausible options text in a model file is an error naming the file and the field") {
  test::TempDir dir("nn_options_bad");
  nn::Xception model({.width = 1.0f / 32, .middle_blocks = 0});
  const fs::path good = dir.path / "good.nnck", bad = dir.path / "bad.nnck";
  nn::save_xception(good, model);
  auto with_options = [&](const std::string& text) {
    nn::Checkpoint c = nn::read_checkpoint(good);
    for (auto& [key, value] : c.texts)
      if (key == "xception.options") value = text;
    nn::write_checkpoint(bad, c);
    return test::error_of([&] { nn::load_xception(bad); });
  };
  const std::string where = bad.string() + ": 'xception.options': ";
  CHECK(with_options(R"({"include_top":false,"pooling":"none","width":7,"middle_blocks":0,"classes":1000})") ==
        where + "option 'width': expected a number in [0.001, 4], got 7");
  CHECK(with_options(R"({"include_top":false,"pooling":"none","width":0.03125,"middle_blocks":100000,"classes":1})") ==
        where + "option 'middle_blocks': expected an integer in [0, 64], got 100000");
  CHECK(with_options(R"({"include_top":false,"pooling":"mean","width":0.03125,"middle_blocks":0,"classes":1})") ==
        where + "option 'pooling': expected one of \"none\", \"avg\", \"max\", got \"mean\"");
  CHECK(with_options(R"({"include_top":false,"width":0.03125,"middle_blocks":0,"classes":1})") ==
        where + "has no option 'pooling'");
  CHECK(with_options(R"({"include_top":false,"pooling":"avg",)") ==
        where + "is not valid JSON (Missing a name for object member. at byte 37)");
  // Options within their limits that describe a model far larger than the file are refused before it is built.
  const std::string huge =
      with_options(R"({"include_top":false,"pooling":"none","width":4,"middle_blocks":64,"classes":1000})");
  CHECK(huge.starts_with(bad.string() + ": expected a file of at least "));
  CHECK(huge.ends_with(" bytes (the tensors of the model its options describe), got " +
                       std::to_string(fs::file_size(bad)) + " bytes"));
  // Bytes that are not UTF-8 are refused by the checkpoint reader before any JSON is parsed.
  CHECK(with_options("{\"include_top\":\xff}") ==
        bad.string() + ": text 'xception.options' is not valid UTF-8 (at byte 15)");
}

TEST_CASE("a caption model with attention and positions, or without, is rebuilt from its bundle") {
  test::TempDir dir("nn_options_caption");
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit(kCaptions);
  const nn::Indices ids({2, 3}, {1, 4, 5, 1, 6, 4});
  for (const int64_t positions : {int64_t{0}, int64_t{4}}) {
    captioning::CaptionModel model({.vocab = tokenizer.vocab_size(),
                                    .feature_dim = 6,
                                    .units = 5,
                                    .dropout = 0.25f,
                                    .seed = 9,
                                    .positions = positions});
    model.eval();
    CHECK(captioning::caption_model_state_numel(model.options()) == state_numel(model));
    nn::Generator gen(2);
    const Tensor features = Tensor::uniform({2, model.options().feature_width()}, -1, 1, gen);
    const fs::path file = dir.path / ("m" + std::to_string(positions) + ".nnck");
    captioning::save_bundle(file, model, tokenizer);
    captioning::Bundle b = captioning::load_bundle(file);
    const captioning::CaptionModelOptions& o = b.model->options();
    CHECK(o.positions == positions);
    CHECK(o.feature_dim == 6);
    CHECK(o.units == 5);
    CHECK(o.dropout == 0.25f);
    CHECK(o.seed == 9);
    nn::NoGradGuard no_grad;
    check_same(model.forward(features, ids), b.model->forward(features, ids), "positions " + std::to_string(positions));
  }
}

TEST_CASE("a caption bundle from before the options text still loads") {
  test::TempDir dir("nn_options_caption_legacy");
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit(kCaptions);
  captioning::CaptionModel model({.vocab = tokenizer.vocab_size(), .feature_dim = 6, .units = 5});
  model.eval();
  nn::save(dir.path / "old.nnck", model, nullptr,
           {{"model", "caption-merge"},
            {"caption.vocab", std::to_string(tokenizer.vocab_size())},
            {"caption.feature_dim", "6"},
            {"caption.units", "5"},
            {"caption.dropout", "0.5"},
            {"tokenizer", tokenizer.serialize()}});
  captioning::Bundle b = captioning::load_bundle(dir.path / "old.nnck");
  nn::Generator gen(2);
  const Tensor features = Tensor::uniform({1, 6}, -1, 1, gen);
  const nn::Indices ids({1, 2}, {1, 4});
  nn::NoGradGuard no_grad;
  check_same(model.forward(features, ids), b.model->forward(features, ids), "legacy caption bundle");
}

TEST_CASE("an image captioner, pooled or attending, is rebuilt from its bundle and captions the same") {
  test::TempDir dir("nn_options_captioner");
  const captioning::Tokenizer tokenizer = captioning::Tokenizer::fit(kCaptions);
  nn::Generator gen(5);
  const Tensor images = Tensor::uniform({2, 75, 75, 3}, -1, 1, gen);
  const nn::Indices ids({2, 3}, {1, 4, 5, 1, 6, 4});
  for (const bool attention : {false, true}) {
    const captioning::CaptionerOptions options{.cnn_width = 1.0f / 32,
                                               .cnn_middle_blocks = attention ? 1 : 0,
                                               .image_size = 75,
                                               .vocab = tokenizer.vocab_size(),
                                               .units = 6,
                                               .dropout = 0.3f,
                                               .seed = 17,
                                               .attention = attention};
    captioning::ImageCaptioner model(options);
    randomize_buffers(model, 8);
    model.eval();
    const fs::path file = dir.path / (attention ? "a.nnck" : "p.nnck");
    captioning::save_captioner(file, model, tokenizer);
    captioning::CaptionerBundle b = captioning::load_captioner(file);
    const captioning::CaptionerOptions& o = b.model->options();
    CHECK(o.cnn_width == options.cnn_width);
    CHECK(o.cnn_middle_blocks == options.cnn_middle_blocks);
    CHECK(o.image_size == 75);
    CHECK(o.units == 6);
    CHECK(o.dropout == 0.3f);
    CHECK(o.seed == 17);
    CHECK(o.attention == attention);
    nn::NoGradGuard no_grad;
    check_same(model.forward(images, ids), b.model->forward(images, ids), attention ? "attention" : "pooled");
  }
  // A captioner whose options say 100,000 units (within the limits) cannot be in this file: refused unbuilt.
  nn::Checkpoint c = nn::read_checkpoint(dir.path / "p.nnck");
  for (auto& [key, value] : c.texts) {
    if (key != "captioner.options") continue;
    const std::string units = "\"units\": 6,";
    const size_t at = value.find(units);
    REQUIRE(at != std::string::npos);
    value.replace(at, units.size(), "\"units\": 100000,");
  }
  const fs::path big = dir.path / "big.nnck";
  nn::write_checkpoint(big, c);
  const std::string error = test::error_of([&] { captioning::load_captioner(big); });
  INFO(error);
  CHECK(error.ends_with(" bytes (the tensors of the model its options describe), got " +
                        std::to_string(fs::file_size(big)) + " bytes"));
}

TEST_CASE("the shipped captioner, written with the texts from before the options text, still loads") {
  const fs::path shipped = fs::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck";
  const captioning::Texts texts = nn::read_checkpoint_texts(shipped);
  REQUIRE(captioning::find_text(texts, "captioner.options") == nullptr);
  const captioning::CaptionerBundle b = captioning::load_captioner(shipped);
  CHECK(b.model->options().image_size == std::stoll(*captioning::find_text(texts, "captioner.image_size")));
  CHECK(b.model->options().units == std::stoll(*captioning::find_text(texts, "captioner.units")));
  CHECK(b.model->options().cnn_middle_blocks ==
        std::stoi(*captioning::find_text(texts, "captioner.cnn_middle_blocks")));
}

TEST_CASE("Keras Xception weights load into a model that continues with a new head, which is reported unloaded") {
  const std::string file = std::string(NN_FIXTURE_DIR) + "/xception_w16_keras1.h5";
  struct FineTuned : nn::Module {
    FineTuned() {
      backbone = register_module("backbone", std::make_shared<nn::Xception>(nn::XceptionOptions{.width = 1.0f / 16}));
      head = register_module(
          "head", std::make_shared<nn::Dense>(nn::DenseOptions{.in = backbone->feature_channels(), .out = 5}));
    }
    std::shared_ptr<nn::Xception> backbone;
    std::shared_ptr<nn::Dense> head;
  } model;
  const std::vector<float> head_before = model.head->kernel().to_vector();
  const std::vector<nn::KerasLayerWeights> layers = nn::read_keras_h5(file);
  // The file holds the classifier top too (81 layers); the backbone has 80.
  CHECK(test::error_of([&] { nn::assign_keras_weights(layers, model, file, {.prefix = "backbone."}); }) ==
        file + ": expected 80 layers with weights (the model's), got 81");
  const nn::LoadReport report = nn::assign_keras_weights(layers, model, file, {.prefix = "backbone.", .strict = false});
  CHECK(report.missing == std::vector<std::string>{"head.kernel", "head.bias"});
  CHECK(report.unused == std::vector<std::string>{"dense_1_W:0", "dense_1_b:0"});
  CHECK(report.loaded.size() == model.backbone->named_state().size());
  CHECK(model.head->kernel().to_vector() == head_before);
  // The backbone holds exactly what a whole Keras Xception loaded strictly holds.
  nn::Xception whole({.include_top = true, .width = 1.0f / 16});
  nn::assign_keras_weights(layers, whole, file);
  const nn::NamedTensors mine = model.backbone->named_state();
  for (const auto& [name, t] : whole.named_state()) {
    if (name.starts_with("predictions")) continue;
    const auto it = std::find_if(mine.begin(), mine.end(), [&](const auto& e) { return e.first == name; });
    REQUIRE(it != mine.end());
    CHECK(it->second.to_vector() == t.to_vector());
  }
  // The same backbone saved by libnn loads into the fine-tuned model by prefix, the head again reported.
  test::TempDir dir("nn_options_finetune");
  nn::save_xception(dir.path / "backbone.nnck", *model.backbone);
  FineTuned fresh;
  const nn::LoadReport again = nn::load(dir.path / "backbone.nnck", fresh, {.prefix = "backbone."});
  CHECK(again.missing == std::vector<std::string>{"head.kernel", "head.bias"});
  CHECK(again.unused.empty());
  nn::Generator gen(6);
  const Tensor x = Tensor::uniform({1, 71, 71, 3}, -1, 1, gen);
  model.eval();
  fresh.eval();
  nn::NoGradGuard no_grad;
  check_same(model.backbone->forward(x), fresh.backbone->forward(x), "backbone loaded by prefix");
}
