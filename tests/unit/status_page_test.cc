// The status page at / and /api/checks: states (pass, fail, stale, pending), grouping,
// the drill section and HTML escaping.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/html.h"
#include "exporter/web/status_pages.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));

ProbeSnapshot Snapshot(std::string kind, std::string target,
                       std::shared_ptr<const ProbeResult> latest,
                       std::chrono::milliseconds interval = 15s,
                       std::chrono::milliseconds timeout = 5s) {
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{std::move(kind), std::move(target)};
  info->interval = interval;
  info->timeout = timeout;
  return ProbeSnapshot{info, std::move(latest), {}};
}

std::shared_ptr<ProbeResult> Result(std::chrono::system_clock::time_point at, bool success,
                                    std::vector<ExpectationResult> expectations = {}) {
  auto result = std::make_shared<ProbeResult>();
  result->success = success;
  if (!success) result->Fail(ErrorCode::kTimeout, "deadline passed <after 5 s>");
  result->finished_at = at;
  result->expectations = std::move(expectations);
  return result;
}

TEST(StatusPageTest, EscapeHtml) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("plain"), "plain");
}

TEST(StatusPageTest, StaleAfterTwoIntervalsPlusTimeout) {
  EXPECT_FALSE(IsStale(kNow - 35s, 15s, 5s, kNow));
  EXPECT_TRUE(IsStale(kNow - 36s, 15s, 5s, kNow));
}

TEST(StatusPageTest, ChecksCarryPassFailStaleAndPending) {
  std::vector<ProbeSnapshot> probes = {
      Snapshot("pg_replication", "shared-postgres",
               Result(kNow - 3s, true,
                      {ExpectNumber("min_streaming_standbys", "shared-postgres", 2, ">=", 2)})),
      Snapshot("pooler_admin", "gitlab-pooler-rw", Result(kNow - 4s, false)),
      Snapshot("dragonfly_basics", "dragonfly", Result(kNow - 60s, true)),
      Snapshot("pg_tenants", "shared-postgres", nullptr),
  };
  auto rows = StatusChecks(probes, {}, kNow);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].state, CheckState::kPass);
  EXPECT_EQ(rows[1].state, CheckState::kPass);
  EXPECT_EQ(rows[2].state, CheckState::kFail);
  EXPECT_EQ(rows[3].state, CheckState::kStale);
  EXPECT_EQ(rows[4].state, CheckState::kPending);

  auto html = StatusPage(Checklist{rows, {}}, kNow);
  EXPECT_THAT(html, HasSubstr("<meta name=\"viewport\" content=\"width=device-width"));
  EXPECT_THAT(html, HasSubstr("<meta http-equiv=\"refresh\" content=\"15\">"));
  EXPECT_THAT(html, HasSubstr("<h1>NO-GO</h1><p>NO-GO (3 of 5 checks not passed: "));
  EXPECT_THAT(html, HasSubstr("<p>5 checks: 2 pass, 1 fail, 1 stale, 1 pending</p>"));
  EXPECT_THAT(html, HasSubstr("<section id=\"group-operator\" class=\"not_verified\">\n"
                              "<h2>Operator <span class=\"verdict\">NOT VERIFIED: nothing "
                              "configured</span></h2>"));
  EXPECT_THAT(html, HasSubstr("<h2>Cluster and replication <span class=\"verdict\">PASS</span> "
                              "<span class=\"count\">2/2 pass</span>"));
  EXPECT_THAT(html, HasSubstr("<section id=\"group-tenants\" class=\"not_verified\">\n"
                              "<h2>Tenants <span class=\"verdict\">NOT VERIFIED: 1 of 1 checks "
                              "without a result yet</span>"));
  // Relative links: the page works under a proxy's path prefix.
  EXPECT_THAT(html, HasSubstr("<a href=\"metrics\">/metrics</a>"));
  EXPECT_THAT(html, Not(HasSubstr("href=\"/")));
  EXPECT_THAT(html, HasSubstr("<tr class=\"pass\"><td class=\"state\">pass</td>"
                              "<td class=\"checkname\">min_streaming_standbys"));
  EXPECT_THAT(html, HasSubstr("<tr class=\"stale\">"));
  EXPECT_THAT(html, HasSubstr("2026-11-18T11:06:37Z (3s ago)"));
  // The error message is escaped, never raw.
  EXPECT_THAT(html, HasSubstr("timeout: deadline passed &lt;after 5 s&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<after 5 s>")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));

  auto json = nlohmann::json::parse(ChecksJsonText(Checklist{rows, {}}, kNow));
  EXPECT_EQ(json["verdict"], "NO-GO");
  EXPECT_EQ(json["counts"]["stale"], 1);
  EXPECT_EQ(json["groups"][1]["checks"][1]["check"], "min_streaming_standbys");
  EXPECT_EQ(json["groups"][1]["checks"][1]["age_seconds"], 3.0);
}

TEST(StatusPageTest, HostileNamesAreEscaped) {
  std::vector<ProbeSnapshot> probes = {
      Snapshot("pg_replication", "<script>alert(1)</script>",
               Result(kNow, true, {ExpectText("pool_mode", "a\"b", "<b>", "'x'")}))};
  auto html = StatusPage(Checklist{StatusChecks(probes, {}, kNow), {}}, kNow);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("a&quot;b"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;"));
}

TEST(StatusPageTest, AllPassingIsGoAndDrillsLinkTheirReport) {
  auto drill = std::make_shared<DrillResult>();
  drill->expectations.push_back(
      ExpectNumber("max_downtime_seconds", "shared-postgres", 8, "<=", 30));
  std::vector<DrillStatus> drills = {
      {"failover", "shared-postgres", drill, kNow - 3600s, 42, "reports/failover/x.md"},
      {"restore", "shared-postgres", nullptr, {}, 0, ""}};
  std::vector<ProbeSnapshot> probes = {
      Snapshot("pg_instance", "shared-postgres", Result(kNow - 1s, true))};
  auto rows = StatusChecks(probes, {drills[0]}, kNow);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].state, CheckState::kPass);  // drills are never stale
  Checklist checklist{rows, {}};
  for (const auto& info : AllGroups()) {
    if (info.group != CheckGroup::kCluster && info.group != CheckGroup::kOther) {
      checklist.skipped.push_back({info.group, "not in this test"});
    }
  }
  auto html = StatusPage(checklist, kNow);
  EXPECT_THAT(html, HasSubstr("<header class=\"go\" id=\"summary\"><h1>GO</h1>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"reports/failover/x.md\">max_downtime_seconds</a>"));
  // Values for people, the raw value on hover.
  EXPECT_THAT(html, HasSubstr("<td data-label=\"observed\" title=\"8 seconds\">8.0 s</td>"));
  EXPECT_THAT(html, HasSubstr("<td data-label=\"expected\" title=\"30 seconds\">&lt;= 30 s</td>"));
  EXPECT_THAT(html, HasSubstr("<section id=\"group-tenants\" class=\"skipped\">"));
  // Without the skips, the groups nothing verified keep it from GO.
  EXPECT_THAT(StatusPage(Checklist{rows, {}}, kNow), HasSubstr("<h1>NO-GO</h1>"));
  auto with_pending = StatusChecks(probes, drills, kNow);
  EXPECT_EQ(with_pending.back().state, CheckState::kPending);
  EXPECT_EQ(with_pending.back().group, CheckGroup::kBackups);
}

}  // namespace
}  // namespace dbcanary
