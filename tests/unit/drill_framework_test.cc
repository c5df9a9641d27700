#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "config/secret.h"
#include "core/families.h"
#include "drills/command.h"
#include "drills/runtime/cron.h"
#include "drills/runtime/drill_metrics.h"
#include "drills/runtime/drill_scheduler.h"
#include "drills/runtime/report.h"
#include "drills/runtime/runner.h"
#include "drills/runtime/state_store.h"
#include "temp_dir.h"

namespace dbcanary {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

SystemTime Utc(const std::string& text) {
  auto parsed = ParseUtc(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(SystemTime{});
}

std::string Next(const std::string& cron, const std::string& after) {
  auto schedule = CronSchedule::Parse(cron);
  EXPECT_TRUE(schedule) << cron << ": " << (schedule ? "" : schedule.error().message);
  if (!schedule) return "";
  return FormatUtc(schedule->NextAfter(Utc(after)));
}

std::string ParseError(const std::string& cron) {
  auto schedule = CronSchedule::Parse(cron);
  return schedule ? std::string("parsed") : schedule.error().message;
}

TEST(CronTest, NextAfterTable) {
  struct Case {
    const char* cron;
    const char* after;
    const char* next;
  } cases[] = {
      {"* * * * *", "2026-11-26T15:32:50.000Z", "2026-11-26T15:33:00.000Z"},
      {"* * * * *", "2026-11-26T15:32:00.000Z", "2026-11-26T15:33:00.000Z"},  // strictly after
      {"0 3 * * *", "2026-11-26T15:32:00.000Z", "2026-11-27T03:00:00.000Z"},
      {"*/15 * * * *", "2026-11-26T15:32:00.000Z", "2026-11-26T15:45:00.000Z"},
      {"10-20/5 * * * *", "2026-11-26T15:16:00.000Z", "2026-11-26T15:20:00.000Z"},
      {"10-20/5 * * * *", "2026-11-26T15:20:00.000Z", "2026-11-26T16:10:00.000Z"},
      {"5,35 1,13 * * *", "2026-11-26T13:35:00.000Z", "2026-11-27T01:05:00.000Z"},
      {"0 0 1 * *", "2026-12-15T00:00:00.000Z", "2027-01-01T00:00:00.000Z"},   // year rollover
      {"0 0 29 2 *", "2026-03-01T00:00:00.000Z", "2028-02-29T00:00:00.000Z"},  // leap day
      {"0 0 31 * *", "2026-04-01T00:00:00.000Z", "2026-05-31T00:00:00.000Z"},  // skips 30-day
      {"30 2 * * 0", "2026-11-26T00:00:00.000Z", "2026-11-29T02:30:00.000Z"},  // Sunday
      {"30 2 * * 7", "2026-11-26T00:00:00.000Z", "2026-11-29T02:30:00.000Z"},  // 7 = Sunday
      {"0 12 * * mon-fri", "2026-11-27T13:00:00.000Z", "2026-11-30T12:00:00.000Z"},  // Fri->Mon
      {"0 0 * jul Sat", "2026-01-01T00:00:00.000Z", "2026-07-04T00:00:00.000Z"},
      {"0 0 * FEB-mar/1 *", "2026-03-31T00:00:00.000Z", "2027-02-01T00:00:00.000Z"},
      // Vixie: both restricted -> either matches (the 13th, or any Friday).
      {"0 0 13 * 5", "2026-11-26T00:00:00.000Z", "2026-11-27T00:00:00.000Z"},
      {"0 0 13 * 5", "2026-12-11T00:00:00.000Z", "2026-12-13T00:00:00.000Z"},
      // DOW star-prefixed (*/2) counts as unrestricted: both must match.
      {"0 0 13 * */2", "2026-11-26T00:00:00.000Z", "2026-12-13T00:00:00.000Z"},  // a Sunday
      {"0 0 13 * 1", "2026-12-11T00:00:00.000Z", "2026-12-13T00:00:00.000Z"},
      {"0 22/1 * * *", "2026-11-26T23:30:00.000Z", "2026-11-27T22:00:00.000Z"},  // a/n
      {"59 23 31 12 *", "2026-12-31T23:59:00.000Z", "2027-12-31T23:59:00.000Z"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Next(c.cron, c.after), c.next) << c.cron << " after " << c.after;
  }
}

TEST(CronTest, MatchesUsesTheMinute) {
  auto schedule = CronSchedule::Parse("30 2 * * *");
  ASSERT_TRUE(schedule);
  EXPECT_TRUE(schedule->Matches(Utc("2026-11-26T02:30:59.000Z")));
  EXPECT_FALSE(schedule->Matches(Utc("2026-11-26T02:31:00.000Z")));
}

TEST(CronTest, ParseErrorsNameFieldAndValue) {
  EXPECT_EQ(ParseError("61 * * * *"), "schedule: minute field '61' out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"), "schedule: hour field '24' out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"), "schedule: day-of-month field '0' out of range 1-31");
  EXPECT_EQ(ParseError("* * * 13 *"), "schedule: month field '13' out of range 1-12");
  EXPECT_EQ(ParseError("* * * * 8"), "schedule: day-of-week field '8' out of range 0-7");
  EXPECT_EQ(ParseError("*/0 * * * *"), "schedule: minute field '*/0' step must be at least 1");
  EXPECT_EQ(ParseError("* 5-2 * * *"), "schedule: hour field '5-2' range is reversed");
  EXPECT_EQ(ParseError("* * * foo *"), "schedule: month field 'foo' has an unknown name 'foo'");
  EXPECT_EQ(ParseError("x * * * *"), "schedule: minute field 'x' has an unknown name 'x'");
  EXPECT_EQ(ParseError("1x * * * *"), "schedule: minute field '1x' is not a number");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "schedule: minute field '1,,2' has an empty list element");
  EXPECT_EQ(ParseError("*/a * * * *"),
            "schedule: minute field '*/a' has a step that is not a number");
  EXPECT_THAT(ParseError("* * * *"), HasSubstr("must have 5 fields"));
  EXPECT_THAT(ParseError("* * * * * *"), HasSubstr("not 6"));
  EXPECT_THAT(ParseError("0 0 30 2 *"), HasSubstr("never matches"));
  EXPECT_EQ(ParseError("  0   3 * * *  "), "parsed");
}

TEST(TimeWindowTest, ContainsStartInclusiveEndExclusive) {
  auto window = TimeWindow::Parse("02:00-04:30");
  ASSERT_TRUE(window);
  EXPECT_FALSE(window->Contains(Utc("2026-11-26T01:59:59.000Z")));
  EXPECT_TRUE(window->Contains(Utc("2026-11-26T02:00:00.000Z")));
  EXPECT_TRUE(window->Contains(Utc("2026-11-26T04:29:59.000Z")));
  EXPECT_FALSE(window->Contains(Utc("2026-11-26T04:30:00.000Z")));
}

TEST(TimeWindowTest, WrapsMidnight) {
  auto window = TimeWindow::Parse("22:00-04:00");
  ASSERT_TRUE(window);
  EXPECT_TRUE(window->Contains(Utc("2026-11-26T23:10:00.000Z")));
  EXPECT_TRUE(window->Contains(Utc("2026-11-26T00:00:00.000Z")));
  EXPECT_TRUE(window->Contains(Utc("2026-11-26T03:59:00.000Z")));
  EXPECT_FALSE(window->Contains(Utc("2026-11-26T04:00:00.000Z")));
  EXPECT_FALSE(window->Contains(Utc("2026-11-26T21:59:00.000Z")));
}

TEST(TimeWindowTest, ParseErrors) {
  auto error = [](const char* text) {
    auto window = TimeWindow::Parse(text);
    return window ? std::string("parsed") : window.error().message;
  };
  EXPECT_EQ(error("25:00-04:00"), "window: '25:00-04:00' hour 25 out of range 0-23");
  EXPECT_EQ(error("02:60-04:00"), "window: '02:60-04:00' minute 60 out of range 0-59");
  EXPECT_THAT(error("0200-0400"), HasSubstr("is not HH:MM-HH:MM"));
  EXPECT_THAT(error("02:00"), HasSubstr("is not HH:MM-HH:MM"));
  EXPECT_THAT(error("02:00-02:00"), HasSubstr("starts where it ends"));
}

TEST(TimeWindowTest, NextAllowedRunSkipsFiresOutsideTheWindow) {
  auto schedule = CronSchedule::Parse("0 * * * *");
  auto window = TimeWindow::Parse("22:00-01:00");
  ASSERT_TRUE(schedule && window);
  EXPECT_EQ(FormatUtc(NextAllowedRun(*schedule, *window, Utc("2026-11-26T01:00:00.000Z"))),
            "2026-11-26T22:00:00.000Z");
  EXPECT_EQ(FormatUtc(NextAllowedRun(*schedule, *window, Utc("2026-11-26T23:00:00.000Z"))),
            "2026-11-27T00:00:00.000Z");
  EXPECT_EQ(FormatUtc(NextAllowedRun(*schedule, std::nullopt, Utc("2026-11-26T01:00:00.000Z"))),
            "2026-11-26T02:00:00.000Z");
  // A schedule that never fires inside the window.
  auto never = CronSchedule::Parse("0 3 * * *");
  auto night = TimeWindow::Parse("04:00-05:00");
  ASSERT_TRUE(never && night);
  EXPECT_EQ(NextAllowedRun(*never, *night, Utc("2026-11-26T01:00:00.000Z")), SystemTime::max());
}

// A drill scripted by the test; records the order of calls.
class ScriptedDrill : public Drill {
 public:
  std::vector<std::string> calls;
  Status cleanup_status = Ok{};
  Status preconditions = Ok{};
  bool throw_in_run = false;
  bool hang_until_stopped = false;
  bool fail_expectation = false;
  bool run_error = false;

  const std::vector<MetricDesc>& Describe() const override { return descriptors_; }
  Status CleanUp(const DrillContext& ctx) override {
    calls.push_back("cleanup");
    ctx.progress("cleaning");
    return cleanup_status;
  }
  Status CheckPreconditions(const DrillContext&) override {
    calls.push_back("preconditions");
    return preconditions;
  }
  DrillResult Run(const DrillContext& ctx) override {
    calls.push_back("run");
    if (throw_in_run) throw std::runtime_error("boom");
    DrillResult result;
    if (hang_until_stopped) {
      while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(5ms);
      return result;
    }
    result.AddPhase("work", 0.25, true, "did the work");
    result.Add("dbcanary_test_drill_figure_seconds", {{"drill", "scripted"}}, 1.5);
    result.expectations.push_back(
        ExpectNumber("max_figure_seconds", "shared-postgres", 1.5, "<=", fail_expectation ? 1 : 2));
    result.AddEvidence("pg_stat_replication", "a | b\n1 | 2\n");
    if (run_error) result.Fail(ErrorCode::kQuery, "the work failed");
    return result;
  }

 private:
  std::vector<MetricDesc> descriptors_{{"dbcanary_test_drill_figure_seconds",
                                        "A figure of the scripted drill.", MetricType::kGauge}};
};

spdlog::logger& NullLogger() {
  static auto logger = std::make_shared<spdlog::logger>(
      "drill-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return *logger;
}

DrillRunOptions Options(const std::string& reports_dir = "") {
  DrillRunOptions options;
  options.name = "scripted";
  // Far above what any run here takes: a test that sets a shorter timeout can then tell it was
  // honoured (a run that ignored it would end at this one) with room for a loaded host.
  options.timeout = 30s;
  options.cleanup_budget = 1s;
  options.reports_dir = reports_dir;
  options.log = &NullLogger();
  return options;
}

std::vector<std::string> PhaseNames(const DrillRecord& record) {
  std::vector<std::string> names;
  for (const auto& phase : record.result.phases) names.push_back(phase.name);
  return names;
}

TEST(SleepTest, SleepsUntilTheTimeOrWakesOnStop) {
  auto start = SteadyClock::now();
  EXPECT_TRUE(SleepFor(20ms, {}));
  EXPECT_GE(SteadyClock::now() - start, 20ms);
  std::stop_source source;
  std::jthread stopper([&source] {
    std::this_thread::sleep_for(50ms);
    source.request_stop();
  });
  start = SteadyClock::now();
  EXPECT_FALSE(SleepFor(30s, source.get_token()));
  EXPECT_LT(SteadyClock::now() - start, 10s);
  // Already stopped: no wait at all, on either clock.
  EXPECT_FALSE(SleepUntil(SteadyClock::now() + 30s, source.get_token()));
  EXPECT_FALSE(SleepUntil(std::chrono::system_clock::now() + 30s, source.get_token()));
  EXPECT_LT(SteadyClock::now() - start, 10s);
}

TEST(SleepTest, PauseDrillEndsAtTheDeadline) {
  DrillContext ctx{Deadline::In(30s), {}, NullLogger(), [](std::string_view) {}};
  EXPECT_TRUE(PauseDrill(ctx, 10ms));
  ctx.deadline = Deadline::In(50ms);
  const auto start = SteadyClock::now();
  EXPECT_FALSE(PauseDrill(ctx, 30s));  // cut short at the deadline, which has then passed
  EXPECT_LT(SteadyClock::now() - start, 10s);
  std::stop_source source;
  source.request_stop();
  ctx.deadline = Deadline::In(30s);
  ctx.stop = source.get_token();
  EXPECT_FALSE(PauseDrill(ctx, 0ms));
}

TEST(RunnerTest, PassRunsPreconditionsCleanupRunCleanupInOrder) {
  ScriptedDrill drill;
  std::vector<std::string> progress;
  auto options = Options();
  options.progress = [&](std::string_view line) { progress.emplace_back(line); };
  auto record = RunDrill(drill, options);
  EXPECT_EQ(record->outcome, DrillOutcome::kPass);
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
  EXPECT_THAT(PhaseNames(*record),
              ElementsAre("preconditions", "cleanup_before", "work", "cleanup_after"));
  EXPECT_TRUE(record->last_success_at.has_value());
  EXPECT_THAT(progress, ::testing::Contains("cleaning"));
  EXPECT_THAT(progress.back(), HasSubstr("finished: pass"));
}

TEST(RunnerTest, UnmetExpectationIsFailNotError) {
  ScriptedDrill drill;
  drill.fail_expectation = true;
  auto record = RunDrill(drill, Options());
  EXPECT_EQ(record->outcome, DrillOutcome::kFail);
  EXPECT_FALSE(record->result.error.has_value());
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
}

TEST(RunnerTest, FailedPhaseIsErrorAndStillCleansUp) {
  ScriptedDrill drill;
  drill.run_error = true;
  auto record = RunDrill(drill, Options());
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  EXPECT_EQ(record->result.error->code, ErrorCode::kQuery);
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
}

TEST(RunnerTest, ExceptionInRunIsInternalErrorAndStillCleansUp) {
  ScriptedDrill drill;
  drill.throw_in_run = true;
  auto record = RunDrill(drill, Options());
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  EXPECT_EQ(record->result.error->code, ErrorCode::kInternal);
  EXPECT_THAT(record->result.error->message, HasSubstr("boom"));
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
}

TEST(RunnerTest, TimeoutStopsTheRunAndStillCleansUp) {
  ScriptedDrill drill;
  drill.hang_until_stopped = true;
  auto options = Options();
  options.timeout = 200ms;
  auto started = SteadyClock::now();
  auto record = RunDrill(drill, options);
  // Stopped at its 200 ms timeout (+ 1 s for a loaded host), not at the 30 s default of Options().
  EXPECT_LT(SecondsSince(started), 0.2 + 1.0);
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  EXPECT_EQ(record->result.error->code, ErrorCode::kTimeout);
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
}

TEST(RunnerTest, ShutdownStopsTheRunAndStillCleansUp) {
  ScriptedDrill drill;
  drill.hang_until_stopped = true;
  std::stop_source shutdown;
  auto options = Options();
  options.timeout = 30s;
  options.stop = shutdown.get_token();
  std::jthread stopper([&] {
    std::this_thread::sleep_for(150ms);
    shutdown.request_stop();
  });
  auto record = RunDrill(drill, options);
  // Stopped, not an error: a shutdown says nothing about the target.
  EXPECT_EQ(record->outcome, DrillOutcome::kStopped);
  ASSERT_TRUE(record->result.error);
  EXPECT_EQ(record->result.error->code, ErrorCode::kStopped);
  EXPECT_THAT(record->result.error->message, HasSubstr("stopped"));
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup", "run", "cleanup"));
}

TEST(RunnerTest, PreconditionFailureRefusesWithTheReasonAndSkipsRun) {
  ScriptedDrill drill;
  drill.preconditions =
      MakeError(ErrorCode::kUnexpected, "standby shared-postgres-3 is not streaming");
  auto record = RunDrill(drill, Options());
  EXPECT_EQ(record->outcome, DrillOutcome::kRefused);
  EXPECT_THAT(record->result.error->message, HasSubstr("shared-postgres-3 is not streaming"));
  // A refused run touches nothing: no cleanup either.
  EXPECT_THAT(drill.calls, ElementsAre("preconditions"));
}

TEST(RunnerTest, FailedCleanupBeforeIsErrorWithoutRun) {
  ScriptedDrill drill;
  drill.cleanup_status = MakeError(ErrorCode::kConnect, "cannot reach scratch");
  auto record = RunDrill(drill, Options());
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  EXPECT_THAT(drill.calls, ElementsAre("preconditions", "cleanup"));
}

// A drill that runs a command printing a secret (a password in a connection string) and puts
// the output in its evidence, its phase detail and its error.
class LeakyCommandDrill : public ScriptedDrill {
 public:
  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    auto outcome = RunDrillCommand(
        {"sh", "-c", "echo \"connecting to postgres://u:$0@db/x\"; exit 1", "s3cr3t-drill-pw"}, {},
        ctx.deadline, ctx.stop);
    std::string output = outcome ? outcome->output : outcome.error().message;
    result.AddPhase("restore", 0.1, false, output);
    result.AddEvidence("restore command output", output);
    result.Fail(ErrorCode::kUnexpected, "restore command failed: " + output);
    return result;
  }
};

TEST(RunnerTest, SecretPrintedByADrillCommandNeverReachesAReport) {
  RegisterSecretValue("s3cr3t-drill-pw");
  testing::TempDir dir;
  DrillStateStore store;
  store.SetDrills({DrillInfo{"scripted", true, "0 3 * * *", "", 2, {}}}, dir.path());
  LeakyCommandDrill drill;
  auto options = Options(dir.path());
  options.store = &store;
  std::vector<std::string> progress;
  options.progress = [&](std::string_view line) { progress.emplace_back(line); };
  auto record = RunDrill(drill, options);
  ASSERT_EQ(record->outcome, DrillOutcome::kError);
  for (const std::string& path : {record->report_json, record->report_markdown}) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_THAT(text, HasSubstr("connecting to postgres://u:<redacted>@db/x")) << path;
    EXPECT_THAT(text, Not(HasSubstr("s3cr3t-drill-pw"))) << path;
  }
  EXPECT_THAT(RecordToJson(*record), Not(HasSubstr("s3cr3t-drill-pw")));
  EXPECT_THAT(RecordToJson(*store.Find("scripted")->last), Not(HasSubstr("s3cr3t-drill-pw")));
  for (const auto& line : progress) EXPECT_THAT(line, Not(HasSubstr("s3cr3t-drill-pw")));
}

// Counts CleanUp calls from the scheduler's thread.
class CountingDrill : public ScriptedDrill {
 public:
  std::atomic<int> cleanups{0};
  std::atomic<int> runs{0};
  Status CleanUp(const DrillContext&) override {
    cleanups++;
    return Ok{};
  }
  DrillResult Run(const DrillContext&) override {
    runs++;
    return {};
  }
};

// A killed run's leftovers go when the daemon starts: each enabled drill cleans up once before
// the schedule, without running; a disabled drill is not touched.
TEST(DrillSchedulerTest, EnabledDrillsCleanUpLeftoversAtStartWithoutRunning) {
  testing::TempDir dir;
  auto config = std::make_shared<Config>();
  config->drills.emplace();
  config->drills->reports_dir = dir.path();
  auto enabled = std::make_unique<CountingDrill>();
  auto disabled = std::make_unique<CountingDrill>();
  CountingDrill* enabled_drill = enabled.get();
  CountingDrill* disabled_drill = disabled.get();
  std::vector<ConfiguredDrill> drills(2);
  drills[0].settings.kind = "enabled_one";
  drills[0].settings.enabled = true;
  drills[0].drill = std::move(enabled);
  drills[1].settings.kind = "disabled_one";
  drills[1].drill = std::move(disabled);
  DrillStateStore store;
  DrillSchedulerOptions options;
  options.make_logger = [](std::string_view) {
    return std::shared_ptr<spdlog::logger>(std::shared_ptr<void>(), &NullLogger());
  };
  DrillScheduler scheduler(config, std::move(drills), store, options);
  scheduler.Start();
  const auto until = SteadyClock::now() + 10s;
  while (enabled_drill->cleanups.load() == 0 && SteadyClock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  scheduler.Stop();
  EXPECT_EQ(enabled_drill->cleanups.load(), 1);
  EXPECT_EQ(enabled_drill->runs.load(), 0);
  EXPECT_EQ(disabled_drill->cleanups.load(), 0);
}

// drills.command_env: the named variables of the daemon (those set) reach the drill's context,
// which passes them to its commands beside the minimal environment.
class EnvCapturingDrill : public ScriptedDrill {
 public:
  std::vector<std::pair<std::string, std::string>> seen;
  DrillResult Run(const DrillContext& ctx) override {
    seen = ctx.command_env;
    return {};
  }
};

TEST(RunnerTest, CommandEnvNamedByTheConfigReachesTheDrill) {
  ASSERT_EQ(::setenv("DBCANARY_TEST_PASSED", "passed-value", 1), 0);
  ::unsetenv("DBCANARY_TEST_UNSET");
  EnvCapturingDrill drill;
  auto options = Options();
  options.command_env = {"DBCANARY_TEST_PASSED", "DBCANARY_TEST_UNSET"};
  auto record = RunDrill(drill, options);
  ::unsetenv("DBCANARY_TEST_PASSED");
  EXPECT_EQ(record->outcome, DrillOutcome::kPass);
  EXPECT_THAT(drill.seen, ElementsAre(std::pair<std::string, std::string>("DBCANARY_TEST_PASSED",
                                                                          "passed-value")));
}

TEST(RunnerTest, RecordsInStoreAndWritesReport) {
  testing::TempDir dir;
  DrillStateStore store;
  store.SetDrills({DrillInfo{"scripted", true, "0 3 * * *", "", 2, {}}}, dir.path());
  ScriptedDrill drill;
  auto options = Options(dir.path());
  options.store = &store;
  auto record = RunDrill(drill, options);
  ASSERT_FALSE(record->report_json.empty());
  EXPECT_TRUE(std::filesystem::exists(record->report_json));
  EXPECT_TRUE(std::filesystem::exists(record->report_markdown));
  EXPECT_THAT(record->report_json, HasSubstr("/scripted/"));
  EXPECT_THAT(record->report_json, ::testing::EndsWith("-pass.json"));
  auto state = store.Find("scripted");
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->running);
  EXPECT_EQ(state->runs[static_cast<size_t>(DrillOutcome::kPass)], 1u);
  ASSERT_TRUE(state->last_success);
  EXPECT_EQ(*state->last_success, record->finished_at);
}

DrillRecord SampleRecord(const std::string& at, DrillOutcome outcome) {
  DrillRecord record;
  record.drill = "scripted";
  record.started_at = Utc(at) - 5s;
  record.finished_at = Utc(at);
  record.duration_seconds = 5;
  record.outcome = outcome;
  record.result.AddPhase("work", 1.25, true, "detail");
  record.result.Add("dbcanary_test_drill_figure_seconds", {{"drill", "scripted"}}, 1.5);
  record.result.expectations.push_back(ExpectNumber("max_figure_seconds", "c", 1.5, "<=", 2));
  record.result.expectations.push_back(ExpectText("mode", "c", "a", "b"));
  record.result.AddEvidence("before", "row 1\n");
  if (outcome == DrillOutcome::kPass) record.last_success_at = record.finished_at;
  if (outcome == DrillOutcome::kError) record.result.Fail(ErrorCode::kTimeout, "too slow");
  return record;
}

TEST(ReportTest, JsonRoundTrip) {
  DrillRecord record = SampleRecord("2026-11-26T15:00:00.250Z", DrillOutcome::kError);
  record.last_success_at = Utc("2026-11-25T15:00:00.000Z");
  record.notes.push_back("a note");
  auto parsed = RecordFromJson(RecordToJson(record));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->drill, "scripted");
  EXPECT_EQ(parsed->outcome, DrillOutcome::kError);
  EXPECT_EQ(parsed->finished_at, record.finished_at);
  EXPECT_EQ(parsed->last_success_at, record.last_success_at);
  ASSERT_TRUE(parsed->result.error);
  EXPECT_EQ(parsed->result.error->code, ErrorCode::kTimeout);
  ASSERT_EQ(parsed->result.phases.size(), 1u);
  EXPECT_DOUBLE_EQ(parsed->result.phases[0].duration_seconds, 1.25);
  ASSERT_EQ(parsed->result.samples.size(), 1u);
  EXPECT_EQ(parsed->result.samples[0].labels, (Labels{{"drill", "scripted"}}));
  ASSERT_EQ(parsed->result.expectations.size(), 2u);
  EXPECT_TRUE(std::isnan(parsed->result.expectations[1].threshold));  // null in JSON
  EXPECT_EQ(parsed->result.evidence[0].text, "row 1\n");
  EXPECT_THAT(parsed->notes, ElementsAre("a note"));
  EXPECT_FALSE(RecordFromJson("{").has_value());
  EXPECT_FALSE(RecordFromJson("{\"drill\":\"x\"}").has_value());
}

TEST(ReportTest, MarkdownHasPhasesTargetsFiguresEvidence) {
  std::string md = RecordToMarkdown(SampleRecord("2026-11-26T15:00:00.000Z", DrillOutcome::kFail));
  EXPECT_THAT(md, HasSubstr("# Drill scripted: fail"));
  EXPECT_THAT(md, HasSubstr("| 1 | work | 1.250 | yes | detail |"));
  EXPECT_THAT(md, HasSubstr("| max_figure_seconds | c | 1.5 | <= 2 | pass |"));
  EXPECT_THAT(md, HasSubstr("| mode | c | a | == b | **FAIL** |"));
  EXPECT_THAT(md, HasSubstr("dbcanary_test_drill_figure_seconds{drill=\"scripted\"}"));
  EXPECT_THAT(md, HasSubstr("## before\n\n```\nrow 1\n```"));
}

// Evidence cannot close its code fence and inject Markdown; titles and cells stay on one line.
TEST(ReportTest, MarkdownEvidenceCannotEscapeItsFence) {
  DrillRecord record = SampleRecord("2026-11-26T15:00:00.000Z", DrillOutcome::kFail);
  record.result.evidence.clear();
  record.result.AddEvidence("output\n# injected heading", "a\n```\n# injected\n````x\n");
  record.result.phases[0].detail = "line one\n| injected | cell |";
  std::string md = RecordToMarkdown(record);
  EXPECT_THAT(
      md, HasSubstr("## output # injected heading\n\n`````\na\n```\n# injected\n````x\n`````\n"));
  EXPECT_THAT(md, HasSubstr("| line one \\| injected \\| cell \\| |"));
}

TEST(ReportTest, RetentionKeepsNewestRunsAndListIsNewestFirst) {
  testing::TempDir dir;
  for (int i = 0; i < 5; ++i) {
    auto record = SampleRecord("2026-11-26T15:0" + std::to_string(i) + ":00.000Z",
                               i % 2 ? DrillOutcome::kFail : DrillOutcome::kPass);
    ASSERT_TRUE(WriteReport(record, dir.path(), 3));
  }
  auto reports = ListReports(dir.path());
  ASSERT_EQ(reports.size(), 9u);  // 3 runs x (html, json, md)
  EXPECT_EQ(reports[0].stamp, "20261126T150400.000Z");
  EXPECT_EQ(reports[0].result, "pass");
  EXPECT_EQ(reports[0].format, "html");
  EXPECT_EQ(reports[1].format, "json");
  EXPECT_EQ(reports[3].stamp, "20261126T150300.000Z");
  EXPECT_EQ(reports[8].stamp, "20261126T150200.000Z");
  // No temporary files left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/scripted")) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(".tmp")));
  }
}

TEST(StateStoreTest, RestoresLastRunAndLastSuccessFromReports) {
  testing::TempDir dir;
  auto pass = SampleRecord("2026-11-26T15:00:00.000Z", DrillOutcome::kPass);
  ASSERT_TRUE(WriteReport(pass, dir.path(), 10));
  auto error = SampleRecord("2026-11-26T16:00:00.000Z", DrillOutcome::kError);
  error.last_success_at = pass.finished_at;
  ASSERT_TRUE(WriteReport(error, dir.path(), 10));
  // A corrupt newer file is skipped.
  std::ofstream(dir.path() + "/scripted/20261126T170000.000Z-pass.json") << "{not json";

  DrillStateStore store;
  store.SetDrills(
      {DrillInfo{"scripted", true, "", "", 60, {}}, DrillInfo{"other", false, "", "", 60, {}}},
      dir.path());
  auto state = store.Find("scripted");
  ASSERT_TRUE(state && state->last);
  EXPECT_EQ(state->last->outcome, DrillOutcome::kError);
  EXPECT_EQ(state->last->finished_at, error.finished_at);
  ASSERT_TRUE(state->last_success);
  EXPECT_EQ(*state->last_success, pass.finished_at);
  EXPECT_EQ(state->runs[0] + state->runs[1] + state->runs[2] + state->runs[3], 0u);
  EXPECT_FALSE(store.Find("other")->last);
  EXPECT_EQ(store.reports_dir(), dir.path());
}

TEST(ReportHttpTest, ServesOnlyReportFilesInsideTheDirectory) {
  testing::TempDir dir;
  testing::TempDir outside;
  auto record = SampleRecord("2026-11-26T15:00:00.000Z", DrillOutcome::kPass);
  ASSERT_TRUE(WriteReport(record, dir.path(), 10));
  std::string name = std::filesystem::path(record.report_json).filename().string();
  std::string md = std::filesystem::path(record.report_markdown).filename().string();

  auto json = ReportFileResponse(dir.path(), "scripted/" + name);
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_THAT(json.body, HasSubstr("\"drill\": \"scripted\""));
  auto markdown = ReportFileResponse(dir.path(), "scripted/" + md);
  EXPECT_EQ(markdown.status, 200);
  EXPECT_EQ(markdown.content_type, "text/markdown; charset=utf-8");

  // A symlink pointing out of the reports directory, with a report-like name.
  std::string secret = outside.Write("20261126T150000.000Z-pass.json", "{\"secret\":1}");
  std::filesystem::create_symlink(secret, dir.path() + "/scripted/20261126T160000.000Z-pass.json");
  std::filesystem::create_directory_symlink(outside.path(), dir.path() + "/linked");
  for (const std::string& rest : std::vector<std::string>{
           std::string("scripted/20261126T160000.000Z-pass.json"),
           "linked/20261126T150000.000Z-pass.json", "../scripted/" + name,
           "scripted/../scripted/" + name, "scripted/..", "scripted", "/etc/passwd",
           "scripted/" + name + "/x", "%2e%2e/" + name, "scripted/notes.txt",
           "scripted/" + name.substr(0, name.size() - 5) + ".tmp",
           std::string("scripted//") + name}) {
    EXPECT_EQ(ReportFileResponse(dir.path(), rest).status, 404) << rest;
  }

  auto index = ReportsIndex(dir.path(), false);
  EXPECT_EQ(index.status, 200);
  // Relative to /reports, so the page works behind a path-prefix proxy.
  EXPECT_THAT(index.body, HasSubstr("href=\"reports/scripted/" + name));
  EXPECT_THAT(index.body, ::testing::Not(HasSubstr("linked")));
  auto list = ReportsIndex(dir.path(), true);
  EXPECT_EQ(list.content_type, "application/json");
  EXPECT_THAT(list.body, HasSubstr("\"path\": \"/reports/scripted/" + name + "\""));
}

TEST(DrillMetricsTest, RendersStateOneHotResultAndMergedExpectations) {
  DrillState state;
  state.info = DrillInfo{
      "scripted", true, "0 3 * * *",
      "",         60,   {{"dbcanary_test_drill_figure_seconds", "A figure.", MetricType::kGauge}}};
  state.next_run = Utc("2026-11-27T03:00:00.000Z");
  state.runs[static_cast<size_t>(DrillOutcome::kFail)] = 2;
  auto record = SampleRecord("2026-11-26T15:00:00.000Z", DrillOutcome::kFail);
  record.result.Add("dbcanary_undescribed", {}, 1);  // dropped
  state.last = std::make_shared<const DrillRecord>(record);
  FamilyBuilder builder;
  builder.Describe({"dbcanary_expectation_pass", "pass", MetricType::kGauge});
  builder.Describe({"dbcanary_expectation_threshold", "threshold", MetricType::kGauge});
  builder.Add({"dbcanary_expectation_pass", {{"check", "probe_check"}, {"target", "x"}}, 1});
  DescribeDrillMetrics({state}, builder);
  AddDrillMetrics({state}, builder);
  std::string body;
  AppendText(builder.Take(), body);
  EXPECT_THAT(body, HasSubstr("dbcanary_drill_enabled{drill=\"scripted\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("dbcanary_drill_running{drill=\"scripted\"} 0\n"));
  EXPECT_THAT(
      body,
      HasSubstr("dbcanary_drill_next_run_timestamp_seconds{drill=\"scripted\"} 1795748400\n"));
  EXPECT_THAT(body,
              HasSubstr("dbcanary_drill_last_result{drill=\"scripted\",result=\"fail\"} 1\n"));
  EXPECT_THAT(body,
              HasSubstr("dbcanary_drill_last_result{drill=\"scripted\",result=\"pass\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("dbcanary_drill_runs_total{drill=\"scripted\",result=\"fail\"} 2\n"));
  EXPECT_THAT(
      body,
      HasSubstr("dbcanary_drill_phase_duration_seconds{drill=\"scripted\",phase=\"work\"} 1.25\n"));
  EXPECT_THAT(body, HasSubstr("dbcanary_test_drill_figure_seconds{drill=\"scripted\"} 1.5\n"));
  EXPECT_THAT(
      body, HasSubstr("dbcanary_expectation_pass{check=\"max_figure_seconds\",target=\"c\"} 1\n"));
  EXPECT_THAT(
      body,
      HasSubstr("dbcanary_expectation_threshold{check=\"max_figure_seconds\",target=\"c\"} 2\n"));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("dbcanary_undescribed")));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("last_success_timestamp_seconds{")));  // never passed
  // One header per family.
  size_t headers = 0;
  for (size_t at = body.find("# TYPE dbcanary_expectation_pass "); at != std::string::npos;
       at = body.find("# TYPE dbcanary_expectation_pass ", at + 1)) {
    ++headers;
  }
  EXPECT_EQ(headers, 1u);
}

}  // namespace
}  // namespace dbcanary
