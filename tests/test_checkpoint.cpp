#include <unistd.h>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "support/check.h"
#include "support/files.h"

using nn::Tensor;
namespace fs = std::filesystem;

namespace {

struct Model : nn::Module {
  explicit Model(int64_t width = 3) {
    dense = register_module("dense", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 2, .out = width}));
    stat = register_buffer("stat", Tensor::from_data({2}, {5, 6}));
  }
  std::string to_string() const override { return "Model"; }
  std::shared_ptr<nn::Dense> dense;
  Tensor stat;
};

std::vector<unsigned char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& p, const std::vector<unsigned char>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Rewrites the trailing CRC so that a deliberately edited file fails on its content, not on its checksum.
void fix_crc(std::vector<unsigned char>& bytes) {
  uint32_t crc = nn::crc32(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

}  // namespace

TEST_CASE("crc32 is zlib's") {
  const char* text = "123456789";
  CHECK(nn::crc32(text, 9) == 0xCBF43926u);
}

TEST_CASE("a checkpoint round-trips tensors, texts, the model and the optimiser") {
  test::TempDir dir;
  fs::path file = dir.path / "model.nnck";
  Model a;
  nn::Adam adam(a.named_parameters());
  nn::sum(a.dense->forward(Tensor::ones({1, 2}))).backward();
  adam.step();
  nn::save(file, a, &adam, {{"config", "width=3"}});

  Model b;
  nn::Adam adam_b(b.named_parameters());
  auto texts = nn::load(file, b, &adam_b);
  CHECK(b.dense->kernel().to_vector() == a.dense->kernel().to_vector());
  CHECK(b.stat.to_vector() == std::vector<float>{5, 6});
  CHECK(adam_b.steps() == 1);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0] == std::pair<std::string, std::string>{"config", "width=3"});
  // The model alone loads from the same file (the optimiser's entries are skipped).
  Model c;
  nn::load(file, c);
  CHECK(c.dense->bias().to_vector() == a.dense->bias().to_vector());
  // Nothing but the file itself is left in the folder (the temporary was renamed).
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("a learning-rate scheduler's state round-trips as \"scheduler/…\" tensors, all or nothing") {
  test::TempDir dir;
  const fs::path file = dir.path / "model.nnck";
  Model a;
  nn::Adam adam(a.named_parameters(), {.lr = 0.5f});
  nn::StepLR schedule(adam, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  for (int k = 0; k < 3; ++k) {
    nn::sum(a.dense->forward(Tensor::ones({1, 2}))).backward();
    adam.step();
    schedule.after_step();
  }
  nn::save(file, a, &adam, {}, &schedule);
  CHECK(nn::read_checkpoint(file).find("scheduler/count") != nullptr);

  // Restored exactly: every state tensor, and the rate it sets.
  Model b;
  nn::Adam adam_b(b.named_parameters(), {.lr = 0.5f});
  nn::StepLR schedule_b(adam_b, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  nn::load(file, b, &adam_b, &schedule_b);
  const nn::NamedTensors want = schedule.state(), got = schedule_b.state();
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    CHECK(got[k].first == want[k].first);
    CHECK(got[k].second.shape() == want[k].second.shape());
    CHECK(got[k].second.to_vector() == want[k].second.to_vector());
  }
  CHECK(adam_b.learning_rate() == adam.learning_rate());
  // The same through the LoadOptions load; without a scheduler its entries are skipped, as the optimiser's are.
  nn::StepLR schedule_c(adam_b, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  nn::load(file, b, nn::LoadOptions{.strict = false}, &adam_b, &schedule_c);
  CHECK(schedule_c.state()[1].second.to_vector() == want[1].second.to_vector());
  Model c;
  CHECK(test::error_of([&] { nn::load(file, c); }) == "no error");
  CHECK(test::error_of([&] { nn::load(file, c, nn::LoadOptions{}); }) == "no error");

  // A scheduler given, no scheduler entries in the file: an error naming the file, nothing changed.
  const fs::path plain = dir.path / "plain.nnck";
  nn::save(plain, a, &adam);
  Model d;
  nn::Adam adam_d(d.named_parameters(), {.lr = 0.5f});
  nn::StepLR schedule_d(adam_d, {.step_size = 2, .gamma = 0.5, .unit = nn::ScheduleUnit::step});
  const std::vector<float> kernel_before = d.dense->kernel().to_vector();
  CHECK(test::error_of([&] { nn::load(plain, d, &adam_d, &schedule_d); }) ==
        plain.string() + ": holds no learning-rate scheduler state");
  CHECK(test::error_of([&] { nn::load(plain, d, nn::LoadOptions{}, nullptr, &schedule_d); }) ==
        plain.string() + ": holds no learning-rate scheduler state");
  CHECK(d.dense->kernel().to_vector() == kernel_before);

  // A misshapen scheduler entry: an error naming the file and the entry; the optimiser, whose own state was valid
  // and loaded first, is put back, and neither the model nor the schedule changes.
  nn::Checkpoint crafted = nn::read_checkpoint(file);
  for (auto& [name, t] : crafted.tensors)
    if (name == "scheduler/base_lrs") t = Tensor::from_data({3}, {0.5f, 0.5f, 0.5f});
  const fs::path bad = dir.path / "bad.nnck";
  nn::write_checkpoint(bad, crafted);
  const std::vector<float> count_before = schedule_d.state()[1].second.to_vector();
  CHECK(test::error_of([&] { nn::load(bad, d, &adam_d, &schedule_d); }) ==
        bad.string() + ": StepLR::load_state: expected state tensor 'base_lrs' of shape [1], got [3]");
  CHECK(adam_d.steps() == 0);
  CHECK(adam_d.learning_rate() == 0.5);
  CHECK(schedule_d.state()[1].second.to_vector() == count_before);
  CHECK(d.dense->kernel().to_vector() == kernel_before);
}

TEST_CASE("every malformed checkpoint gives an error naming the file and the tensor, and changes nothing") {
  test::TempDir dir;
  fs::path good = dir.path / "good.nnck";
  fs::path bad = dir.path / "bad.nnck";
  Model saved;
  nn::save(good, saved);
  const std::vector<unsigned char> bytes = read_bytes(good);
  // Layout: magic(8) version(4) count(4), then "dense.kernel": len(4) name(12) kind(1) rank(1) dims(16) data(24) …
  const size_t first_entry = 16, first_dims = first_entry + 4 + 12 + 2;

  Model target;
  const std::vector<float> before = target.dense->kernel().to_vector();
  auto load_bad = [&](const std::vector<unsigned char>& b) {
    write_bytes(bad, b);
    return test::error_of([&] { nn::load(bad, target); });
  };
  const std::string p = bad.string();

  SUBCASE("wrong magic") {
    auto b = bytes;
    b[1] = 'X';
    CHECK(load_bad(b) == p + ": not a libnn checkpoint (bad magic or too short)");
  }
  SUBCASE("other version") {
    auto b = bytes;
    b[8] = 2;
    CHECK(load_bad(b) == p + ": expected checkpoint version 1, got version 2");
  }
  SUBCASE("truncated") {
    auto b = bytes;
    b.resize(first_dims + 16 + 10);
    CHECK(load_bad(b) == p + ": tensor 'dense.kernel': needs 24 bytes of data but 6 remain in the file (truncated, "
                             "or a corrupt size field)");
  }
  SUBCASE("a size field larger than the file") {
    auto b = bytes;
    uint64_t huge = uint64_t{1} << 40;
    std::memcpy(b.data() + first_dims, &huge, 8);
    fix_crc(b);
    CHECK(load_bad(b) == p + ": tensor 'dense.kernel': needs 13194139533312 bytes of data but 86 remain in the "
                             "file (truncated, or a corrupt size field)");
  }
  SUBCASE("an entry count larger than the file") {
    auto b = bytes;
    uint32_t count = 0xFFFFFFFF;
    std::memcpy(b.data() + 12, &count, 4);
    CHECK(load_bad(b) == p + ": entry count 4294967295 cannot fit in a file of this size (corrupt header)");
  }
  SUBCASE("a flipped data byte fails the checksum") {
    auto b = bytes;
    b[first_dims + 16 + 3] ^= 0x40;
    CHECK(load_bad(b) == p + ": checksum mismatch (the file is corrupted)");
  }
  SUBCASE("a shape mismatch") {
    Model wider(4);
    nn::save(bad, wider);
    CHECK(test::error_of([&] { nn::load(bad, target); }) ==
          p + ": tensor 'dense.kernel': expected shape [2,3] (the model's), got [2,4]");
  }
  SUBCASE("a missing tensor") {
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.tensors.erase(c.tensors.begin() + 1);
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) == p + ": tensor 'dense.bias' is missing (the model has it)");
  }
  SUBCASE("an extra tensor") {
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.tensors.emplace_back("dense.extra", Tensor::zeros({1}));
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) == p + ": tensor 'dense.extra' is not in the model");
  }
  SUBCASE("an empty file, a directory and a missing file") {
    write_bytes(bad, {});
    CHECK(test::error_of([&] { nn::load(bad, target); }) == p + ": not a libnn checkpoint (bad magic or too short)");
    CHECK(test::error_of([&] { nn::load(dir.path, target); }) ==
          dir.path.string() + ": is a directory, not a checkpoint file");
    CHECK(test::error_of([&] { nn::load(dir.path / "none", target); }) ==
          (dir.path / "none").string() + ": cannot open: No such file or directory");
  }
  SUBCASE("a NaN or an infinity with a valid checksum") {
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.tensors[1].second.data()[2] = std::numeric_limits<float>::quiet_NaN();  // dense.bias
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) ==
          p + ": tensor 'dense.bias' holds a non-finite value (NaN at index 2)");
    CHECK(test::error_of([&] { nn::read_checkpoint(bad); }) ==
          p + ": tensor 'dense.bias' holds a non-finite value (NaN at index 2)");
    c = nn::read_checkpoint(good);
    c.tensors[0].second.data()[5] = -std::numeric_limits<float>::infinity();
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) ==
          p + ": tensor 'dense.kernel' holds a non-finite value (-inf at index 5)");
  }
  SUBCASE("a damaged NaN is reported as damage") {  // the checksum is checked before the values
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.tensors[1].second.data()[0] = std::numeric_limits<float>::quiet_NaN();
    nn::write_checkpoint(bad, c);
    auto b = read_bytes(bad);
    b[first_dims + 16 + 1] ^= 1;  // a byte of dense.kernel
    CHECK(load_bad(b) == p + ": checksum mismatch (the file is corrupted)");
  }
  SUBCASE("a name with control bytes and invalid UTF-8 is printed escaped") {
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.tensors.emplace_back(std::string("dense.attention\x02\x01\x1b[2J\xff"), Tensor::zeros({1}));
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) ==
          p + ": tensor 'dense.attention\\x02\\x01\\x1B[2J\\xFF' is not in the model");
  }
  SUBCASE("a text that is not UTF-8") {
    nn::Checkpoint c = nn::read_checkpoint(good);
    c.texts.emplace_back("tokenizer", std::string("a\nb\xc3(\n"));
    nn::write_checkpoint(bad, c);
    CHECK(test::error_of([&] { nn::load(bad, target); }) == p + ": text 'tokenizer' is not valid UTF-8 (at byte 3)");
    CHECK(test::error_of([&] { nn::read_checkpoint_texts(bad); }) ==
          p + ": text 'tokenizer' is not valid UTF-8 (at byte 3)");
  }
  SUBCASE("an optimiser state that does not fit") {
    Model other;
    nn::Adam adam(other.named_parameters());
    nn::save(bad, other);
    CHECK(test::error_of([&] { nn::load(bad, target, &adam); }) == p + ": holds no optimizer state");
  }
  CHECK(target.dense->kernel().to_vector() == before);
}

namespace {

// A model that continues one saved as Model: the same "dense" and "stat", and a new "head" the file does not have.
struct Extended : nn::Module {
  explicit Extended(int64_t width = 3) {
    dense = register_module("dense", std::make_shared<nn::Dense>(nn::DenseOptions{.in = 2, .out = width}));
    stat = register_buffer("stat", Tensor::from_data({2}, {0, 0}));
    head = register_module("head", std::make_shared<nn::Dense>(nn::DenseOptions{.in = width, .out = 1}));
  }
  std::shared_ptr<nn::Dense> dense, head;
  Tensor stat;
};

}  // namespace

TEST_CASE("a non-strict load fills the tensors present in both and reports what was missing, unused or mismatched") {
  test::TempDir dir;
  const fs::path file = dir.path / "model.nnck";
  Model saved;
  nn::Adam adam(saved.named_parameters());
  nn::save(file, saved, &adam);

  Extended bigger;
  const std::vector<float> head_before = bigger.head->kernel().to_vector();
  // Strict stays the default, with its messages.
  CHECK(test::error_of([&] { nn::load(file, bigger); }) ==
        file.string() + ": tensor 'head.kernel' is missing (the model has it)");
  const nn::LoadReport report = nn::load(file, bigger, {.strict = false});
  CHECK(report.loaded == std::vector<std::string>{"stat", "dense.kernel", "dense.bias"});  // named_state() order
  CHECK(report.missing == std::vector<std::string>{"head.kernel", "head.bias"});
  CHECK(report.unused.empty());
  CHECK(report.mismatched.empty());
  CHECK(report.summary() == "loaded 3 tensors; missing (left as they were): head.kernel, head.bias");
  CHECK(bigger.dense->kernel().to_vector() == saved.dense->kernel().to_vector());
  CHECK(bigger.stat.to_vector() == std::vector<float>{5, 6});
  CHECK(bigger.head->kernel().to_vector() == head_before);

  // The other way round: the file's extra tensors are unused (optimiser entries are not model tensors).
  nn::save(file, bigger);
  Model smaller;
  const nn::LoadReport back = nn::load(file, smaller, {.strict = false});
  CHECK(back.missing.empty());
  CHECK(back.unused == std::vector<std::string>{"head.kernel", "head.bias"});
  CHECK(smaller.dense->bias().to_vector() == bigger.dense->bias().to_vector());
}

TEST_CASE("a shape mismatch stops a non-strict load unless asked to skip it; a bad file changes nothing") {
  test::TempDir dir;
  const fs::path file = dir.path / "model.nnck";
  Model saved;
  nn::save(file, saved);
  Extended wider(4);  // dense [2,4] where the file has [2,3]
  const std::vector<float> before = wider.dense->kernel().to_vector();
  CHECK(test::error_of([&] { nn::load(file, wider, {.strict = false}); }) ==
        file.string() + ": tensor 'dense.kernel': expected shape [2,4] (the model's), got [2,3]");
  CHECK(wider.stat.to_vector() == std::vector<float>{0, 0});  // nothing was loaded before the error
  const nn::LoadReport report = nn::load(file, wider, {.strict = false, .skip_mismatched = true});
  CHECK(report.loaded == std::vector<std::string>{"stat"});
  REQUIRE(report.mismatched.size() == 2);
  CHECK(report.mismatched[0].name == "dense.kernel");
  CHECK(report.mismatched[0].in_file == nn::Shape{2, 3});
  CHECK(report.mismatched[0].in_module == nn::Shape{2, 4});
  CHECK(report.summary() ==
        "loaded 1 tensors; missing (left as they were): head.kernel, head.bias; shapes differ (left as they were): "
        "dense.kernel (file [2,3], model [2,4]) dense.bias (file [3], model [4])");
  CHECK(wider.dense->kernel().to_vector() == before);
  CHECK(wider.stat.to_vector() == std::vector<float>{5, 6});

  // A damaged file is refused whole, strict or not.
  std::vector<unsigned char> bytes = read_bytes(file);
  bytes[53] ^= 0x10;  // a byte of dense.kernel's data
  write_bytes(file, bytes);
  Extended fresh;
  const std::vector<float> fresh_kernel = fresh.dense->kernel().to_vector();
  CHECK(test::error_of([&] { nn::load(file, fresh, {.strict = false, .skip_mismatched = true}); }) ==
        file.string() + ": checksum mismatch (the file is corrupted)");
  CHECK(fresh.dense->kernel().to_vector() == fresh_kernel);
}

TEST_CASE("a prefix loads a file saved from a part of a model into that part") {
  test::TempDir dir;
  const fs::path file = dir.path / "part.nnck";
  nn::Dense part(nn::DenseOptions{.in = 2, .out = 3});
  nn::save(file, part);
  Extended model;
  const nn::LoadReport report = nn::load(file, model, {.prefix = "dense."});
  CHECK(report.loaded == std::vector<std::string>{"dense.kernel", "dense.bias"});
  CHECK(report.missing == std::vector<std::string>{"stat", "head.kernel", "head.bias"});
  CHECK(model.dense->kernel().to_vector() == part.kernel().to_vector());
  // Under the prefix the load is strict unless told otherwise.
  CHECK(test::error_of([&] { nn::load(file, model, {.prefix = "head."}); }) ==
        file.string() + ": tensor 'head.kernel': expected shape [3,1] (the model's), got [2,3]");
}

TEST_CASE("a failed write leaves the previous file intact and no temporary behind") {
  test::TempDir dir;
  fs::path file = dir.path / "model.nnck";
  Model m;
  nn::save(file, m);
  const std::vector<unsigned char> before = read_bytes(file);
  std::string message = test::error_of([&] {
    nn::write_file_atomically(file, [](std::FILE* f) {
      std::fputs("partial", f);
      throw nn::Error("simulated failure");
    });
  });
  CHECK(message == file.string() + ": simulated failure");
  CHECK(read_bytes(file) == before);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  CHECK(test::error_of([&] { nn::save(dir.path / "no-such-dir" / "m.nnck", m); }) ==
        (dir.path / "no-such-dir" / "m.nnck").string() + ": cannot write: No such file or directory");
}

TEST_CASE("printable escapes control bytes, backslashes and invalid UTF-8, and keeps valid text") {
  CHECK(nn::printable("dense.kernel") == "dense.kernel");
  CHECK(nn::printable("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\x95") == "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\x95");
  CHECK(nn::printable(std::string("a\x00"
                                  "b",
                                  3)) == "a\\x00b");
  CHECK(nn::printable("\x1b[31m\x7f\\") == "\\x1B[31m\\x7F\\x5C");
  CHECK(nn::printable("\xc2\x9b") == "\\xC2\\x9B");                                        // C1 control (CSI)
  CHECK(nn::printable("\xc3(\xc0\xaf\xed\xa0\x80") == "\\xC3(\\xC0\\xAF\\xED\\xA0\\x80");  // cut, overlong, surrogate
  CHECK(nn::printable("\xf4\x90\x80\x80") == "\\xF4\\x90\\x80\\x80");                      // above U+10FFFF
}

TEST_CASE("invalid_utf8_at finds the first byte that begins no valid sequence") {
  CHECK(nn::invalid_utf8_at("a dog \xe2\x86\x92 runs") == std::string_view::npos);
  CHECK(nn::invalid_utf8_at("") == std::string_view::npos);
  CHECK(nn::invalid_utf8_at("ab\x80") == 2);
  CHECK(nn::invalid_utf8_at("abc\xe2\x86") == 3);    // cut short at the end
  CHECK(nn::invalid_utf8_at("\xe0\x80\xaf") == 0);   // overlong
  CHECK(nn::invalid_utf8_at("x\xed\xb0\x80") == 1);  // a surrogate
  CHECK(nn::invalid_utf8_at("\xf8\x88\x80\x80\x80") == 0);
}
