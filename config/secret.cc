#include "config/secret.h"

#include <mutex>
#include <set>

namespace dbcanary {
namespace {

struct SecretSet {
  std::mutex mutex;
  std::set<std::string> values;
};

SecretSet& Registry() {
  static SecretSet registry;
  return registry;
}

}  // namespace

Secret::Secret(std::string value, std::string source)
    : value_(std::move(value)), source_(std::move(source)) {
  RegisterSecretValue(value_);
}

void RegisterSecretValue(const std::string& value) {
  // Very short values would redact ordinary words; they are weak passwords anyway.
  if (value.size() < 4) return;
  auto& registry = Registry();
  std::lock_guard lock(registry.mutex);
  registry.values.insert(value);
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  auto& registry = Registry();
  std::lock_guard lock(registry.mutex);
  for (const auto& secret : registry.values) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "<redacted>");
      pos += 10;
    }
  }
  return out;
}

}  // namespace dbcanary
