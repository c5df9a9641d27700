#pragma once

#include <string>
#include <string_view>

namespace dbcanary {

// A password or token. It has no stream operator and no implicit conversion, so it
// cannot reach a log line, a label or an error message by accident; Reveal() is
// greppable. Every secret value loaded is also registered for RedactSecrets().
class Secret {
 public:
  Secret() = default;
  // `source` says where it came from ("file /run/secrets/x", "env PGPASSWORD"),
  // which is safe to log.
  Secret(std::string value, std::string source);

  bool empty() const { return value_.empty(); }
  const std::string& Reveal() const { return value_; }
  const std::string& source() const { return source_; }

 private:
  std::string value_;
  std::string source_;
};

// Replaces every registered secret value that occurs in `text` with "<redacted>".
// Applied to every log line and every error message that leaves the process.
std::string RedactSecrets(std::string_view text);

// Registers a value that must never be printed (also done by Secret's constructor).
void RegisterSecretValue(const std::string& value);

}  // namespace dbcanary
