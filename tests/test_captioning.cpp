// Flickr8k text, cleaning, tokenizer and BLEU.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include <captioning/bleu.h>
#include <captioning/describer.h>
#include <captioning/flickr8k.h>
#include <captioning/json.h>
#include <captioning/tokenizer.h>

#include "support/check.h"
#include "support/files.h"
#include "support/shared_data.h"

namespace fs = std::filesystem;
using captioning::Tokenizer;

namespace {

const fs::path kFlickr = test::shared_data("flickr8k");

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("captions are cleaned as the original captioner cleaned them") {
  CHECK(captioning::clean_caption("A boy in a red coat is walking down a flight of steps in a park .") ==
        "boy in red coat is walking down flight of steps in park");
  CHECK(captioning::clean_caption("Don't let the two-year-old's dog run!") == "dont let the twoyearolds dog run");
  CHECK(captioning::clean_caption("3 dogs , 1 cat and a 2nd bird") == "dogs cat and bird");
  CHECK(captioning::clean_caption("A") == "");
  CHECK(captioning::clean_caption("  MIXED   Case\tand\ttabs ") == "mixed case and tabs");
}

TEST_CASE("the real Flickr8k token file: 8,092 images, 40,460 captions, 8,763 words once cleaned") {
  if (!fs::exists(kFlickr)) {
    MESSAGE(kFlickr.string() << " is not here; skipping the checks on the real Flickr8k text");
    return;
  }
  captioning::Flickr8kPaths paths = captioning::find_flickr8k(kFlickr);
  captioning::ReadReport report;
  captioning::Descriptions raw = captioning::read_token_file(paths.token_file, report);
  CHECK(raw.size() == 8092);
  CHECK(raw.count("2258277193_586949ec62") == 1);  // the one keyed "….jpg.1#k"
  size_t captions = 0;
  for (auto& [id, list] : raw) captions += list.size();
  CHECK(captions == 40460);
  CHECK(report.malformed_lines == 0);
  captioning::Descriptions clean = captioning::clean_descriptions(raw, report);
  std::set<std::string> words;
  for (auto& [id, list] : clean)
    for (auto& caption : list)
      for (auto& w : captioning::split_words(caption)) words.insert(w);
  CHECK(words.size() == 8763);
  CHECK(report.empty_captions == 2);  // two captions are nothing but "A" and punctuation
  CHECK(captioning::read_split(paths.train_split, clean, report).size() == 6000);
  CHECK(captioning::read_split(paths.test_split, clean, report).size() == 1000);
  CHECK(report.unknown_ids == 0);
}

TEST_CASE("malformed token lines, empty captions and split ids without captions are counted, or errors when strict") {
  test::TempDir dir;
  write_text(dir.path / "tokens.txt",
             "a.jpg#0\tA dog runs .\n"
             "no tab and no key\n"
             "b.jpg#0\t   \n"
             "b.jpg#1\tA cat .\n"
             "\n");
  captioning::ReadReport report;
  captioning::Descriptions d = captioning::read_token_file(dir.path / "tokens.txt", report);
  CHECK(d.size() == 2);
  CHECK(report.malformed_lines == 1);
  CHECK(report.empty_captions == 1);
  REQUIRE(report.warnings.size() == 2);
  CHECK(report.warnings[0] == (dir.path / "tokens.txt").string() + ":2: malformed line skipped");
  CHECK(test::error_of([&] { captioning::read_token_file(dir.path / "tokens.txt", report, true); }) ==
        (dir.path / "tokens.txt").string() + ":2: expected '<image>.jpg#<k>\\t<caption>', got 'no tab and no key'");
  write_text(dir.path / "split.txt", "a.jpg\nzzz.jpg\nb.jpg\n");
  captioning::ReadReport split_report;
  CHECK(captioning::read_split(dir.path / "split.txt", d, split_report) == std::vector<std::string>{"a", "b"});
  CHECK(split_report.unknown_ids == 1);
  CHECK(test::error_of([&] { captioning::find_flickr8k(dir.path); }).find("holds no Flickr8k text") !=
        std::string::npos);
  // The layout of the official zips: Flickr8k_text/ and Flickr8k_Dataset/.
  fs::create_directories(dir.path / "Flickr8k_text");
  for (const char* name :
       {"Flickr8k.token.txt", "Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt", "Flickr_8k.testImages.txt"}) {
    write_text(dir.path / "Flickr8k_text" / name, "");
  }
  captioning::Flickr8kPaths official = captioning::find_flickr8k(dir.path);
  CHECK(official.images == dir.path / "Flickr8k_Dataset");
  CHECK(official.dev_split == dir.path / "Flickr8k_text" / "Flickr_8k.devImages.txt");
  CHECK(test::error_of([&] { captioning::read_token_file(dir.path / "none.txt", report); }) ==
        (dir.path / "none.txt").string() + ": cannot open: No such file or directory");
}

TEST_CASE("cleaned descriptions are written atomically, one 'id caption' per line") {
  test::TempDir dir;
  captioning::Descriptions d{{"a", {"dog runs", "dog plays"}}, {"b", {"cat sits"}}};
  captioning::write_descriptions(dir.path / "descriptions.txt", d);
  std::ifstream in(dir.path / "descriptions.txt");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text == "a dog runs\na dog plays\nb cat sits\n");
}

TEST_CASE("tokenizer: ids by descending frequency, ties by first appearance, reserved ids never taken by words") {
  Tokenizer t = Tokenizer::fit({"dog runs start", "cat end runs", "dog runs"});
  // runs ×3, dog ×2, then start, cat, end once each in order of first appearance.
  CHECK(t.id("runs") == Tokenizer::kFirstWord);
  CHECK(t.id("dog") == Tokenizer::kFirstWord + 1);
  CHECK(t.id("start") == Tokenizer::kFirstWord + 2);
  CHECK(t.id("cat") == Tokenizer::kFirstWord + 3);
  CHECK(t.id("end") == Tokenizer::kFirstWord + 4);
  CHECK(t.vocab_size() == 9);
  CHECK(t.encode("dog end zebra") ==
        std::vector<int32_t>{Tokenizer::kStart, 5, 8, Tokenizer::kUnknown, Tokenizer::kEnd});
  CHECK(t.decode(t.encode("dog end zebra")) == "dog end <unk>");
  const std::vector<int32_t> stops{Tokenizer::kStart, 4, Tokenizer::kEnd, 5};
  CHECK(t.decode(stops) == "runs");
  Tokenizer rare = Tokenizer::fit({"dog runs start", "cat end runs", "dog runs"}, 2);
  CHECK(rare.vocab_size() == 6);
  CHECK(rare.id("cat") == Tokenizer::kUnknown);
  Tokenizer back = Tokenizer::deserialize(t.serialize(), "model");
  CHECK(back.vocab_size() == t.vocab_size());
  CHECK(back.id("end") == t.id("end"));
  CHECK(test::error_of([] { Tokenizer::deserialize("hello\n", "m.nnck"); }) ==
        "m.nnck: is not a libnn tokenizer (bad header)");
  CHECK(test::error_of([&] { Tokenizer::deserialize(t.serialize() + "dog\n", "m.nnck"); }) ==
        "m.nnck: tokenizer word 'dog' appears twice");
  // Words are text: invalid UTF-8 is refused, and control bytes are printed escaped.
  CHECK(test::error_of([&] { Tokenizer::deserialize(t.serialize() + "ca\xc3t\n", "m.nnck"); }) ==
        "m.nnck: tokenizer word 'ca\\xC3t' is not valid UTF-8 (at byte 2)");
  CHECK(test::error_of([&] { Tokenizer::deserialize(t.serialize() + "a\x1b[2J b\n", "m.nnck"); }) ==
        "m.nnck: tokenizer word 'a\\x1B[2J b' is malformed");
}

TEST_CASE("corpus BLEU-1..4 equal NLTK's corpus_bleu on committed corpora") {
  std::ifstream in(std::string(NN_FIXTURE_DIR) + "/bleu.txt");
  REQUIRE(in);
  std::string line, name;
  std::vector<std::vector<captioning::Tokens>> refs;
  std::vector<captioning::Tokens> hyps;
  int corpora = 0;
  while (std::getline(in, line)) {
    if (line.rfind("corpus ", 0) == 0) {
      name = line.substr(7), refs.clear(), hyps.clear();
    } else if (line.rfind("H", 0) == 0) {
      hyps.push_back(captioning::split_words(line.substr(1)));
      refs.emplace_back();
    } else if (line.rfind("R", 0) == 0) {
      refs.back().push_back(captioning::split_words(line.substr(1)));
    } else if (line.rfind("bleu ", 0) == 0) {
      std::istringstream values(line.substr(5));
      std::array<double, 4> ours = captioning::corpus_bleu(refs, hyps);
      for (int n = 0; n < 4; ++n) {
        double expected;
        values >> expected;
        INFO("corpus " << name << " BLEU-" << n + 1);
        CHECK(ours[n] == doctest::Approx(expected).epsilon(1e-12));
      }
      ++corpora;
    }
  }
  CHECK(corpora == 4);
  CHECK(test::error_of([] { captioning::corpus_bleu({}, {{"a"}}); }) ==
        "corpus_bleu: expected as many reference lists as hypotheses (1), got 0");
}

TEST_CASE("JSON strings are valid UTF-8 with control characters escaped; JSON numbers are never NaN") {
  using captioning::json_number;
  using captioning::json_string;
  CHECK(json_string("a red circle") == "\"a red circle\"");
  CHECK(json_string("say \"hi\" \\ caf\xc3\xa9 \xe2\x86\x92") == "\"say \\\"hi\\\" \\\\ caf\xc3\xa9 \xe2\x86\x92\"");
  CHECK(json_string(std::string("a\x00"
                                "b\n\x1b[2J\x7f",
                                9)) == "\"a\\u0000b\\u000A\\u001B[2J\\u007F\"");
  CHECK(json_string("\xc2\x9b"
                    "31m \xe2\x80\xa8") == "\"\\u009B31m \\u2028\"");
  // Bytes that are not UTF-8 become U+FFFD, one each: the output is always valid UTF-8.
  CHECK(json_string("ca\xc3t \xff\xfe \xed\xa0\x80") ==
        "\"ca\xef\xbf\xbdt \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(json_number(-1.25) == "-1.25");
  CHECK(json_number(3.14159265, 4) == "3.142");
  CHECK(json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(json_number(-std::numeric_limits<double>::infinity()) == "null");
}

TEST_CASE("describe refuses a model holding NaN weights or a vocabulary that is not UTF-8, naming file and entry") {
  const fs::path shapes = fs::path(NN_SOURCE_DIR) / "weights" / "shapes.nnck";
  test::TempDir dir;
  const fs::path bad = dir.path / "bad.nnck";
  auto with_nan = [&](const std::string& tensor, size_t index) {
    nn::Checkpoint c = nn::read_checkpoint(shapes);
    nn::Tensor* t = nullptr;
    for (auto& [name, value] : c.tensors)
      if (name == tensor) t = &value;
    REQUIRE(t != nullptr);
    t->data()[index] = std::numeric_limits<float>::quiet_NaN();
    nn::write_checkpoint(bad, c);
    return test::error_of([&] { captioning::Describer describer(bad); });
  };
  CHECK(with_nan("decoder.output.bias", 17) ==
        bad.string() + ": tensor 'decoder.output.bias' holds a non-finite value (NaN at index 17)");
  CHECK(with_nan("decoder.lstm.kernel", 0) ==
        bad.string() + ": tensor 'decoder.lstm.kernel' holds a non-finite value (NaN at index 0)");
  nn::Checkpoint c = nn::read_checkpoint(shapes);
  for (auto& [name, text] : c.texts)
    if (name == "tokenizer") text += "caf\xe9\n";  // Latin-1, not UTF-8
  nn::write_checkpoint(bad, c);
  const std::string* tokenizer = c.find_text("tokenizer");
  REQUIRE(tokenizer != nullptr);
  CHECK(test::error_of([&] { captioning::Describer describer(bad); }) ==
        bad.string() + ": text 'tokenizer' is not valid UTF-8 (at byte " + std::to_string(tokenizer->size() - 2) + ")");
}

TEST_CASE("one Describer serves several threads at once: the same captions, and its models never change mode") {
  const std::string model = std::string(NN_SOURCE_DIR) + "/weights/shapes.nnck";
  const std::string sample = std::string(NN_SOURCE_DIR) + "/weights/sample_shapes.jpg";
  captioning::Describer describer(model);
  const std::vector<captioning::Caption> alone = describer.describe_file(sample, 3);
  std::vector<std::vector<captioning::Caption>> seen(4 * 3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) seen[t * 3 + i] = describer.describe_file(sample, 3);
    });
  for (auto& t : threads) t.join();
  for (const auto& captions : seen) {
    REQUIRE(captions.size() == alone.size());
    for (size_t i = 0; i < alone.size(); ++i) {
      CHECK(captions[i].text == alone[i].text);
      CHECK(captions[i].score == alone[i].score);
    }
  }
}
