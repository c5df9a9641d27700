#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dbcanary {

// Standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, '=' padding); no base64url.

enum class Base64Padding {
  kRequired,  // the length is a multiple of 4 ("Authorization: Basic ..." headers)
  kOptional,  // a final group of 2 or 3 characters may go without its '=' (kubeconfig *-data)
};

struct Base64Options {
  Base64Padding padding = Base64Padding::kRequired;
  // Skips space, tab, CR and LF anywhere (line-wrapped data); otherwise they are junk.
  bool ignore_whitespace = false;
};

// The decoded bytes, or nullopt for: a character outside the alphabet, '=' anywhere but at the
// end of the last group, more than two '=', a final group of a single character, a padded group
// of the wrong length, or missing padding when it is required. Unused low bits of the last
// character are ignored. Decodes into one string and makes no other copy.
std::optional<std::string> DecodeBase64(std::string_view text, Base64Options options = {});

// `data` encoded, padded with '='.
std::string EncodeBase64(std::string_view data);

}  // namespace dbcanary
