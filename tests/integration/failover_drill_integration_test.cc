// The failover drill against the local stack: `stack.sh failover` really kills the primary,
// promotes a standby and repoints PgBouncer while a writer commits through gitlab-pooler-rw.
// Teardown fails back to shared-postgres-1 (pass or fail): every other test assumes it.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_reader.h"
#include "drills/drill.h"
#include "drills/failover/failover_drill.h"
#include "tests/integration/harness/report_plots.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kPrimary[] = "shared-postgres-1";
constexpr char kTimelineSql[] =
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint AS t";

constexpr double kMinWrites = 30;  // min_writes_before and min_writes_after in the drill's params

// The first sample of `name` whose labels include every given (label, value) pair.
std::optional<double> FindDrillSample(const DrillResult& result, std::string_view name,
                                      const Labels& labels = {}) {
  for (const auto& sample : result.samples) {
    if (sample.name != name) continue;
    const bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& wanted) {
      return std::find(sample.labels.begin(), sample.labels.end(), wanted) != sample.labels.end();
    });
    if (match) return sample.value;
  }
  return std::nullopt;
}

const ExpectationResult* FindDrillExpectation(const DrillResult& result, std::string_view check) {
  for (const auto& expectation : result.expectations) {
    if (expectation.check == check) return &expectation;
  }
  return nullptr;
}

std::string Cell(const Result<PgTable>& table, std::string_view column) {
  if (!table || table->empty()) return "<no answer>";
  auto value = table->Text(0, column);
  return value && value->has_value() ? **value : "<null>";
}

// Brings the primary back to shared-postgres-1 and checks the stack is whole again, also when
// the test failed midway.
class FailBack {
 public:
  ~FailBack() {
    const Stack& stack = Stack::Get();
    std::string output;
    auto back = stack.Script({"failover", "--to", kPrimary}, &output, std::chrono::seconds(180));
    EXPECT_TRUE(back) << "fail back: " << (back ? output : back.error().message);
    EXPECT_EQ(Cell(stack.AdminQuery(kPrimary, "SELECT pg_is_in_recovery()::text AS r"), "r"),
              "false");
    EXPECT_EQ(Cell(stack.AdminQuery(kPrimary,
                                    "SELECT count(*) AS n FROM pg_stat_replication WHERE state "
                                    "= 'streaming' AND sync_state IN ('sync', 'quorum')"),
                   "n"),
              "2");
  }
};

DrillContext Context(std::chrono::seconds timeout) {
  return DrillContext{
      Deadline::In(timeout), std::stop_token{}, testing::TestLogger(), [](std::string_view line) {
        std::fprintf(stderr, "[drill] %.*s\n", static_cast<int>(line.size()), line.data());
      }};
}

// A real promotion through the command trigger: another instance becomes primary on a new
// timeline, writes through PgBouncer resume within 30 s, no acknowledged write is lost, and
// both standbys stream again. Pins: a drill that measures nothing, misses lost writes, or
// leaves the stack failed over.
TEST(FailoverDrillIntegrationTest, CommandTriggerPromotesAStandbyWithoutLosingWrites) {
  DBCANARY_REQUIRE_STACK();
  const Stack& stack = Stack::Get();
  auto config = stack.LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  auto timeline_before = stack.AdminQuery(kPrimary, kTimelineSql);
  ASSERT_TRUE(timeline_before) << timeline_before.error().message;
  const double tl_before = std::stod(Cell(timeline_before, "t"));

  DrillSettings settings;
  settings.kind = "failover";
  settings.timeout = std::chrono::minutes(3);
  const std::string yaml = std::string("{cluster: ") + kCluster +
                           ", pooler: gitlab-pooler-rw, trigger: {command: [env, "
                           "\"DBCANARY_STACK_DIR=" +
                           stack.dir() + "\", \"" + DBCANARY_SOURCE_DIR +
                           "/deploy/local/stack.sh\", failover], timeout: 150s}, "
                           "min_writes_before: 30, min_writes_after: 30, settle: 2s, "
                           "expect: {max_downtime_seconds: 30, max_lost_writes: 0}}";
  settings.params = std::make_shared<YamlMap>(YAML::Load(yaml), "drills.jobs.failover",
                                              std::make_shared<const std::string>("test.yaml"));
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill = registry.Create(settings, **config);
  ASSERT_TRUE(drill) << drill.error().message;

  auto ctx = Context(std::chrono::seconds(170));
  ASSERT_TRUE((*drill)->CleanUp(ctx));
  auto ready = (*drill)->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;

  FailBack fail_back;
  DrillResult result = (*drill)->Run(ctx);
  for (const auto& phase : result.phases) {
    std::fprintf(stderr, "phase %-20s %7.3f s %s %s\n", phase.name.c_str(), phase.duration_seconds,
                 phase.ok ? "ok  " : "FAIL", phase.detail.c_str());
  }
  for (const auto& evidence : result.evidence) {
    std::fprintf(stderr, "== %s\n%s\n", evidence.title.c_str(), evidence.text.c_str());
  }
  ASSERT_FALSE(result.error) << result.error->message;

  // a real promotion: the old primary is a standby now, the new one is on a later timeline
  EXPECT_EQ(Cell(stack.AdminQuery(kPrimary, "SELECT pg_is_in_recovery()::text AS r"), "r"), "true");
  auto timeline = FindDrillSample(result, "dbcanary_drill_failover_timeline");
  ASSERT_TRUE(timeline);
  EXPECT_GT(*timeline, tl_before);

  auto downtime = FindDrillSample(result, "dbcanary_drill_failover_downtime_seconds");
  ASSERT_TRUE(downtime);
  // The primary really went away: the old primary is a standby now and the timeline moved (both
  // checked above). Downtime is positive and within the product promise; no lower bound on how
  // long a promotion takes (that is the host's speed, not the drill's).
  EXPECT_GT(*downtime, 0.0);
  EXPECT_LT(*downtime, 30.0);
  auto new_primary = FindDrillSample(result, "dbcanary_drill_failover_new_primary_seconds");
  ASSERT_TRUE(new_primary);
  EXPECT_GT(*new_primary, 0.0);
  EXPECT_EQ(FindDrillSample(result, "dbcanary_drill_failover_lost_writes"), 0.0);
  auto acknowledged = FindDrillSample(result, "dbcanary_drill_failover_acknowledged_writes");
  ASSERT_TRUE(acknowledged);
  // "lost: 0" stands on the configured minimum of writes on each side of the failover, whatever
  // the host's speed: the drill holds the trigger and the writer's stop until they are reached.
  auto window = [&](const char* name) {
    return FindDrillSample(result, "dbcanary_drill_failover_window_writes",
                           {{"window", name}, {"outcome", "acknowledged"}});
  };
  ASSERT_TRUE(window("before") && window("after"));
  EXPECT_GE(*window("before"), kMinWrites);
  EXPECT_GE(*window("after"), kMinWrites);
  EXPECT_EQ(*window("before") + window("during").value_or(0) + *window("after"), *acknowledged);
  for (const char* check :
       {"min_writes_before_trigger", "min_writes_after_resume", "max_lost_writes"}) {
    const ExpectationResult* expectation = FindDrillExpectation(result, check);
    ASSERT_NE(expectation, nullptr) << check;
    EXPECT_TRUE(expectation->pass) << check << ": " << expectation->observed_text;
  }
  auto recovered = FindDrillSample(result, "dbcanary_drill_failover_standbys_recovered_seconds");
  ASSERT_TRUE(recovered);
  EXPECT_GE(*recovered, *new_primary);

  const ExpectationResult* max_downtime = FindDrillExpectation(result, "max_downtime_seconds");
  ASSERT_NE(max_downtime, nullptr);
  EXPECT_TRUE(max_downtime->pass) << max_downtime->observed_text;
  EXPECT_TRUE(result.Passed());
  // The report's failover timeline: one SVG point per write attempt the JSON holds, the trigger
  // and the new primary marked.
  size_t attempts = 0;
  for (const auto& series : result.series) {
    if (series.name == "writes") attempts += series.points.size();
  }
  EXPECT_GE(static_cast<double>(attempts), *acknowledged);
  testing::ExpectHtmlPlotsMatchJson("failover", result, "failover-drill");
  std::fprintf(stderr,
               "FIGURES downtime=%.3f new_primary=%.3f standbys_recovered=%.3f acknowledged=%.0f "
               "lost=0\n",
               *downtime, *new_primary, *recovered, *acknowledged);

  EXPECT_TRUE((*drill)->CleanUp(ctx));
}

// A table with the drill's prefix that someone else made (no ownership marker, owned by the
// pooler's user, so the drill's DROP and TRUNCATE would succeed): cleanup leaves it as it is, the
// run is refused before anything is touched, and its rows survive.
TEST(FailoverDrillIntegrationTest, UnmarkedDbcanaryTableIsLeftAlone) {
  DBCANARY_REQUIRE_STACK();
  const Stack& stack = Stack::Get();
  auto config = stack.LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  const Pooler* pooler = nullptr;
  for (const auto& candidate : (*config)->poolers) {
    if (candidate.name == "gitlab-pooler-rw") pooler = &candidate;
  }
  ASSERT_NE(pooler, nullptr);
  const std::string& db = pooler->connection.dbname;
  auto made = stack.AdminQuery(
      kPrimary,
      "DROP TABLE IF EXISTS dbcanary_unmarked_writes; CREATE TABLE dbcanary_unmarked_writes (seq "
      "bigint PRIMARY KEY, at timestamptz); INSERT INTO dbcanary_unmarked_writes VALUES (1, "
      "now()), (2, now()); ALTER TABLE dbcanary_unmarked_writes OWNER TO " +
          pooler->connection.user,
      db);
  ASSERT_TRUE(made) << made.error().message;
  auto rows = [&] {
    return Cell(
        stack.AdminQuery(kPrimary, "SELECT count(*) AS n FROM dbcanary_unmarked_writes", db), "n");
  };
  DrillSettings settings;
  settings.kind = "failover";
  settings.timeout = std::chrono::minutes(1);
  settings.params = std::make_shared<YamlMap>(
      YAML::Load(std::string("{cluster: ") + kCluster +
                 ", pooler: gitlab-pooler-rw, trigger: {command: [\"false\"]}, table: "
                 "dbcanary_unmarked_writes}"),
      "drills.jobs.failover", std::make_shared<const std::string>("test.yaml"));
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill = registry.Create(settings, **config);
  ASSERT_TRUE(drill) << drill.error().message;

  auto ctx = Context(std::chrono::seconds(30));
  auto cleaned = (*drill)->CleanUp(ctx);
  EXPECT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_EQ(rows(), "2") << "cleanup dropped a table without the ownership marker";
  auto ready = (*drill)->CheckPreconditions(ctx);
  ASSERT_FALSE(ready) << "the drill would truncate a table it does not own";
  EXPECT_NE(ready.error().message.find("without the dbcanary ownership marker"), std::string::npos)
      << ready.error().message;
  EXPECT_EQ(rows(), "2");
  (void)stack.AdminQuery(kPrimary, "DROP TABLE IF EXISTS dbcanary_unmarked_writes", db);
}

}  // namespace
}  // namespace dbcanary
