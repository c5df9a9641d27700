// libFuzzer target: the Prometheus text exposition (core/text_format.h). Label values
// and HELP texts come from configuration and from servers (database names, versions, error-free
// server strings), so escaping must hold for any bytes. Checks, beyond "no crash":
//   - unescaping EscapeLabelValue / EscapeHelp gives back the input (nothing lost or invented);
//   - an escaped text never holds a raw newline (one sample = one line);
//   - a label value never ends the quoted string early (every '"' is escaped);
//   - FormatValue reads back to the same double (or NaN / +Inf / -Inf).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/text_format.h"

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

  std::string label = dbcanary::EscapeLabelValue(input);
  std::string help = dbcanary::EscapeHelp(input);
  if (label.find('\n') != std::string::npos || help.find('\n') != std::string::npos) std::abort();
  if (Unescape(label, true) != input || Unescape(help, false) != input) std::abort();
  for (size_t i = 0; i < label.size(); ++i) {
    if (label[i] == '\\') {
      ++i;
    } else if (label[i] == '"') {
      std::abort();  // an unescaped quote would end the label value early
    }
  }

  // A whole family: exactly three lines (HELP, TYPE, one sample), whatever the text.
  std::vector<dbcanary::MetricFamily> families(1);
  families[0].desc = {"dbcanary_fuzz_value", std::string(input), dbcanary::MetricType::kGauge};
  families[0].samples.push_back({"dbcanary_fuzz_value", {{"target", std::string(input)}}, 1});
  std::string out;
  dbcanary::AppendTextFormat(families, out);
  size_t lines = 0;
  for (char c : out) lines += (c == '\n');
  if (lines != 3 || out.back() != '\n') std::abort();
  return 0;
}
