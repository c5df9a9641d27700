// monitoring_pipeline's rule_groups against the real vmalert of the local stack
// (deploy/local/stack-monitoring.sh), which evaluates the shipped alerts/dbcanary.rules.yml: every
// shipped group is loaded and healthy; a rule that loads but fails its evaluation makes exactly
// its group's health check red, a group that is not loaded makes its loaded check red, and both
// recover once the rule file is removed again.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "config/config.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

// The groups of alerts/dbcanary.rules.yml (a rename there must be made here too, on purpose).
const char* const kShippedGroups[] = {
    "dbcanary-exporter",   "dbcanary-postgres", "dbcanary-pooler",
    "dbcanary-dragonfly",  "dbcanary-backup",   "dbcanary-kubernetes",
    "dbcanary-monitoring", "dbcanary-drills",   "dbcanary-slo"};
constexpr const char* kBrokenGroup = "dbcanary-test-broken";

class MonitoringRules : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    const auto& stack = Stack::Get();
    vmalert_url_ = "http://127.0.0.1:" + stack.Env("DBCANARY_STACK_PORT_VMALERT");
    broken_file_ = fs::path(stack.Env("DBCANARY_STACK_VMALERT_RULES_DIR")) / "zz-test-broken.yml";
  }
  void TearDown() override {
    if (fs::exists(broken_file_)) {
      fs::remove(broken_file_);
      (void)Stack::Get().Script({"reload-rules"});
    }
  }

  std::unique_ptr<Probe> Build() {
    std::string text = "monitoring:\n  - name: rules\n    rules: { url: \"" + vmalert_url_ +
                       "\" }\n    probes:\n      monitoring_pipeline:\n        rule_groups:\n";
    for (const char* group : kShippedGroups)
      text += "          - name: " + std::string(group) + "\n";
    text += "          - name: " + std::string(kBrokenGroup) + "\n";
    auto config = ParseConfig(text, "rules-test.yaml");
    EXPECT_TRUE(config) << config.error().message;
    if (!config) return nullptr;
    config_ = *config;
    auto probe = MakeProbe(*config_, "monitoring_pipeline", "rules");
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  // Runs the probe until `check` on `group` has passed == `pass`, or `timeout`.
  ProbeResult RunUntil(Probe& probe, const std::string& check, const std::string& group, bool pass,
                       seconds timeout) {
    ProbeResult last;
    for (auto until = std::chrono::steady_clock::now() + timeout;;) {
      last = RunProbeOnce(probe, seconds(5)).result;
      const auto* found = FindExpectation(last, check, "rules/" + group);
      if ((found != nullptr && found->pass == pass) || std::chrono::steady_clock::now() > until) {
        return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  std::string vmalert_url_;
  fs::path broken_file_;
  std::shared_ptr<const Config> config_;
};

bool Passes(const ProbeResult& result, const std::string& check, const std::string& group) {
  const auto* found = FindExpectation(result, check, "rules/" + group);
  EXPECT_NE(found, nullptr) << check << " " << group;
  return found != nullptr && found->pass;
}

// Pins: the shipped groups are loaded and evaluate without error; the group nobody loaded fails
// its loaded check only (observed 0 rules); then a rule that vmalert loads but cannot evaluate
// (a recording rule whose labels make two series identical) turns exactly that group's health
// check red, with vmalert's lastError in the observed text; removing it restores the first state.
TEST_F(MonitoringRules, ShippedGroupsHealthyBrokenRuleRedThenRestored) {
  auto probe = Build();
  ASSERT_NE(probe, nullptr);
  auto healthy =
      RunUntil(*probe, "monitoring_rule_group_healthy", kShippedGroups[0], true, seconds(30));
  ASSERT_TRUE(healthy.success) << healthy.error->message;
  for (const char* group : kShippedGroups) {
    EXPECT_TRUE(Passes(healthy, "monitoring_rule_group_loaded", group)) << group;
    EXPECT_TRUE(Passes(healthy, "monitoring_rule_group_healthy", group)) << group;
    EXPECT_GE(FindSample(healthy, "dbcanary_monitoring_rule_group_rules",
                         {{"target", "rules"}, {"group", group}})
                  .value_or(0),
              1)
        << group;
  }
  EXPECT_FALSE(Passes(healthy, "monitoring_rule_group_loaded", kBrokenGroup));
  EXPECT_TRUE(Passes(healthy, "monitoring_rule_group_healthy", kBrokenGroup));
  EXPECT_EQ(FindSample(healthy, "dbcanary_monitoring_rules_success", {{"target", "rules"}}), 1);

  std::ofstream(broken_file_) << "groups:\n"
                                 "- name: "
                              << kBrokenGroup
                              << "\n"
                                 "  interval: 1s\n"
                                 "  rules:\n"
                                 "  - record: dbcanary_test:duplicate\n"
                                 "    expr: 'label_set(vector(1), \"k\", \"a\") or "
                                 "label_set(vector(2), \"k\", \"b\")'\n"
                                 "    labels: { k: same }\n";
  ASSERT_TRUE(Stack::Get().Script({"reload-rules"}));
  auto broken = RunUntil(*probe, "monitoring_rule_group_healthy", kBrokenGroup, false, seconds(30));
  ASSERT_TRUE(broken.success) << broken.error->message;
  const auto* red = FindExpectation(broken, "monitoring_rule_group_healthy",
                                    "rules/" + std::string(kBrokenGroup));
  ASSERT_NE(red, nullptr);
  EXPECT_FALSE(red->pass);
  EXPECT_EQ(red->observed, 1);
  EXPECT_NE(red->observed_text.find("same labelset"), std::string::npos) << red->observed_text;
  EXPECT_TRUE(Passes(broken, "monitoring_rule_group_loaded", kBrokenGroup));
  for (const char* group : kShippedGroups) {
    EXPECT_TRUE(Passes(broken, "monitoring_rule_group_healthy", group)) << group;
  }

  fs::remove(broken_file_);
  ASSERT_TRUE(Stack::Get().Script({"reload-rules"}));
  auto restored =
      RunUntil(*probe, "monitoring_rule_group_healthy", kBrokenGroup, true, seconds(30));
  EXPECT_TRUE(Passes(restored, "monitoring_rule_group_healthy", kBrokenGroup));
  EXPECT_FALSE(Passes(restored, "monitoring_rule_group_loaded", kBrokenGroup));
  for (const char* group : kShippedGroups) {
    EXPECT_TRUE(Passes(restored, "monitoring_rule_group_healthy", group)) << group;
  }
}

// Pins: a rule engine that cannot be reached is a probe failure (kConnect), and every declared
// group's checks fail as unknown rather than pass.
TEST_F(MonitoringRules, AnEndpointThatIsNotARuleEngineFailsTheRun) {
  vmalert_url_ = "http://127.0.0.1:" + std::to_string(UnusedLoopbackPort());
  auto probe = Build();
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(5)).result;
  ASSERT_FALSE(run.success);
  EXPECT_EQ(run.error->code, ErrorCode::kConnect) << run.error->message;
  EXPECT_FALSE(Passes(run, "monitoring_rule_group_loaded", kShippedGroups[0]));
  EXPECT_FALSE(Passes(run, "monitoring_rule_group_healthy", kShippedGroups[0]));
}

}  // namespace
}  // namespace dbcanary::testing
