#include "probes/dragonfly/dragonfly_basics_probe.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "config/config.h"
#include "probes/dragonfly/dragonfly_ops.h"

namespace dbcanary {
namespace {

using std::chrono::seconds;

std::string ConfigText(const std::string& probe_params) {
  return "dragonfly:\n"
         "  - name: df\n"
         "    master: { host: 192.0.2.1, port: 6379 }\n"
         "    key_prefix: \"canary:\"\n"
         "    probes:\n"
         "      dragonfly_basics: " +
         probe_params + "\n";
}

Result<std::unique_ptr<Probe>> Build(const std::string& probe_params,
                                     std::shared_ptr<const Config>* keep = nullptr) {
  auto config = ParseConfig(ConfigText(probe_params), "test.yaml");
  if (!config) return config.error();
  if (keep != nullptr) *keep = *config;
  const Config& loaded = **config;
  return CreateDragonflyBasicsProbe(loaded.dragonflies.at(0).probes.at(0), loaded);
}

TEST(DragonflyBasicsFactoryTest, BuildsWithDefaultsAndDescribesOpFamilies) {
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  const auto& descs = (*probe)->Describe();
  ASSERT_EQ(descs.size(), 2u);
  EXPECT_EQ(descs[0].name, "dbcanary_dragonfly_op_duration_seconds");
  EXPECT_EQ(descs[1].name, "dbcanary_dragonfly_op_success");
  EXPECT_TRUE(Build("{ interval: 10s, timeout: 2s, ttl: 5m }"));
}

struct BadParams {
  std::string params;
  std::string expected;  // a substring of the error message
};

TEST(DragonflyBasicsFactoryTest, RejectsBadParamsNamingTheKeyPath) {
  const BadParams cases[] = {
      {"{ tll: 60s }", "dragonfly[0].probes.dragonfly_basics.tll: unknown key"},
      {"{ ttl: sixty }", "dragonfly[0].probes.dragonfly_basics.ttl: expected a duration"},
      {"{ ttl: 60 }", "dragonfly[0].probes.dragonfly_basics.ttl: expected a duration"},
      {"{ ttl: 1500ms }", "dragonfly[0].probes.dragonfly_basics.ttl: must be a whole number"},
      {"{ ttl: 500ms }", "dragonfly[0].probes.dragonfly_basics.ttl: must be from 1s to 24h"},
      {"{ ttl: 25h }", "dragonfly[0].probes.dragonfly_basics.ttl: must be from 1s to 24h"},
      {"{ timeout: 3s, ttl: 2s }",
       "dragonfly[0].probes.dragonfly_basics.ttl: (2s) must not be shorter than the probe timeout"},
      {"{ ttl: [1, 2] }", "dragonfly[0].probes.dragonfly_basics.ttl"},
  };
  for (const auto& c : cases) {
    auto probe = Build(c.params);
    ASSERT_FALSE(probe) << c.params;
    EXPECT_EQ(probe.error().code, ErrorCode::kConfig) << c.params;
    EXPECT_NE(probe.error().message.find(c.expected), std::string::npos)
        << c.params << " -> " << probe.error().message;
    EXPECT_NE(probe.error().message.find("test.yaml:"), std::string::npos) << probe.error().message;
  }
}

TEST(DragonflyBasicsFactoryTest, UnknownTargetIsAConfigError) {
  std::shared_ptr<const Config> config;
  ASSERT_TRUE(Build("{}", &config));
  ProbeSettings settings = config->dragonflies.at(0).probes.at(0);
  settings.target = "missing";
  auto probe = CreateDragonflyBasicsProbe(settings, *config);
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("no dragonfly target named \"missing\""), std::string::npos);
}

TEST(DragonflyBasicsTest, TtlCheck) {
  EXPECT_EQ(CheckBasicsTtl(60, seconds(60)), "");
  EXPECT_EQ(CheckBasicsTtl(1, seconds(60)), "");
  EXPECT_NE(CheckBasicsTtl(-1, seconds(60)).find("no expiry"), std::string::npos);
  EXPECT_NE(CheckBasicsTtl(-2, seconds(60)).find("missing"), std::string::npos);
  EXPECT_NE(CheckBasicsTtl(0, seconds(60)).find("outside (0, 60s]"), std::string::npos);
  EXPECT_NE(CheckBasicsTtl(61, seconds(60)).find("TTL 61s is outside"), std::string::npos);
}

TEST(DragonflyBasicsTest, KeysCarryThePrefixAndDiffer) {
  std::set<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    std::string key = MakeBasicsKey("dbcanary:");
    ASSERT_EQ(key.rfind("dbcanary:basics:", 0), 0u) << key;
    ASSERT_EQ(key.size(), std::string("dbcanary:basics:").size() + 16) << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 100u);
}

TEST(DragonflyOpRecorderTest, ExportsEveryDeclaredOpEvenWhenNotReached) {
  constexpr std::string_view ops[] = {"connect", "ping", "set"};
  DragonflyOpRecorder recorder("df", ops);
  recorder.Record("connect", 0.25, true);
  Status failed = recorder.Time("ping", [] { return Status(MakeError(ErrorCode::kTimeout, "x")); });
  EXPECT_FALSE(failed);
  EXPECT_TRUE(recorder.Reached("ping"));
  EXPECT_FALSE(recorder.Reached("set"));

  ProbeResult result;
  recorder.AppendTo(result);
  ASSERT_EQ(result.samples.size(), 6u);
  auto value = [&](const std::string& name, const std::string& op) {
    for (const auto& sample : result.samples) {
      if (sample.name == name && sample.labels == Labels{{"target", "df"}, {"op", op}}) {
        return sample.value;
      }
    }
    ADD_FAILURE() << name << " op=" << op << " missing";
    return -1.0;
  };
  EXPECT_EQ(value("dbcanary_dragonfly_op_duration_seconds", "connect"), 0.25);
  EXPECT_EQ(value("dbcanary_dragonfly_op_success", "connect"), 1);
  EXPECT_EQ(value("dbcanary_dragonfly_op_success", "ping"), 0);
  EXPECT_EQ(value("dbcanary_dragonfly_op_duration_seconds", "set"), 0);
  EXPECT_EQ(value("dbcanary_dragonfly_op_success", "set"), 0);
  EXPECT_NE(recorder.Summary().find("connect=250.000ms"), std::string::npos) << recorder.Summary();
  EXPECT_NE(recorder.Summary().find("ping="), std::string::npos);
  EXPECT_EQ(recorder.Summary().find("set="), std::string::npos);
}

// A run with no time left fails as a timeout, exports every op as not reached, touches nothing.
TEST(DragonflyBasicsTest, RunWithExpiredDeadlineIsATimeoutWithAllSeries) {
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  spdlog::logger log("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::stop_source stop;
  ProbeContext ctx{Deadline::In(std::chrono::milliseconds(0)), stop.get_token(), log};
  ProbeResult result = (*probe)->Run(ctx);
  EXPECT_FALSE(result.success);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, ErrorCode::kTimeout);
  EXPECT_EQ(result.samples.size(), 12u);
  for (const auto& sample : result.samples) {
    const std::string& op = sample.labels.at(1).second;
    EXPECT_EQ(sample.labels.at(0), (std::pair<std::string, std::string>{"target", "df"}));
    if (sample.name == "dbcanary_dragonfly_op_duration_seconds" && op == "connect") {
      // Reached, and gave up at once: far below the 5 s connect_timeout to 192.0.2.1 (which
      // would hang) that an attempted connect would take; 1 s leaves room for a loaded host.
      EXPECT_LT(sample.value, 1.0);
    } else {
      EXPECT_EQ(sample.value, 0) << sample.name << " " << op;
    }
  }
}

}  // namespace
}  // namespace dbcanary
