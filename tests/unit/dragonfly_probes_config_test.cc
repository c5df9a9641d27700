// Params of the dragonfly_structures/pubsub/replication/info kinds: strict, with bounds.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

// Builds `kind` with `params` (a YAML flow map) on a dragonfly target through the registry;
// returns the error message, or "" when it was built.
std::string BuildError(const std::string& kind, const std::string& params,
                       const std::string& master_extra = "") {
  std::string text =
      "dragonfly:\n"
      "  - name: df\n"
      "    master: { host: 127.0.0.1, port: 6379" +
      master_extra +
      " }\n"
      "    replicas: [ { name: r1, host: 127.0.0.1, port: 6380 } ]\n"
      "    probes:\n"
      "      " +
      kind + ": " + params + "\n";
  auto config = ParseConfig(text, "df.yaml");
  if (!config) return config.error().message;
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  auto probe = registry.Create(*(*config)->AllProbes()[0], **config);
  return probe ? "" : probe.error().message;
}

TEST(DragonflyProbesConfigTest, DefaultsBuild) {
  for (const char* kind :
       {"dragonfly_structures", "dragonfly_pubsub", "dragonfly_replication", "dragonfly_info"}) {
    EXPECT_EQ(BuildError(kind, "{}"), "") << kind;
  }
}

TEST(DragonflyProbesConfigTest, FullParamsBuild) {
  EXPECT_EQ(BuildError("dragonfly_structures", "{ timeout: 2s, ttl: 30s, short_ttl: 50ms }"), "");
  EXPECT_EQ(BuildError("dragonfly_replication",
                       "{ ttl: 30s, poll_interval: 5ms, expect: { master_role: true, "
                       "min_connected_replicas: 2, max_replica_visibility_seconds: 0.5 } }"),
            "");
  EXPECT_EQ(BuildError("dragonfly_info",
                       "{ config_get: false, expect: { max_last_save_age_seconds: 3600 } }"),
            "");
}

TEST(DragonflyProbesConfigTest, RejectsUnknownAndOutOfRangeParams) {
  EXPECT_NE(BuildError("dragonfly_structures", "{ shortttl: 50ms }").find("shortttl"),
            std::string::npos);
  EXPECT_NE(
      BuildError("dragonfly_structures", "{ timeout: 1s, short_ttl: 600ms }").find("short_ttl"),
      std::string::npos);
  EXPECT_NE(BuildError("dragonfly_structures", "{ ttl: 1500ms }").find("ttl"), std::string::npos);
  EXPECT_NE(BuildError("dragonfly_pubsub", "{ channel: x }").find("channel"), std::string::npos);
  EXPECT_NE(BuildError("dragonfly_replication", "{ poll_interval: 2s }").find("poll_interval"),
            std::string::npos);
  EXPECT_NE(
      BuildError("dragonfly_replication", "{ expect: { min_replicas: 1 } }").find("min_replicas"),
      std::string::npos);
  EXPECT_NE(BuildError("dragonfly_info", "{ expect: { max_last_save_age_seconds: 0 } }")
                .find("max_last_save_age_seconds"),
            std::string::npos);
}

// hiredis 0.14 has no TLS: a `tls` key on a dragonfly server is refused, not silently ignored.
TEST(DragonflyProbesConfigTest, TlsIsRefused) {
  std::string error = BuildError("dragonfly_info", "{}", ", tls: true");
  EXPECT_NE(error.find("tls"), std::string::npos) << error;
}

}  // namespace
}  // namespace dbcanary
