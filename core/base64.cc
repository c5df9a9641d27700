#include "core/base64.h"

#include <cstdint>

namespace dbcanary {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text, Base64Options options) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t bits = 0;
  int data = 0;     // characters of the current group of four
  int padding = 0;  // '=' seen (only ever after the last data character)
  for (char c : text) {
    if (options.ignore_whitespace && IsSpace(c)) continue;
    if (c == '=') {
      // '=' stands for the third or fourth character of a group, never for the first two.
      if (data + padding < 2 || data + padding >= 4) return std::nullopt;
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after '='
    const int value = Value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    if (++data == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      data = 0;
    }
  }
  if (data == 1) return std::nullopt;  // 6 bits: not even one byte
  if (padding > 0 && data + padding != 4) return std::nullopt;
  if (padding == 0 && data > 0 && options.padding == Base64Padding::kRequired) return std::nullopt;
  if (data == 2) {  // 12 bits: one byte
    out.push_back(static_cast<char>((bits >> 4) & 0xff));
  } else if (data == 3) {  // 18 bits: two bytes
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

std::string EncodeBase64(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    const size_t n = data.size() - i < 3 ? data.size() - i : 3;
    uint32_t bits = 0;
    for (size_t j = 0; j < 3; ++j) {
      bits = (bits << 8) | (j < n ? static_cast<unsigned char>(data[i + j]) : 0u);
    }
    for (size_t j = 0; j < 4; ++j) {
      out.push_back(j <= n ? kAlphabet[(bits >> (18 - 6 * j)) & 63] : '=');
    }
  }
  return out;
}

}  // namespace dbcanary
