// libFuzzer target: the Prometheus text exposition of our families (core/families.h) written by
// prometheus::TextSerializer. Label values and HELP texts come from configuration and from
// servers (database names, versions, error-free server strings), so escaping must hold for any
// bytes. Checks, beyond "no crash":
//   - unescaping the HELP text and the label value gives back the input (nothing lost or
//     invented);
//   - an escaped text never holds a raw newline (one sample = one line: a family is 3 lines);
//   - a label value never ends the quoted string early (every '"' is escaped);
//   - FormatValue (numbers for people) reads back to the same double (or NaN / +Inf / -Inf).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/families.h"
#include "core/number_format.h"

namespace {

// Inverse of the escaping: \\ -> \, \n -> newline, \" -> " (label values only).
std::string Unescape(std::string_view text, bool quotes) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 >= text.size()) std::abort();  // a dangling backslash escapes the closing quote
    char next = text[++i];
    if (next == '\\') {
      out += '\\';
    } else if (next == 'n') {
      out += '\n';
    } else if (next == '"' && quotes) {
      out += '"';
    } else {
      std::abort();  // an escape the format does not define
    }
  }
  return out;
}

void CheckValue(double value) {
  std::string text = dbcanary::FormatValue(value);
  if (std::isnan(value)) {
    if (text != "NaN") std::abort();
    return;
  }
  if (std::isinf(value)) {
    if (text != (value > 0 ? "+Inf" : "-Inf")) std::abort();
    return;
  }
  double back = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
  if (ec != std::errc() || end != text.data() + text.size() || back != value) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (size >= sizeof(double)) {
    double value = 0;
    std::memcpy(&value, data, sizeof(double));
    CheckValue(value);
  }

  // A whole family: exactly three lines (HELP, TYPE, one sample), whatever the text (two for an
  // empty text, below).
  dbcanary::FamilyBuilder builder;
  builder.Describe({"dbcanary_fuzz_value", std::string(input), dbcanary::MetricType::kGauge});
  builder.Add({"dbcanary_fuzz_value", {{"target", std::string(input)}}, 1});
  std::string out;
  dbcanary::AppendText(builder.Take(), out);
  size_t lines = 0;
  for (char c : out) lines += (c == '\n');
  // TextSerializer leaves out the HELP line of a family whose help text is empty.
  if (input.empty()) {
    if (lines != 2 || out.starts_with("# HELP") || out.back() != '\n') std::abort();
    return 0;
  }
  if (lines != 3 || out.back() != '\n') std::abort();

  const std::string help_prefix = "# HELP dbcanary_fuzz_value ";
  size_t help_end = out.find('\n');
  if (!out.starts_with(help_prefix)) std::abort();
  std::string_view help(out.data() + help_prefix.size(), help_end - help_prefix.size());
  if (Unescape(help, false) != input) std::abort();

  const std::string sample_prefix = "dbcanary_fuzz_value{target=\"";
  // The sample is the third line (the HELP text may itself look like a sample).
  size_t sample_at = out.find('\n', help_end + 1) + 1;
  if (out.compare(sample_at, sample_prefix.size(), sample_prefix) != 0) std::abort();
  // From the string, not its data(): the input may hold NUL bytes.
  std::string_view rest = std::string_view(out).substr(sample_at + sample_prefix.size());
  const std::string_view sample_suffix = "\"} 1\n";
  if (!rest.ends_with(sample_suffix)) std::abort();
  std::string_view label = rest.substr(0, rest.size() - sample_suffix.size());
  if (Unescape(label, true) != input) std::abort();
  for (size_t i = 0; i < label.size(); ++i) {
    if (label[i] == '\\') {
      ++i;
    } else if (label[i] == '"') {
      std::abort();  // an unescaped quote would end the label value early
    }
  }
  return 0;
}
