// The checklist model of `dbcanary validate` and the status page: grouping, GO/NO-GO
// and the Markdown, JSON, JUnit and text writers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "drills/drill.h"
#include "exporter/validate/checklist.h"
#include "exporter/validate/groups.h"
#include "exporter/validate/writers.h"
#include "probes/probe.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const auto kAt = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));

ProbeResult Passing(std::vector<ExpectationResult> expectations = {}) {
  ProbeResult result;
  result.success = true;
  result.expectations = std::move(expectations);
  result.finished_at = kAt;
  result.duration_seconds = 0.012;
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(CheckGroupsTest, EveryBuiltinProbeKindHasAGroup) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  for (const auto& kind : registry.Kinds()) {
    EXPECT_NE(GroupOfKind(CheckSource::kProbe, kind), CheckGroup::kOther) << kind;
  }
}

TEST(CheckGroupsTest, TableMapsPlannedKindsAndDrills) {
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "k8s_cnpg_operator"), CheckGroup::kOperator);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "k8s_dragonfly"), CheckGroup::kDragonfly);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "monitoring_pipeline"), CheckGroup::kMonitoring);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "pg_replication"), CheckGroup::kCluster);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "pg_tenants"), CheckGroup::kTenants);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "pooler_admin"), CheckGroup::kPoolers);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "pg_archiver"), CheckGroup::kBackups);
  EXPECT_EQ(GroupOfKind(CheckSource::kDrill, "pg_benchmark"), CheckGroup::kPerformance);
  EXPECT_EQ(GroupOfKind(CheckSource::kDrill, "dragonfly_benchmark"), CheckGroup::kPerformance);
  EXPECT_EQ(GroupOfKind(CheckSource::kDrill, "failover"), CheckGroup::kCluster);
  EXPECT_EQ(GroupOfKind(CheckSource::kDrill, "restore"), CheckGroup::kBackups);
  EXPECT_EQ(GroupOfKind(CheckSource::kDrill, "dragonfly_persistence"), CheckGroup::kDragonfly);
  // A drill kind is not a probe kind.
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "failover"), CheckGroup::kOther);
  EXPECT_EQ(GroupOfKind(CheckSource::kProbe, "no_such_kind"), CheckGroup::kOther);
}

TEST(CheckGroupsTest, TableHasNoDuplicateKindAndGroupsAreInAcceptanceOrder) {
  std::set<std::pair<CheckSource, std::string_view>> seen;
  for (const auto& row : KindGroups()) {
    EXPECT_TRUE(seen.insert({row.source, row.kind}).second) << row.kind;
  }
  std::vector<std::string_view> slugs;
  for (const auto& info : AllGroups()) slugs.push_back(info.slug);
  EXPECT_THAT(slugs, ::testing::ElementsAre("operator", "cluster", "tenants", "poolers", "backups",
                                            "dragonfly", "performance", "monitoring", "other"));
}

TEST(ChecklistTest, ProbeRunBecomesRunRowPlusOneRowPerExpectation) {
  std::vector<CheckRow> rows;
  AddProbeRun(rows, "pg_replication", "shared-postgres",
              Passing({ExpectNumber("min_streaming_standbys", "shared-postgres", 2, ">=", 2),
                       ExpectNumber("max_replay_lag_bytes", "shared-postgres-2", 10, "<=", 5)}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0].is_run());
  EXPECT_EQ(rows[0].DisplayName(), "pg_replication run");
  EXPECT_EQ(rows[0].state, CheckState::kPass);
  EXPECT_EQ(rows[0].group, CheckGroup::kCluster);
  EXPECT_EQ(rows[1].check, "min_streaming_standbys");
  EXPECT_EQ(rows[1].state, CheckState::kPass);
  EXPECT_EQ(rows[2].target, "shared-postgres-2");
  EXPECT_EQ(rows[2].run_target, "shared-postgres");
  EXPECT_EQ(rows[2].state, CheckState::kFail);
  EXPECT_EQ(rows[2].observed, "10 B");
  EXPECT_EQ(rows[2].expected, "<= 5 B");
  EXPECT_EQ(rows[2].last_run, kAt);
}

TEST(ChecklistTest, FailedRunNamesItsReasonAndRedactedMessage) {
  std::vector<CheckRow> rows;
  ProbeResult failed;
  failed.Fail(ErrorCode::kConnect, "shared-postgres-1: connection refused");
  failed.finished_at = kAt;
  AddProbeRun(rows, "pg_instance", "shared-postgres", failed);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, CheckState::kFail);
  EXPECT_EQ(rows[0].reason, "connect");
  EXPECT_EQ(rows[0].observed, "failed: connect");
  EXPECT_EQ(rows[0].message, "shared-postgres-1: connection refused");
  // A result marked failed without an error is still a failure.
  ProbeResult bare;
  AddProbeRun(rows, "pg_instance", "x", bare);
  EXPECT_EQ(rows.back().reason, "internal");
}

TEST(ChecklistTest, DrillResultMapsLikeAProbeResult) {
  DrillResult drill;
  drill.expectations.push_back(
      ExpectNumber("max_downtime_seconds", "shared-postgres", 12, "<=", 30));
  std::vector<CheckRow> rows;
  AddDrillRun(rows, "failover", "shared-postgres", drill, kAt, 40);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].source, CheckSource::kDrill);
  EXPECT_EQ(rows[0].group, CheckGroup::kCluster);
  EXPECT_EQ(rows[1].state, CheckState::kPass);
  drill.Fail(ErrorCode::kTimeout, "no new primary within 60 s");
  AddDrillRun(rows, "failover", "shared-postgres", drill, kAt, 60);
  EXPECT_EQ(rows[2].state, CheckState::kFail);
  EXPECT_EQ(rows[2].reason, "timeout");
}

// One passing check in every group but `leave_out`, so tests can vary one group at a time.
Checklist EveryGroupPassing(CheckGroup leave_out = CheckGroup::kOther) {
  Checklist checklist;
  for (const auto& row : KindGroups()) {
    if (row.group == leave_out) continue;
    bool seen = false;
    for (const auto& existing : checklist.rows) seen = seen || existing.group == row.group;
    if (seen) continue;
    // Performance has drills only: a drill that ran and passed verifies it.
    if (row.source == CheckSource::kDrill) {
      AddDrillRun(checklist.rows, row.kind, row.kind, DrillResult{}, kAt, 1);
    } else {
      AddProbeRun(checklist.rows, row.kind, "t", Passing());
    }
  }
  return checklist;
}

TEST(VerdictTest, GoOnlyWhenEveryGroupPassed) {
  Checklist checklist;
  EXPECT_FALSE(Assess(checklist).go);  // nothing configured is not a GO
  EXPECT_THAT(VerdictLine(checklist), HasSubstr("NO-GO (no checks configured; not verified: "
                                                "operator (nothing configured)"));
  checklist = EveryGroupPassing();
  ASSERT_EQ(Assess(checklist).groups.size(), 8u);  // kOther only when used
  EXPECT_TRUE(Assess(checklist).go);
  EXPECT_THAT(VerdictLine(checklist), HasSubstr("GO (8 checks passed)"));

  auto unmet = checklist;
  AddProbeRun(unmet.rows, "pg_replication", "shared-postgres",
              Passing({ExpectNumber("min_streaming_standbys", "shared-postgres", 1, ">=", 2)}));
  ChecklistVerdict verdict = Assess(unmet);
  EXPECT_FALSE(verdict.go);
  EXPECT_EQ(verdict.counts.fail, 1u);
  EXPECT_EQ(verdict.counts.pass, 9u);
  EXPECT_EQ(verdict.groups[1].state, GroupState::kFail);
  EXPECT_THAT(VerdictLine(unmet), HasSubstr("NO-GO"));
  EXPECT_THAT(VerdictLine(unmet), HasSubstr("min_streaming_standbys on shared-postgres"));

  auto pending = checklist;
  AddPending(pending.rows, CheckSource::kProbe, "pg_instance", "shared-postgres");
  EXPECT_FALSE(Assess(pending).go);
  EXPECT_EQ(Assess(pending).counts.pending, 1u);
  EXPECT_EQ(Assess(pending).groups[1].state, GroupState::kNotVerified);
  EXPECT_EQ(Assess(pending).groups[1].reason, "1 of 2 checks without a result yet");
  // A configured drill that never ran (drills are opt-in) is listed but is no reason for NO-GO
  // in a group whose probes passed.
  auto never_drilled = checklist;
  AddPending(never_drilled.rows, CheckSource::kDrill, "failover", "failover");
  EXPECT_EQ(never_drilled.rows.back().observed, "never run");
  EXPECT_TRUE(Assess(never_drilled).go);
  EXPECT_EQ(Assess(never_drilled).counts.total, Assess(checklist).counts.total);
  auto stale = checklist;
  stale.rows[0].state = CheckState::kStale;
  EXPECT_FALSE(Assess(stale).go);
}

TEST(VerdictTest, AGroupWithNothingVerifiedIsNamedAndBlocksGo) {
  // Only drills in Performance, and they never ran: nothing was verified there.
  Checklist checklist = EveryGroupPassing(CheckGroup::kPerformance);
  AddPending(checklist.rows, CheckSource::kDrill, "pg_benchmark", "pg_benchmark");
  AddPending(checklist.rows, CheckSource::kDrill, "dragonfly_benchmark", "dragonfly_benchmark");
  ChecklistVerdict verdict = Assess(checklist);
  EXPECT_FALSE(verdict.go);
  EXPECT_EQ(verdict.groups[6].state, GroupState::kNotVerified);
  EXPECT_EQ(verdict.groups[6].reason, "only drills that never ran");
  EXPECT_THAT(VerdictLine(checklist),
              HasSubstr("NO-GO (7 checks passed; not verified: performance (only drills that "
                        "never ran))"));
  // A group with nothing configured at all.
  Checklist no_monitoring = EveryGroupPassing(CheckGroup::kMonitoring);
  EXPECT_FALSE(Assess(no_monitoring).go);
  EXPECT_THAT(VerdictLine(no_monitoring),
              HasSubstr("not verified: monitoring (nothing configured)"));
}

TEST(VerdictTest, SkippedGroupsLeaveTheVerdictAndAreNamedWithTheirReason) {
  Checklist checklist = EveryGroupPassing(CheckGroup::kOperator);
  checklist.skipped.push_back({CheckGroup::kOperator, "no Kubernetes API here"});
  ChecklistVerdict verdict = Assess(checklist);
  EXPECT_TRUE(verdict.go);
  EXPECT_EQ(verdict.groups[0].state, GroupState::kSkipped);
  EXPECT_EQ(VerdictLine(checklist),
            "GO (7 checks passed; skipped: operator (no Kubernetes API here))");
  // A failure in a skipped group is shown but does not count.
  AddProbeRun(checklist.rows, "k8s_cnpg_operator", "k8s", ProbeResult{});
  EXPECT_TRUE(Assess(checklist).go);
  EXPECT_EQ(Assess(checklist).counts.total, 7u);
  // Skipping every failing group still needs one group that passed.
  Checklist nothing;
  nothing.skipped.push_back({CheckGroup::kOperator, "x"});
  EXPECT_FALSE(Assess(nothing).go);
}

TEST(ChecklistTest, ExpectationValuesAreShownForPeopleWithTheRawValueKept) {
  std::vector<CheckRow> rows;
  AddProbeRun(
      rows, "pg_tls", "shared-postgres",
      Passing({ExpectNumber("min_cert_validity_seconds", "shared-postgres-1", 31535995.66,
                            ">=", 604800),
               ExpectNumber("max_heartbeat_lag_seconds", "shared-postgres-2", 0.007990638, "<=", 5),
               ExpectNumber("max_replay_lag_bytes", "shared-postgres-2", 16777216, "<=", 1048576),
               ExpectNumber("backup_max_age", "shared-postgres", 90000, "<=", 86400),
               ExpectNumber("min_sync_standbys", "shared-postgres", 1, ">=", 1)}));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[1].observed, "365 d");
  EXPECT_EQ(rows[1].expected, ">= 7.0 d");
  EXPECT_DOUBLE_EQ(rows[1].observed_value, 31535995.66);
  EXPECT_EQ(rows[1].unit, Unit::kSeconds);
  EXPECT_EQ(rows[2].observed, "8.0 ms");
  EXPECT_EQ(rows[2].expected, "<= 5.0 s");
  EXPECT_EQ(rows[3].observed, "16.0 MiB");
  EXPECT_EQ(rows[3].expected, "<= 1.0 MiB");
  EXPECT_EQ(rows[4].observed, "25 h");
  EXPECT_EQ(rows[4].expected, "<= 24 h");
  EXPECT_EQ(rows[5].observed, "1");  // a count stays a count
  EXPECT_EQ(rows[5].unit, Unit::kNone);
  auto json = ChecklistJson(Checklist{rows, {}}, kAt);
  const auto& check = json["groups"][1]["checks"][1];
  EXPECT_EQ(check["observed"], "365 d");
  EXPECT_DOUBLE_EQ(check["observed_value"].get<double>(), 31535995.66);
  EXPECT_EQ(check["expected_value"], 604800);
  EXPECT_EQ(check["unit"], "seconds");
  // A probe's own words are kept as they are.
  ExpectationResult worded = ExpectNumber("backup_max_age", "x", 5, "<=", 10);
  worded.observed_text = "no backup yet";
  AddProbeRun(rows, "backup_directory", "x", Passing({worded}));
  EXPECT_EQ(rows.back().observed, "no backup yet");
}

Checklist SampleRows() {
  Checklist checklist;
  std::vector<CheckRow>& rows = checklist.rows;
  AddProbeRun(rows, "pg_replication", "shared-postgres",
              Passing({ExpectNumber("min_streaming_standbys", "shared-postgres", 1, ">=", 2)}));
  ProbeResult failed;
  failed.Fail(ErrorCode::kAuth, "pooler <gitlab> & \"admin\" refused |x|\x01");
  failed.finished_at = kAt;
  AddProbeRun(rows, "pooler_admin", "gitlab-pooler-rw", failed);
  AddProbeRun(rows, "dragonfly_basics", "dragonfly", Passing());
  checklist.skipped.push_back({CheckGroup::kOperator, "no Kubernetes API here"});
  return checklist;
}

TEST(WritersTest, TextListsEveryGroupAndEndsWithVerdict) {
  auto text = RenderText(SampleRows());
  EXPECT_THAT(text, HasSubstr("== Operator == SKIPPED: no Kubernetes API here\n"));
  EXPECT_THAT(text, HasSubstr("== Monitoring == NOT VERIFIED: nothing configured\n"));
  EXPECT_THAT(text, HasSubstr("== Dragonfly == PASS\n"));
  EXPECT_THAT(text, HasSubstr("== Poolers == FAIL\n"));
  EXPECT_THAT(text, Not(HasSubstr("== Other ==")));
  EXPECT_THAT(text, HasSubstr("FAIL     min_streaming_standbys  shared-postgres  1         >= 2"));
  EXPECT_THAT(text, HasSubstr("pooler_admin on gitlab-pooler-rw failed (auth): pooler <gitlab>"));
  EXPECT_THAT(text, Not(HasSubstr("\033[")));
  EXPECT_THAT(text, HasSubstr("\nNO-GO (2 of 4 checks not passed: min_streaming_standbys on "
                              "shared-postgres, pooler_admin run on gitlab-pooler-rw; not "
                              "verified: tenants (nothing configured), backups (nothing "
                              "configured), performance (nothing configured), monitoring "
                              "(nothing configured); skipped: operator (no Kubernetes API "
                              "here))\n"));
  EXPECT_THAT(RenderText(SampleRows(), TextOptions{true}), HasSubstr("\033[31mFAIL"));
}

TEST(WritersTest, MarkdownEscapesCellsAndMarksEmptyGroups) {
  auto markdown = RenderMarkdown(SampleRows(), kAt);
  EXPECT_THAT(markdown, HasSubstr("# dbcanary validate: NO-GO\n"));
  EXPECT_THAT(markdown, HasSubstr("## Operator: SKIPPED: no Kubernetes API here\n"));
  EXPECT_THAT(markdown, HasSubstr("## Tenants: NOT VERIFIED: nothing configured\n"));
  EXPECT_THAT(markdown, HasSubstr("| [Poolers](poolers.md) | 1 | 0 | 1 | FAIL |"));
  EXPECT_THAT(markdown, HasSubstr("| [Backups](backups.md) | 0 | 0 | 0 | NOT VERIFIED: nothing "
                                  "configured |"));
  EXPECT_THAT(markdown, HasSubstr("| FAIL | min_streaming_standbys | probe pg_replication | "
                                  "shared-postgres | 1 | >= 2 |"));
  EXPECT_THAT(markdown, HasSubstr("\\|x\\|"));
  auto group = RenderGroupMarkdown(SampleRows(), CheckGroup::kDragonfly, kAt);
  EXPECT_THAT(group, HasSubstr("# Dragonfly: PASS\n"));
  EXPECT_THAT(group, Not(HasSubstr("pooler_admin")));
}

TEST(WritersTest, JsonHasEveryGroupAndCheck) {
  auto json = ChecklistJson(SampleRows(), kAt + std::chrono::seconds(5));
  EXPECT_EQ(json["verdict"], "NO-GO");
  EXPECT_EQ(json["counts"]["total"], 4);
  EXPECT_EQ(json["counts"]["fail"], 2);
  ASSERT_EQ(json["groups"].size(), 8u);
  EXPECT_EQ(json["groups"][0]["id"], "operator");
  EXPECT_EQ(json["groups"][0]["configured"], false);
  EXPECT_EQ(json["groups"][0]["verdict"], "SKIPPED");
  EXPECT_EQ(json["groups"][0]["reason"], "no Kubernetes API here");
  EXPECT_EQ(json["groups"][2]["verdict"], "NOT VERIFIED");
  EXPECT_EQ(json["groups"][2]["reason"], "nothing configured");
  EXPECT_EQ(json["skipped"][0]["id"], "operator");
  EXPECT_EQ(json["not_verified"].size(), 4u);
  const auto& cluster = json["groups"][1];
  EXPECT_EQ(cluster["verdict"], "FAIL");
  ASSERT_EQ(cluster["checks"].size(), 2u);
  EXPECT_EQ(cluster["checks"][1]["check"], "min_streaming_standbys");
  EXPECT_EQ(cluster["checks"][1]["state"], "fail");
  EXPECT_EQ(cluster["checks"][1]["expected"], ">= 2");
  EXPECT_EQ(cluster["checks"][1]["last_run"], "2026-11-18T11:06:40Z");
  EXPECT_DOUBLE_EQ(cluster["checks"][1]["age_seconds"].get<double>(), 5.0);
  EXPECT_EQ(json["groups"][3]["checks"][0]["reason"], "auth");
  // Round trip through text.
  auto parsed = nlohmann::json::parse(json.dump());
  EXPECT_EQ(parsed, json);
}

TEST(WritersTest, JunitHasOneSuitePerGroupAndEscapesText) {
  auto xml = RenderJunit(SampleRows(), kAt);
  EXPECT_THAT(xml, HasSubstr("<testsuites name=\"dbcanary validate\" tests=\"4\" failures=\"2\">"));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"Operator\" id=\"operator\" tests=\"0\" "
                             "failures=\"0\" errors=\"0\" skipped=\"0\""));
  // An unverified group is one skipped case naming why.
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"Tenants\" id=\"tenants\" tests=\"1\" "
                             "failures=\"0\" errors=\"0\" skipped=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"NOT VERIFIED: nothing configured\"/>"));
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"Cluster and replication\" id=\"cluster\" "
                             "tests=\"2\" failures=\"1\""));
  EXPECT_THAT(xml, HasSubstr("name=\"min_streaming_standbys on shared-postgres\""));
  EXPECT_THAT(xml,
              HasSubstr("<failure message=\"fail: observed 1, target &gt;= 2\" type=\"fail\">"));
  EXPECT_THAT(xml, HasSubstr("pooler &lt;gitlab&gt; &amp; &quot;admin&quot; refused |x|<"));
  EXPECT_THAT(xml, Not(HasSubstr("\x01")));
  size_t suites = 0;
  for (size_t at = xml.find("<testsuite "); at != std::string::npos;
       at = xml.find("<testsuite ", at + 1)) {
    ++suites;
  }
  EXPECT_EQ(suites, 8u);
}

TEST(WritersTest, EvidenceDirectoryHasSummaryAndPerGroupFiles) {
  testing::TempDir dir;
  std::string out = dir.path() + "/evidence";
  ASSERT_TRUE(WriteEvidence(out, SampleRows(), kAt));
  for (std::string name : {"summary", "operator", "cluster", "tenants", "poolers", "backups",
                           "dragonfly", "performance", "monitoring"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + name + ".md")) << name;
    EXPECT_TRUE(std::filesystem::exists(out + "/" + name + ".json")) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(out + "/other.md"));
  auto summary = nlohmann::json::parse(ReadFile(out + "/summary.json"));
  EXPECT_EQ(summary["verdict"], "NO-GO");
  auto poolers = nlohmann::json::parse(ReadFile(out + "/poolers.json"));
  EXPECT_EQ(poolers["checks"][0]["kind"], "pooler_admin");
  EXPECT_THAT(ReadFile(out + "/summary.md"), HasSubstr("## Dragonfly"));
  EXPECT_FALSE(WriteEvidence("/proc/no/such/dir", SampleRows(), kAt));
}

TEST(WritersTest, JunitMarksTheChecksOfASkippedGroupSkipped) {
  Checklist checklist = SampleRows();
  AddProbeRun(checklist.rows, "k8s_cnpg_operator", "k8s", ProbeResult{});
  auto xml = RenderJunit(checklist, kAt);
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"Operator\" id=\"operator\" tests=\"1\" "
                             "failures=\"0\" errors=\"0\" skipped=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"group skipped: no Kubernetes API here\"/>"));
}

TEST(WritersTest, TimeHelpers) {
  EXPECT_EQ(FormatUtcTime(kAt), "2026-11-18T11:06:40Z");
  EXPECT_EQ(FormatAgo(std::chrono::seconds(7)), "7s ago");
  EXPECT_EQ(FormatAgo(std::chrono::seconds(119)), "119s ago");
  EXPECT_EQ(FormatAgo(std::chrono::minutes(5)), "5m ago");
  EXPECT_EQ(FormatAgo(std::chrono::hours(5)), "5h ago");
  EXPECT_EQ(FormatAgo(std::chrono::hours(72)), "3d ago");
  EXPECT_EQ(FormatAgo(-std::chrono::seconds(3)), "0s ago");
}

}  // namespace
}  // namespace dbcanary

namespace dbcanary {
namespace {

// Pins: the HTML evidence page missing a check, a plotted figure, or the link to a drill's
// page; any script or external asset in it.
TEST(ChecklistHtmlTest, SelfContainedPageWithPlotsAndDrillLinks) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));
  Checklist checklist;
  ProbeResult heartbeat;
  heartbeat.success = true;
  heartbeat.finished_at = at;
  heartbeat.expectations = {ExpectNumber("max_heartbeat_lag_seconds", "pg-2", 0.25, "<=", 1),
                            ExpectNumber("max_heartbeat_lag_seconds", "pg-3", 0.5, "<=", 1)};
  AddProbeRun(checklist.rows, "pg_heartbeat", "pg", heartbeat);
  DrillResult bench;
  bench.expectations = {ExpectNumber("pg_benchmark_min_tps", "pg", 1200, ">=", 1000)};
  AddDrillRun(checklist.rows, "pg_benchmark", "pg_benchmark", bench, at, 30);
  checklist.rows.back().link = "/reports/pg_benchmark/x-pass.html";
  testing::TempDir dir;
  ASSERT_TRUE(WriteEvidence(dir.path(), checklist, at));
  const std::string html = ReadFile(dir.path() + "/summary.html");
  EXPECT_THAT(html, HasSubstr("Heartbeat lag per standby"));
  size_t bars = 0;
  for (size_t i = html.find("class=\"bar\""); i != std::string::npos;
       i = html.find("class=\"bar\"", i + 1)) {
    ++bars;
  }
  EXPECT_EQ(bars, 2u);  // one per standby
  EXPECT_THAT(html, HasSubstr("pg-3 (pg_heartbeat)"));
  EXPECT_THAT(html, HasSubstr("href=\"/reports/pg_benchmark/x-pass.html\""));
  EXPECT_THAT(html, HasSubstr("pg_benchmark_min_tps"));
  EXPECT_THAT(html, HasSubstr("Performance"));
  for (const char* external : {"<script", "<link", "src=", "@import"}) {
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  }
}

}  // namespace
}  // namespace dbcanary
