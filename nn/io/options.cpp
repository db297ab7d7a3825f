// Options structs as JSON through cereal's JSON archive (nn/io/options.h).

// cereal's archive first: it makes rapidjson's assertions throw cereal::RapidJSONException, for every rapidjson
// header included after it. With rapidjson's own assert (a no-op under NDEBUG) reading a number as a string would
// follow a garbage pointer.
#ifdef RAPIDJSON_RAPIDJSON_H_
#error "rapidjson was included before cereal's JSON archive: its assertions would not throw"
#endif
#include <cereal/archives/json.hpp>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "nn/io/options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "nn/core/error.h"

namespace nn {

namespace {

// Option texts are a few hundred bytes; the bound keeps a crafted file from handing the parser megabytes.
constexpr size_t kMaxOptionsText = 64 * 1024;

std::string number_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", v);
  return buffer;
}

// "an integer in [0, 64]", "a number ≥ 0", "a number".
std::string described(const char* kind, const FieldRule& rule) {
  const bool low = std::isfinite(rule.min), high = std::isfinite(rule.max);
  if (low && high) return std::string(kind) + " in [" + number_text(rule.min) + ", " + number_text(rule.max) + "]";
  if (low) return std::string(kind) + " ≥ " + number_text(rule.min);
  if (high) return std::string(kind) + " ≤ " + number_text(rule.max);
  return kind;
}

// A float as the double with the fewest decimal digits that reads back to the same float (0.1f → 0.1, not
// 0.10000000149011612), so that the JSON reads as it was written in the code.
double shortest(float v) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  double d = v;
  std::from_chars(buffer, end, d);
  return d;
}

}  // namespace

// ---- writing ----

struct OptionsJsonWriter::Impl {
  std::ostringstream stream;
  std::optional<cereal::JSONOutputArchive> archive;
  template <class T>
  void write(const char* name, const T& value) {
    (*archive)(cereal::make_nvp(name, value));
  }
};

OptionsJsonWriter::OptionsJsonWriter() : impl_(std::make_unique<Impl>()) {
  impl_->archive.emplace(impl_->stream, cereal::JSONOutputArchive::Options::NoIndent());
}

OptionsJsonWriter::~OptionsJsonWriter() = default;

std::string OptionsJsonWriter::text() {
  impl_->archive.reset();  // cereal closes the object when its archive goes
  return impl_->stream.str();
}

void OptionsJsonWriter::visit_bool(const char* name, bool& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_int(const char* name, int& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_int64(const char* name, int64_t& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_uint64(const char* name, uint64_t& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_float(const char* name, float& value, const FieldRule&) {
  impl_->write(name, shortest(value));
}
void OptionsJsonWriter::visit_double(const char* name, double& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_string(const char* name, std::string& value, const FieldRule&) {
  impl_->write(name, value);
}
void OptionsJsonWriter::visit_choice(const char* name, std::string& text, const std::vector<std::string>&,
                                     const FieldRule&) {
  impl_->write(name, text);
}

// ---- reading ----

// rapidjson (cereal's JSON engine) checks the text's structure first — iteratively, so no nesting depth can
// exhaust the stack — and lists its fields; cereal's archive then reads each value with its type checked.
struct OptionsJsonReader::Impl {
  std::string where;
  rapidjson::Document document;
  std::istringstream stream;
  std::optional<cereal::JSONInputArchive> archive;
  std::set<std::string> asked;

  std::string field_where(const char* name) const { return where + ": option '" + name + "'"; }

  // The value of field `name` as it is written in the file, made printable and cut short.
  std::string raw(const char* name) const {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                      rapidjson::kWriteNanAndInfFlag>
        writer(buffer);
    document[name].Accept(writer);
    std::string text(buffer.GetString(), buffer.GetSize());
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return printable(text);
  }

  // Whether the file has field `name`; a missing field is an error unless the rule makes it optional.
  bool present(const char* name, const FieldRule& rule) {
    asked.insert(name);
    if (document.HasMember(name)) return true;
    if (!rule.optional) fail(where, std::string("has no option '") + name + "'");
    return false;
  }

  template <class T>
  void read(const char* name, T& value, const std::string& expected) {
    try {
      (*archive)(cereal::make_nvp(name, value));
    } catch (const cereal::Exception&) {
      fail_expected(field_where(name), expected, raw(name));
    }
  }

  // A float is read as the double written in the file and checked before it is narrowed, so that a limit
  // written as 0.99 admits the 0.99 a float 0.99f was written as.
  template <class T, class Read = T>
  void read_number(const char* name, T& value, const FieldRule& rule, const char* kind) {
    if (!present(name, rule)) return;
    const std::string expected = described(kind, rule);
    Read v{};
    read(name, v, expected);
    const double d = static_cast<double>(v);
    const double largest = static_cast<double>(std::numeric_limits<T>::max());  // a float field: no 1e300
    if (!std::isfinite(d) || !(d >= rule.min && d <= rule.max) || std::abs(d) > largest)
      fail_expected(field_where(name), expected, raw(name));
    value = static_cast<T>(v);
  }
};

OptionsJsonReader::OptionsJsonReader(std::string_view json, std::string where) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.where = std::move(where);
  if (json.size() > kMaxOptionsText) {
    fail_expected(m.where, "an options text of at most 65536 bytes", std::to_string(json.size()) + " bytes");
  }
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;
  m.document.Parse<kFlags>(json.data(), json.size());
  if (m.document.HasParseError()) {
    fail(m.where, std::string("is not valid JSON (") + rapidjson::GetParseError_En(m.document.GetParseError()) +
                      " at byte " + std::to_string(m.document.GetErrorOffset()) + ")");
  }
  if (!m.document.IsObject()) fail_expected(m.where, "a JSON object of options", "another JSON value");
  std::set<std::string> seen;
  for (const auto& member : m.document.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    if (!seen.insert(name).second) fail(m.where, "option '" + printable(name) + "' appears twice");
    if (member.value.IsObject() || member.value.IsArray()) {
      fail_expected(m.where + ": option '" + printable(name) + "'", "a plain value", "an object or array");
    }
  }
  m.stream.str(std::string(json));
  m.archive.emplace(m.stream);  // parses again, now known to be one flat object
}

OptionsJsonReader::~OptionsJsonReader() = default;

void OptionsJsonReader::finish() {
  for (const auto& member : impl_->document.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    if (!impl_->asked.count(name)) {
      fail(impl_->where, "has option '" + printable(name) +
                             "', which this libnn does not know (a file from a newer version, or a damaged one)");
    }
  }
}

void OptionsJsonReader::visit_bool(const char* name, bool& value, const FieldRule& rule) {
  if (impl_->present(name, rule)) impl_->read(name, value, "true or false");
}
void OptionsJsonReader::visit_int(const char* name, int& value, const FieldRule& rule) {
  impl_->read_number(name, value, rule, "an integer");
}
void OptionsJsonReader::visit_int64(const char* name, int64_t& value, const FieldRule& rule) {
  impl_->read_number(name, value, rule, "an integer");
}
void OptionsJsonReader::visit_uint64(const char* name, uint64_t& value, const FieldRule& rule) {
  impl_->read_number(name, value, rule, "an integer");
}
void OptionsJsonReader::visit_float(const char* name, float& value, const FieldRule& rule) {
  impl_->read_number<float, double>(name, value, rule, "a number");
}
void OptionsJsonReader::visit_double(const char* name, double& value, const FieldRule& rule) {
  impl_->read_number(name, value, rule, "a number");
}
void OptionsJsonReader::visit_string(const char* name, std::string& value, const FieldRule& rule) {
  if (impl_->present(name, rule)) impl_->read(name, value, "a string");
}
void OptionsJsonReader::visit_choice(const char* name, std::string& text, const std::vector<std::string>& allowed,
                                     const FieldRule& rule) {
  std::string expected = "one of";
  for (size_t i = 0; i < allowed.size(); ++i) expected += (i == 0 ? " \"" : ", \"") + allowed[i] + "\"";
  if (!impl_->present(name, rule)) return;
  std::string value;
  impl_->read(name, value, expected);
  for (const std::string& a : allowed) {
    if (a == value) {
      text = value;
      return;
    }
  }
  fail_expected(impl_->field_where(name), expected, impl_->raw(name));
}

}  // namespace nn
