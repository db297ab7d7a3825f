/// @file
/// Model options saved generically: every options struct (XceptionOptions, captioning's CaptionModelOptions and
/// CaptionerOptions, or one of your own) lists its fields once, in a function `option_fields(OptionsArchive&, T&)`
/// found by argument-dependent lookup; the same list writes the struct as a JSON text and reads it back, checked.
/// The JSON goes into a checkpoint as one text entry (`options_entry`), whose bytes the checkpoint reader has
/// already bounded and checksummed; `find_options` reads it back.
///
///     void option_fields(nn::OptionsArchive& ar, MyOptions& o) {
///       ar.field("units", o.units, {.min = 1, .max = 100'000});
///       ar.field("pooling", o.pooling, {{"none", Pool::none}, {"avg", Pool::avg}});
///       ar.field("dropout", o.dropout, {.min = 0, .max = 0.99});
///     }
///     nn::save(path, model, nullptr, {nn::options_entry("my_model.options", model.options())});
///     MyOptions o = *nn::find_options<MyOptions>(nn::read_checkpoint_texts(path), "my_model.options", path);
///
/// The JSON is written and read with cereal's JSON archive, which stays inside libnn (no cereal header is included
/// here). Reading is strict: every field must be there with a value of its type within its limits, and no other
/// field may be (a file from a newer libnn with an option this one does not know is refused rather than built
/// wrongly); a field added to a struct later is marked `.optional` so that older files keep loading with its
/// default. Every error is an nn::Error naming the file, the entry and the field (docs/checkpoint-format.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nn {

/// How a field is checked when it is read.
struct FieldRule {
  double min = -std::numeric_limits<double>::infinity();  ///< smallest plausible value (numbers only)
  double max = std::numeric_limits<double>::infinity();   ///< largest plausible value (numbers only)
  /// A field added to the struct after files were written without it: such a file keeps the struct's default,
  /// which must mean what those files meant. Any other field missing from a file is an error.
  bool optional = false;
};

/// One name of an enum field, as written in the file.
template <class E>
struct EnumName {
  const char* name;  ///< the name in the file
  E value;           ///< the enumerator it stands for
};

/// The visitor an options struct's `option_fields` describes itself to; it writes (OptionsJsonWriter) or reads
/// (OptionsJsonReader) each field. Field names are unique within a struct.
class OptionsArchive {
 public:
  virtual ~OptionsArchive() = default;

  /// A boolean field (JSON true/false).
  void field(const char* name, bool& value, const FieldRule& rule = {}) { visit_bool(name, value, rule); }
  /// An integer field (a JSON integer that fits the type, within [rule.min, rule.max]).
  void field(const char* name, int& value, const FieldRule& rule = {}) { visit_int(name, value, rule); }
  /// An int64_t field; as the int one.
  void field(const char* name, int64_t& value, const FieldRule& rule = {}) { visit_int64(name, value, rule); }
  /// A uint64_t field; as the int one.
  void field(const char* name, uint64_t& value, const FieldRule& rule = {}) { visit_uint64(name, value, rule); }
  /// A floating-point field (a finite JSON number within [rule.min, rule.max]); a float is written with the fewest
  /// digits that read back to the same float (0.1f as 0.1).
  void field(const char* name, float& value, const FieldRule& rule = {}) { visit_float(name, value, rule); }
  /// A double field (a finite JSON number within [rule.min, rule.max]).
  void field(const char* name, double& value, const FieldRule& rule = {}) { visit_double(name, value, rule); }
  /// A text field (a JSON string).
  void field(const char* name, std::string& value, const FieldRule& rule = {}) { visit_string(name, value, rule); }
  /// An enum field written by name; reading any other name is an error listing the allowed ones.
  template <class E>
  void field(const char* name, E& value, std::initializer_list<EnumName<E>> names, const FieldRule& rule = {}) {
    std::vector<std::string> allowed;
    std::string text;
    for (const EnumName<E>& n : names) {
      allowed.emplace_back(n.name);
      if (n.value == value) text = n.name;
    }
    visit_choice(name, text, allowed, rule);
    for (const EnumName<E>& n : names)
      if (text == n.name) value = n.value;
  }

 private:
  virtual void visit_bool(const char* name, bool& value, const FieldRule& rule) = 0;
  virtual void visit_int(const char* name, int& value, const FieldRule& rule) = 0;
  virtual void visit_int64(const char* name, int64_t& value, const FieldRule& rule) = 0;
  virtual void visit_uint64(const char* name, uint64_t& value, const FieldRule& rule) = 0;
  virtual void visit_float(const char* name, float& value, const FieldRule& rule) = 0;
  virtual void visit_double(const char* name, double& value, const FieldRule& rule) = 0;
  virtual void visit_string(const char* name, std::string& value, const FieldRule& rule) = 0;
  // `text` is the current value's name on writing and receives the file's (one of `allowed`) on reading.
  virtual void visit_choice(const char* name, std::string& text, const std::vector<std::string>& allowed,
                            const FieldRule& rule) = 0;
};

/// Writes the fields it is shown as one JSON object, in order: {"width":0.5,"pooling":"none",…}.
class OptionsJsonWriter final : public OptionsArchive {
 public:
  OptionsJsonWriter();
  ~OptionsJsonWriter() override;
  /// The JSON object of every field seen so far.
  std::string text();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  void visit_bool(const char* name, bool& value, const FieldRule& rule) override;
  void visit_int(const char* name, int& value, const FieldRule& rule) override;
  void visit_int64(const char* name, int64_t& value, const FieldRule& rule) override;
  void visit_uint64(const char* name, uint64_t& value, const FieldRule& rule) override;
  void visit_float(const char* name, float& value, const FieldRule& rule) override;
  void visit_double(const char* name, double& value, const FieldRule& rule) override;
  void visit_string(const char* name, std::string& value, const FieldRule& rule) override;
  void visit_choice(const char* name, std::string& text, const std::vector<std::string>& allowed,
                    const FieldRule& rule) override;
};

/// Reads fields from a JSON object, checking each against its type and rule. `where` starts every error message
/// ("model.nnck: 'xception.options'"). Throws nn::Error on construction when `json` is longer than 64 KiB, is not
/// valid JSON, or is not one object of plain values (no arrays or nested objects).
class OptionsJsonReader final : public OptionsArchive {
 public:
  /// Parses `json` (see the class comment for what throws); `where` prefixes every error message.
  OptionsJsonReader(std::string_view json, std::string where);
  ~OptionsJsonReader() override;
  /// Throws nn::Error when the object holds a field that no `field` call asked for.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  void visit_bool(const char* name, bool& value, const FieldRule& rule) override;
  void visit_int(const char* name, int& value, const FieldRule& rule) override;
  void visit_int64(const char* name, int64_t& value, const FieldRule& rule) override;
  void visit_uint64(const char* name, uint64_t& value, const FieldRule& rule) override;
  void visit_float(const char* name, float& value, const FieldRule& rule) override;
  void visit_double(const char* name, double& value, const FieldRule& rule) override;
  void visit_string(const char* name, std::string& value, const FieldRule& rule) override;
  void visit_choice(const char* name, std::string& text, const std::vector<std::string>& allowed,
                    const FieldRule& rule) override;
};

/// `options` as a JSON object, through its `option_fields`.
template <class T>
std::string options_to_json(const T& options) {
  T copy = options;  // option_fields takes the struct by reference, for reading and writing alike
  OptionsJsonWriter writer;
  option_fields(writer, copy);
  return writer.text();
}

/// A T read from `json`: fields marked optional and absent keep T{}'s defaults. Throws nn::Error starting with
/// `where` on malformed JSON, a missing or unknown field, a value of the wrong type or outside its limits.
template <class T>
T options_from_json(std::string_view json, const std::string& where) {
  T options{};
  OptionsJsonReader reader(json, where);
  option_fields(reader, options);
  reader.finish();
  return options;
}

/// A checkpoint text entry {key, options as JSON}, for nn::save's texts.
template <class T>
std::pair<std::string, std::string> options_entry(const std::string& key, const T& options) {
  return {key, options_to_json(options)};
}

/// The options stored under `key` among a checkpoint's `texts`, or std::nullopt when there is no such entry. Errors
/// name `file` and `key`: "model.nnck: 'xception.options': option 'width': expected a number in [0.001, 4], got 7".
template <class T>
std::optional<T> find_options(const std::vector<std::pair<std::string, std::string>>& texts, const std::string& key,
                              const std::filesystem::path& file) {
  for (const auto& [name, text] : texts) {
    if (name == key) return options_from_json<T>(text, file.string() + ": '" + key + "'");
  }
  return std::nullopt;
}

}  // namespace nn
