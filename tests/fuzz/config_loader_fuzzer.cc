// libFuzzer target: the configuration loader (config/: YAML, the strict YamlMap reader,
// durations, connections, targets, probe and drill sections). A config is operator input, but a
// typo or a bad merge must give an error naming the place, never a crash or an escaped
// exception (`dbcanary check-config` and a reload run this on untrusted edits). Checks, beyond
// "no crash": an error carries a message, and a loaded config's lookups work on its own names.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = dbcanary::ParseConfig(text, "fuzz.yaml");
  if (!config) {
    if (config.error().message.empty()) std::abort();
    return 0;
  }
  for (const auto* probe : (*config)->AllProbes()) {
    if (probe == nullptr) std::abort();
  }
  return 0;
}
