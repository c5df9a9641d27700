#include "drills/failover/failover_drill.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>
#include <utility>

#include "clients/kube/kube_common.h"
#include "clients/pg/pg_session.h"
#include "drills/command.h"
#include "drills/failover/monitor_check.h"
#include "drills/failover/trigger.h"
#include "drills/failover/write_log.h"
#include "drills/health.h"
#include "drills/runtime/ownership.h"

namespace dbcanary {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr char kDowntime[] = "dbcanary_drill_failover_downtime_seconds";
constexpr char kNewPrimary[] = "dbcanary_drill_failover_new_primary_seconds";
constexpr char kLost[] = "dbcanary_drill_failover_lost_writes";
constexpr char kAcknowledged[] = "dbcanary_drill_failover_acknowledged_writes";
constexpr char kFailed[] = "dbcanary_drill_failover_failed_writes";
constexpr char kRecovered[] = "dbcanary_drill_failover_standbys_recovered_seconds";
constexpr char kMonitorRecovered[] = "dbcanary_drill_failover_monitor_recovered_seconds";
constexpr char kTimeline[] = "dbcanary_drill_failover_timeline";
constexpr char kWindowWrites[] = "dbcanary_drill_failover_window_writes";

// Direct connections while waiting for a new primary: short, so one dead instance does not
// hide another that is already promoted.
constexpr std::chrono::milliseconds kProbeConnect{1000};
constexpr std::chrono::milliseconds kProbeWrite{3000};
constexpr std::chrono::milliseconds kPollPause{100};
// Timeline of the WAL being written now (pg_control_checkpoint() lags until a checkpoint).
constexpr char kTimelineSql[] =
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint "
    "AS timeline";

Deadline Capped(const Deadline& deadline, std::chrono::milliseconds cap) {
  return Deadline(std::min(deadline.at(), SteadyClock::now() + cap));
}

// Commits seq = 1, 2, 3... through the pooler every `interval`, each write bounded by
// `timeout`, reconnecting after any failure. A failed seq is never retried.
class Writer {
 public:
  Writer(PgEndpoint target, std::string insert_sql, std::chrono::milliseconds interval,
         std::chrono::milliseconds timeout, SteadyClock::time_point origin)
      : target_(std::move(target)),
        insert_sql_(std::move(insert_sql)),
        interval_(interval),
        timeout_(timeout),
        origin_(origin) {}
  ~Writer() { Stop(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Start() {
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
  }
  // Returns after the write in flight (at most `timeout` later).
  void Stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  std::vector<WriteAttempt> Log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  // Acknowledged writes that started at or after `since` (seconds since the origin).
  int64_t AcknowledgedSince(double since = -1) const {
    std::lock_guard lock(mutex_);
    return static_cast<int64_t>(std::count_if(log_.begin(), log_.end(), [since](const auto& a) {
      return a.acknowledged && a.started >= since;
    }));
  }

 private:
  double Now() const { return SecondsSince(origin_); }

  void Loop(const std::stop_token& stop) {
    std::optional<PgSession> session;
    int64_t seq = 0;
    auto next = SteadyClock::now();
    while (!stop.stop_requested()) {
      WriteAttempt attempt;
      attempt.seq = ++seq;
      attempt.started = Now();
      // Not interrupted by `stop`: a write in flight ends by its own deadline, so a stop never
      // turns into a failed write.
      const Deadline deadline = Deadline::In(timeout_);
      if (!session || !session->connected()) {
        session.reset();
        // PgBouncer refuses unknown startup parameters: no statement_timeout option here.
        auto connected = PgSession::Connect(target_, PgConnectOptions{}, deadline);
        if (connected) session.emplace(std::move(*connected));
      }
      if (session) {
        auto rows = session->QueryParams(insert_sql_, {std::to_string(seq)}, deadline);
        attempt.acknowledged = rows.has_value();
        if (!rows) session.reset();
      }
      attempt.finished = Now();
      {
        std::lock_guard lock(mutex_);
        log_.push_back(attempt);
      }
      next += interval_;
      const auto now = SteadyClock::now();
      if (next < now) next = now;  // fell behind (a slow write): no burst afterwards
      SleepUntil(next, stop);
    }
  }

  const PgEndpoint target_;
  const std::string insert_sql_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds timeout_;
  const SteadyClock::time_point origin_;
  mutable std::mutex mutex_;
  std::vector<WriteAttempt> log_;
  std::jthread thread_;
};

// The member of that name now (a discovered one may have moved or gone).
std::optional<PgEndpoint> FindInstance(const ClusterMembers& members, const std::string& name,
                                       const DrillContext& ctx) {
  auto now = members.Now(ctx);
  if (!now) return std::nullopt;
  for (const auto& instance : now->instances) {
    if (instance.name == name) return instance;
  }
  return std::nullopt;
}

// The timeline the instance writes WAL on now; NaN when it does not answer (or is gone).
double QueryTimeline(const std::optional<PgEndpoint>& instance, const DrillContext& ctx) {
  if (!instance) return kNaN;
  const Deadline deadline = Capped(ctx.deadline, std::chrono::seconds(5));
  PgConnectOptions options;
  options.statement_timeout = deadline.Remaining();
  auto session = PgSession::Connect(*instance, options, deadline, ctx.stop);
  if (!session) return kNaN;
  auto rows = session->Query(kTimelineSql, deadline, ctx.stop);
  if (!rows || rows->empty()) return kNaN;
  auto value = rows->Number(0, "timeline");
  if (!value || !value->has_value()) return kNaN;
  return **value;
}

std::string FormatSeconds(double seconds) {
  return std::isnan(seconds) ? std::string("unknown") : fmt::format("{:.3f} s", seconds);
}

// The state of one run, shared by its phases (FailoverDrill::Run). Members follow the order the
// phases fill them in.
struct FailoverRun {
  explicit FailoverRun(const DrillContext& context) : ctx(context) {}
  // Seconds since the run's time origin (the writer's log uses the same origin).
  double Now() const { return SecondsSince(origin); }
  // Whether a wait may go on: time left, and no stop requested.
  bool Going() const { return !ctx.deadline.Expired() && !ctx.stop.stop_requested(); }

  const DrillContext& ctx;
  const SteadyClock::time_point origin = SteadyClock::now();
  DrillResult result;
  // prepare
  std::string old_primary;
  size_t members_before = 1;  // members before the trigger, the primary included
  double timeline_before = kNaN;
  std::optional<Writer> writer;
  // trigger: a trigger command runs beside the waits until FinishCommand collects it
  double trigger_at = 0;
  std::future<Result<DrillCommandOutcome>> command;
  bool trigger_ok = true;
  // wait_new_primary, wait_writes_resume
  std::string new_primary;
  double found_at = 0;
  double new_primary_seconds = 0;
  double resumed_started = kNaN;
  // verify_writes, wait_standbys
  WriteLogAnalysis analysis;
  size_t standbys_needed = 0;
  double recovered = kNaN;
  double timeline_after = kNaN;
  // wait_monitor
  double monitor_recovered = kNaN;
  std::string monitor_red;
};

class FailoverDrill final : public Drill {
 public:
  FailoverDrill(FailoverParams params, PostgresCluster cluster, ClusterMembers members,
                PgEndpoint pooler, std::optional<KubernetesSettings> kube,
                std::string kube_namespace, std::string cnpg_cluster,
                std::chrono::milliseconds timeout, MonitorCheck monitor)
      : params_(std::move(params)),
        cluster_(std::move(cluster)),
        members_(std::move(members)),
        pooler_(std::move(pooler)),
        kube_(std::move(kube)),
        kube_namespace_(std::move(kube_namespace)),
        cnpg_cluster_(std::move(cnpg_cluster)),
        timeout_(timeout),
        monitor_(std::move(monitor)) {}

  const std::vector<MetricDesc>& Describe() const override { return FailoverMetricDescs(); }

  Status CleanUp(const DrillContext& ctx) override {
    // A namesake without the drill's marker is left alone (CheckPreconditions refuses it).
    return OnPooler(DropOwnedTableSql(params_.table, TableComment()), ctx);
  }

  Status CheckPreconditions(const DrillContext& ctx) override {
    auto members = members_.Now(ctx);
    if (!members) return members.error();
    auto healthy = CheckPostgresHealthy(*members, ctx);
    if (!healthy) return healthy;
    auto created = OnPooler(CreateSql(), ctx);
    if (!created) {
      return MakeError(created.error().code, "cannot create the writer table through pooler " +
                                                 pooler_.name + ": " + created.error().message);
    }
    return Ok{};
  }

  // The phases in order; a phase that returns false has recorded why the run ends there.
  DrillResult Run(const DrillContext& ctx) override {
    FailoverRun run(ctx);
    if (!Prepare(run) || !Trigger(run) || !WaitNewPrimary(run) || !WaitWritesResume(run)) {
      return std::move(run.result);
    }
    // The command (e.g. stack.sh failover) may still re-attach the old primary; the writer keeps
    // writing meanwhile, so a pooler that drops out again is measured too.
    run.trigger_ok = FinishCommand(run);
    Settle(run);
    if (!VerifyWrites(run)) return std::move(run.result);
    WaitStandbys(run);
    WaitMonitor(run);
    AddFigures(run);
    Conclude(run);
    return std::move(run.result);
  }

 private:
  static std::string TableComment() { return OwnershipComment("failover", "table"); }

  // Creates and marks the writer table, or fails when a table of that name lacks the marker.
  std::string CreateSql() const {
    return EnsureOwnedTableSql(
        params_.table, "seq bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp()",
        TableComment());
  }

  Status OnPooler(const std::string& sql, const DrillContext& ctx) const {
    const Deadline deadline = Capped(ctx.deadline, std::chrono::seconds(10));
    auto session = PgSession::Connect(pooler_, PgConnectOptions{}, deadline, ctx.stop);
    if (!session) return session.error();
    auto rows = session->Query(sql, deadline, ctx.stop);
    if (!rows) return rows.error();
    return Ok{};
  }

  // The first member other than `old_primary` that is out of recovery and commits a transaction
  // (with synchronous replication: once a standby acknowledges it).
  std::optional<std::string> FindWritablePrimary(const std::string& old_primary,
                                                 const DrillContext& ctx) const {
    auto members = members_.Now(ctx);
    if (!members) return std::nullopt;  // the discovery failed this round: asked again
    for (const PgEndpoint& member : members->instances) {
      const PgEndpoint* instance = &member;
      if (instance->name == old_primary) continue;
      const Deadline connect = Capped(ctx.deadline, kProbeConnect);
      PgConnectOptions options;
      options.statement_timeout = kProbeWrite;
      auto session = PgSession::Connect(*instance, options, connect, ctx.stop);
      if (!session) continue;
      auto rows = session->Query("SELECT pg_is_in_recovery() AS in_recovery", connect, ctx.stop);
      if (!rows || rows->empty()) continue;
      auto in_recovery = rows->Bool(0, "in_recovery");
      if (!in_recovery || !in_recovery->has_value() || **in_recovery) continue;
      // txid_current() makes the transaction write a commit record: it returns once the
      // commit is durable as synchronous_commit demands.
      auto wrote = session->Query("SELECT txid_current() AS xid", Capped(ctx.deadline, kProbeWrite),
                                  ctx.stop);
      if (wrote) return instance->name;
    }
    return std::nullopt;
  }

  bool Prepare(FailoverRun& run) const;
  bool StartWriter(FailoverRun& run, size_t standbys_before) const;
  bool Trigger(FailoverRun& run) const;
  bool FinishCommand(FailoverRun& run) const;
  bool FailNow(FailoverRun& run, const std::string& phase, double seconds, ErrorCode code,
               const std::string& message) const;
  bool WaitNewPrimary(FailoverRun& run) const;
  bool WaitWritesResume(FailoverRun& run) const;
  void Settle(FailoverRun& run) const;
  Result<std::set<int64_t>> ReadWrittenSeqs(const FailoverRun& run) const;
  bool VerifyWrites(FailoverRun& run) const;
  void ReportWrites(FailoverRun& run) const;
  void WaitStandbys(FailoverRun& run) const;
  void WaitMonitor(FailoverRun& run) const;
  void AddFigures(FailoverRun& run) const;
  void Conclude(FailoverRun& run) const;

  FailoverParams params_;
  PostgresCluster cluster_;
  ClusterMembers members_;  // asked at every use: discovered pods come and go during a failover
  PgEndpoint pooler_;
  std::optional<KubernetesSettings> kube_;
  std::string kube_namespace_;
  std::string cnpg_cluster_;
  std::chrono::milliseconds timeout_;
  MonitorCheck monitor_;
};

// ---- prepare: who is primary, the writer table, the writer running
bool FailoverDrill::Prepare(FailoverRun& run) const {
  const DrillContext& ctx = run.ctx;
  DrillResult& result = run.result;
  ctx.progress("inspecting cluster " + cluster_.name);
  auto members = members_.Now(ctx);
  auto before =
      members ? InspectPostgresCluster(*members, ctx) : Result<PgClusterHealth>(members.error());
  if (!before || before->primaries != 1) {
    result.AddPhase("prepare", run.Now(), false, "no single primary");
    result.Fail(before ? ErrorCode::kUnexpected : before.error().code,
                before ? "cluster " + cluster_.name + ": " + std::to_string(before->primaries) +
                             " instances answer as primary"
                       : before.error().message);
    return false;
  }
  run.old_primary = before->primary;
  run.members_before = std::max<size_t>(1, members->instances.size());
  run.timeline_before = QueryTimeline(FindInstance(members_, run.old_primary, ctx), ctx);
  result.AddEvidence("pg_stat_replication on " + run.old_primary + " before",
                     before->replication_table);
  auto prepared =
      OnPooler(CreateSql() + "; " +
                   GuardedTableSql(params_.table, TableComment(), "TRUNCATE " + params_.table),
               ctx);
  if (!prepared) {
    result.AddPhase("prepare", run.Now(), false, "writer table");
    result.Fail(prepared.error().code,
                "writer table through pooler " + pooler_.name + ": " + prepared.error().message);
    return false;
  }
  return StartWriter(run, before->streaming.size());
}

// The writer starts, and the trigger waits for enough acknowledged writes: the writer works
// before anything fails, and the loss check covers writes committed before the trigger.
bool FailoverDrill::StartWriter(FailoverRun& run, size_t standbys_before) const {
  const DrillContext& ctx = run.ctx;
  Writer& writer =
      run.writer.emplace(pooler_, "INSERT INTO " + params_.table + " (seq) VALUES ($1)",
                         params_.write_interval, params_.write_timeout, run.origin);
  writer.Start();
  // The budget scales with the count asked for.
  const double prepare_budget =
      15 + static_cast<double>(params_.min_writes_before) *
               std::chrono::duration<double>(params_.write_interval).count() * 2;
  while (writer.AcknowledgedSince() < params_.min_writes_before && run.Going() &&
         run.Now() < prepare_budget) {
    SleepFor(std::chrono::milliseconds(20), ctx.stop);
  }
  if (writer.AcknowledgedSince() < params_.min_writes_before) {
    writer.Stop();
    run.result.AddPhase("prepare", run.Now(), false, "writer not acknowledged");
    run.result.Fail(
        ErrorCode::kTimeout,
        fmt::format("writes through pooler {}: {} of {} acknowledged before the "
                    "failover",
                    pooler_.name, writer.AcknowledgedSince(), params_.min_writes_before));
    return false;
  }
  run.result.AddPhase("prepare", run.Now(), true,
                      fmt::format("primary {} (timeline {}), {} standbys streaming, writer on {} "
                                  "({} writes acknowledged)",
                                  run.old_primary, run.timeline_before, standbys_before,
                                  pooler_.name, writer.AcknowledgedSince()));
  return true;
}

// ---- trigger: a command starts beside the waits (its phase is recorded when it ends, see
// FinishCommand); the Kubernetes trigger deletes the primary pod and is done.
bool FailoverDrill::Trigger(FailoverRun& run) const {
  const DrillContext& ctx = run.ctx;
  DrillResult& result = run.result;
  run.trigger_at = run.Now();
  if (!params_.command.empty()) {
    ctx.progress("trigger: running " + params_.command[0]);
    const Deadline command_deadline(
        std::min(ctx.deadline.at(), SteadyClock::now() + params_.command_timeout));
    run.command = std::async(std::launch::async,
                             [this, command_deadline, stop = ctx.stop, env = ctx.command_env] {
                               return RunDrillCommand(params_.command, env, command_deadline, stop);
                             });
    return true;
  }
  ctx.progress("trigger: deleting the primary pod of " + cnpg_cluster_);
  auto client = kube::MakeClient(*kube_);
  Result<std::string> deleted =
      client ? DeleteCnpgPrimaryPod(*client, kube_namespace_, cnpg_cluster_, ctx.deadline)
             : Result<std::string>(client.error());
  result.AddPhase("trigger", run.Now() - run.trigger_at, deleted.has_value(),
                  deleted ? "deleted pod " + *deleted : deleted.error().message);
  if (!deleted) {
    run.writer->Stop();
    result.Fail(deleted.error().code, "trigger: " + deleted.error().message);
    return false;
  }
  result.AddEvidence("trigger", "deleted pod " + kube_namespace_ + "/" + *deleted + " (selector " +
                                    CnpgPrimarySelector(cnpg_cluster_) + ")");
  return true;
}

// Waits for the trigger command, if any, and records its phase right after "prepare", where it
// began. False when the command failed (the run's error says so unless it has one already).
bool FailoverDrill::FinishCommand(FailoverRun& run) const {
  if (!run.command.valid()) return true;
  DrillResult& result = run.result;
  auto outcome = run.command.get();
  if (!outcome) {
    result.phases.insert(
        result.phases.begin() + 1,
        DrillPhase{"trigger", run.Now() - run.trigger_at, false, outcome.error().message});
    if (!result.error) result.Fail(outcome.error().code, "trigger: " + outcome.error().message);
    return false;
  }
  const bool ok = outcome->exit_code == 0;
  const std::string detail = "exit code " + std::to_string(outcome->exit_code);
  result.phases.insert(result.phases.begin() + 1,
                       DrillPhase{"trigger", outcome->seconds, ok, detail});
  result.AddEvidence("trigger output (" + params_.command[0] + ", " + detail + ")",
                     outcome->output);
  if (!ok && !result.error) {
    result.Fail(ErrorCode::kUnexpected, "trigger command " + params_.command[0] + ": " + detail);
  }
  return ok;
}

// Ends the run in a phase after the trigger: the writer stops, the trigger command is waited
// for, and the downtime target is recorded as unmeasured (NaN). Returns false for the caller.
bool FailoverDrill::FailNow(FailoverRun& run, const std::string& phase, double seconds,
                            ErrorCode code, const std::string& message) const {
  run.result.AddPhase(phase, seconds, false, message);
  run.writer->Stop();
  FinishCommand(run);
  run.result.Fail(code, message);
  run.result.expectations.push_back(ExpectNumber("max_downtime_seconds", cluster_.name, kNaN,
                                                 "<=", params_.max_downtime_seconds));
  return false;
}

// ---- wait_new_primary: another instance answers as primary and commits
bool FailoverDrill::WaitNewPrimary(FailoverRun& run) const {
  const DrillContext& ctx = run.ctx;
  ctx.progress("waiting for a new primary (not " + run.old_primary + ")");
  std::optional<std::string> new_primary;
  while (run.Going()) {
    const auto round = SteadyClock::now();
    new_primary = FindWritablePrimary(run.old_primary, ctx);
    if (new_primary) break;
    SleepUntil(round + kPollPause, ctx.stop);
  }
  run.found_at = run.Now();
  if (!new_primary) {
    return FailNow(run, "wait_new_primary", run.found_at - run.trigger_at, ErrorCode::kTimeout,
                   "no instance other than " + run.old_primary + " accepted writes");
  }
  run.new_primary = *new_primary;
  run.new_primary_seconds = run.found_at - run.trigger_at;
  run.result.AddPhase("wait_new_primary", run.new_primary_seconds, true,
                      run.new_primary + " accepts writes");
  ctx.progress(
      fmt::format("{} accepts writes after {:.3f} s", run.new_primary, run.new_primary_seconds));
  return true;
}

// ---- wait_writes_resume: a write through the pooler started after the promotion is acked
bool FailoverDrill::WaitWritesResume(FailoverRun& run) const {
  double resumed = kNaN;
  while (run.Going()) {
    const WriteLogAnalysis so_far =
        AnalyzeWrites(run.writer->Log(), run.trigger_at, nullptr, run.found_at);
    resumed = so_far.first_ack_after;
    run.resumed_started = so_far.resumed_write_started;
    if (!std::isnan(resumed)) break;
    SleepFor(std::chrono::milliseconds(50), run.ctx.stop);
  }
  if (std::isnan(resumed)) {
    return FailNow(run, "wait_writes_resume", run.Now() - run.found_at, ErrorCode::kTimeout,
                   "writes through pooler " + pooler_.name + " did not resume");
  }
  run.result.AddPhase("wait_writes_resume", std::max(0.0, resumed - run.found_at), true,
                      fmt::format("writes through {} resumed {:.3f} s after the trigger",
                                  pooler_.name, resumed - run.trigger_at));
  return true;
}

// ---- settle: writes go on after the resumption, so the loss check covers the new primary's
// commits too, on any host speed (a fast re-attach would otherwise end the writer at once)
void FailoverDrill::Settle(FailoverRun& run) const {
  const double settle_until = run.Now() + std::chrono::duration<double>(params_.settle).count();
  while (run.Going() &&
         (run.Now() < settle_until ||
          run.writer->AcknowledgedSince(run.resumed_started) < params_.min_writes_after)) {
    SleepFor(std::chrono::milliseconds(50), run.ctx.stop);
  }
  run.writer->Stop();
}

// The seqs committed on the new primary, read there directly (not through the pooler).
Result<std::set<int64_t>> FailoverDrill::ReadWrittenSeqs(const FailoverRun& run) const {
  PgEndpoint direct = pooler_;
  const auto new_instance = FindInstance(members_, run.new_primary, run.ctx);
  if (!new_instance) {
    return MakeError(ErrorCode::kUnexpected,
                     "the new primary " + run.new_primary + " is no member any more");
  }
  direct.name = new_instance->name;
  direct.host = new_instance->host;
  direct.hostaddr = new_instance->hostaddr;  // a discovered member: its pod IP
  direct.port = new_instance->port;
  const Deadline deadline = Capped(run.ctx.deadline, std::chrono::seconds(15));
  auto session = PgSession::Connect(direct, PgConnectOptions{}, deadline, run.ctx.stop);
  Result<PgTable> rows =
      session ? session->Query("SELECT seq FROM " + params_.table, deadline, run.ctx.stop)
              : Result<PgTable>(session.error());
  if (!rows) return rows.error();
  std::set<int64_t> present;
  for (size_t row = 0; row < rows->size(); ++row) {
    auto seq = rows->Number(row, "seq");
    if (seq && seq->has_value()) present.insert(static_cast<int64_t>(**seq));
  }
  return present;
}

// ---- verify_writes: every acknowledged seq is on the new primary
bool FailoverDrill::VerifyWrites(FailoverRun& run) const {
  const double verify_start = run.Now();
  auto present = ReadWrittenSeqs(run);
  if (!present) {
    return FailNow(run, "verify_writes", run.Now() - verify_start, present.error().code,
                   "reading the writes on " + run.new_primary + ": " + present.error().message);
  }
  run.analysis = AnalyzeWrites(run.writer->Log(), run.trigger_at, &*present, run.found_at);
  const WriteLogAnalysis& analysis = run.analysis;
  run.result.AddPhase(
      "verify_writes", run.Now() - verify_start, analysis.lost.empty(),
      fmt::format("{} acknowledged ({} before, {} during, {} after the failover), {} failed, "
                  "{} on {}; lost: {}",
                  analysis.acknowledged, analysis.before.acknowledged, analysis.during.acknowledged,
                  analysis.after.acknowledged, analysis.failed, present->size(), run.new_primary,
                  analysis.lost.empty() ? std::string("none") : FormatSeqs(analysis.lost)));
  ReportWrites(run);
  return true;
}

// The failover timeline for the report's plot: every write attempt (x: when it started, y: how
// long it took), acknowledged and failed apart, and the moments: trigger, new primary found,
// the downtime window (the longest gap between acknowledgements after the trigger).
void AddTimeline(DrillResult& result, const std::vector<WriteAttempt>& log, double trigger_at,
                 double new_primary_at, double downtime_from, double downtime_to) {
  const std::string x_unit = "s since the drill's start";
  DrillSeries acknowledged{"writes", {{"outcome", "acknowledged"}}, x_unit, "s", {}};
  DrillSeries failed{"writes", {{"outcome", "failed"}}, x_unit, "s", {}};
  for (const auto& attempt : log) {
    (attempt.acknowledged ? acknowledged : failed)
        .points.emplace_back(attempt.started, attempt.finished - attempt.started);
  }
  result.series.push_back(std::move(acknowledged));
  result.series.push_back(std::move(failed));
  for (const auto& [event, at] :
       {std::pair{"trigger", trigger_at}, std::pair{"new_primary", new_primary_at},
        std::pair{"downtime_start", downtime_from}, std::pair{"downtime_end", downtime_to}}) {
    if (std::isfinite(at)) {
      result.series.push_back(DrillSeries{"event", {{"event", event}}, x_unit, "", {{at, 0}}});
    }
  }
}

// The writer's figures as evidence for the report.
void FailoverDrill::ReportWrites(FailoverRun& run) const {
  const WriteLogAnalysis& analysis = run.analysis;
  const bool gap = !std::isnan(analysis.downtime_seconds);
  AddTimeline(run.result, run.writer->Log(), run.trigger_at, run.found_at,
              gap ? analysis.downtime_from : kNaN, gap ? analysis.downtime_to : kNaN);
  run.result.AddEvidence(
      "writes through " + pooler_.name,
      fmt::format(
          "attempts {}, acknowledged {}, failed {}, failed but committed {}\n"
          "before the trigger: {} acknowledged, {} failed; during the failover: {} "
          "acknowledged, {} failed; after writes resumed: {} acknowledged, {} failed\n"
          "longest gap between acknowledgements after the trigger: {} "
          "(from {:.3f} s to {:.3f} s after the drill start; trigger at {:.3f} s)\n"
          "first failed write to next acknowledgement: {}\n"
          "lost acknowledged writes: {}",
          analysis.attempts, analysis.acknowledged, analysis.failed, analysis.ambiguous_committed,
          analysis.before.acknowledged, analysis.before.failed, analysis.during.acknowledged,
          analysis.during.failed, analysis.after.acknowledged, analysis.after.failed,
          FormatSeconds(analysis.downtime_seconds), analysis.downtime_from, analysis.downtime_to,
          run.trigger_at, FormatSeconds(analysis.first_failure_to_ack_seconds),
          analysis.lost.empty() ? std::string("none") : FormatSeqs(analysis.lost)));
}

// ---- wait_standbys: the expected number of standbys stream from the new primary
void FailoverDrill::WaitStandbys(FailoverRun& run) const {
  const DrillContext& ctx = run.ctx;
  // Without a declared minimum, every member but the primary (as many as before the trigger).
  const size_t need = cluster_.expect.min_streaming_standbys
                          ? static_cast<size_t>(*cluster_.expect.min_streaming_standbys)
                          : run.members_before - 1;
  run.standbys_needed = need;
  ctx.progress(fmt::format("waiting for {} standbys to stream from {}", need, run.new_primary));
  const double standbys_start = run.Now();
  std::string replication_after;
  while (run.Going()) {
    const auto round = SteadyClock::now();
    auto members = members_.Now(ctx);
    auto health =
        members ? InspectPostgresCluster(*members, ctx) : Result<PgClusterHealth>(members.error());
    if (health && health->primaries == 1 && health->primary == run.new_primary) {
      replication_after = health->replication_table;
      if (health->streaming.size() >= need) {
        run.recovered = run.Now() - run.trigger_at;
        break;
      }
    }
    SleepUntil(round + std::chrono::milliseconds(500), ctx.stop);
  }
  const bool recovered = !std::isnan(run.recovered);
  run.result.AddPhase("wait_standbys", run.Now() - standbys_start, recovered,
                      recovered ? fmt::format("{} standbys streaming", need)
                                : fmt::format("fewer than {} standbys streaming", need));
  run.timeline_after = QueryTimeline(FindInstance(members_, run.new_primary, ctx), ctx);
  run.result.AddEvidence("pg_stat_replication on " + run.new_primary + " after", replication_after);
  run.result.AddEvidence("timeline",
                         fmt::format("before: {} on {}; after: {} on {}", run.timeline_before,
                                     run.old_primary, run.timeline_after, run.new_primary));
}

// ---- wait_monitor: dbcanary's own pg probes are green on the new topology (monitor_check.h)
void FailoverDrill::WaitMonitor(FailoverRun& run) const {
  if (monitor_.empty()) return;
  const DrillContext& ctx = run.ctx;
  ctx.progress("waiting for dbcanary's pg probes to be green on the new topology");
  const double start = run.Now();
  const double budget = params_.max_monitor_recovery_seconds - (start - run.trigger_at);
  const Deadline until(
      std::min(ctx.deadline.at(),
               SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                        std::chrono::duration<double>(std::max(budget, 0.0)))));
  run.monitor_red = monitor_.WaitGreen(ctx, until);
  if (run.monitor_red.empty()) run.monitor_recovered = run.Now() - run.trigger_at;
  run.result.AddPhase("wait_monitor", run.Now() - start, run.monitor_red.empty(),
                      run.monitor_red.empty() ? "every pg probe green, every expectation met"
                                              : "still red: " + run.monitor_red);
}

// ---- figures and targets
void FailoverDrill::AddFigures(FailoverRun& run) const {
  DrillResult& result = run.result;
  const WriteLogAnalysis& analysis = run.analysis;
  const Labels labels{{"target", cluster_.name}};
  result.Add(kDowntime, labels, analysis.downtime_seconds);
  result.Add(kNewPrimary, labels, run.new_primary_seconds);
  result.Add(kLost, labels, static_cast<double>(analysis.lost.size()));
  result.Add(kAcknowledged, labels, static_cast<double>(analysis.acknowledged));
  result.Add(kFailed, labels, static_cast<double>(analysis.failed));
  for (const auto& [window, counts] :
       {std::pair{"before", analysis.before}, std::pair{"during", analysis.during},
        std::pair{"after", analysis.after}}) {
    result.Add(kWindowWrites,
               {{"target", cluster_.name}, {"window", window}, {"outcome", "acknowledged"}},
               static_cast<double>(counts.acknowledged));
    result.Add(kWindowWrites,
               {{"target", cluster_.name}, {"window", window}, {"outcome", "failed"}},
               static_cast<double>(counts.failed));
  }
  if (!std::isnan(run.recovered)) result.Add(kRecovered, labels, run.recovered);
  if (!monitor_.empty()) {
    if (!std::isnan(run.monitor_recovered)) {
      result.Add(kMonitorRecovered, labels, run.monitor_recovered);
    }
    auto monitor = ExpectNumber("max_monitor_recovery_seconds", cluster_.name,
                                run.monitor_recovered, "<=", params_.max_monitor_recovery_seconds);
    if (!run.monitor_red.empty()) monitor.observed_text = "still red: " + run.monitor_red;
    result.expectations.push_back(std::move(monitor));
  }
  if (!std::isnan(run.timeline_after)) result.Add(kTimeline, labels, run.timeline_after);
  result.expectations.push_back(ExpectNumber("max_downtime_seconds", cluster_.name,
                                             analysis.downtime_seconds,
                                             "<=", params_.max_downtime_seconds));
  result.expectations.push_back(ExpectNumber("max_lost_writes", cluster_.name,
                                             static_cast<double>(analysis.lost.size()),
                                             "<=", static_cast<double>(params_.max_lost_writes)));
  result.expectations.push_back(ExpectNumber("min_writes_before_trigger", cluster_.name,
                                             static_cast<double>(analysis.before.acknowledged),
                                             ">=", static_cast<double>(params_.min_writes_before)));
  result.expectations.push_back(ExpectNumber("min_writes_after_resume", cluster_.name,
                                             static_cast<double>(analysis.after.acknowledged),
                                             ">=", static_cast<double>(params_.min_writes_after)));
  result.expectations.push_back(ExpectNumber(
      "max_recovery_seconds", cluster_.name, run.recovered, "<=",
      params_.max_recovery_seconds.value_or(std::chrono::duration<double>(timeout_).count())));
}

// The run's error, if any, once the figures are in: a failed trigger command has set it already
// (FinishCommand); otherwise standbys that did not come back are one.
void FailoverDrill::Conclude(FailoverRun& run) const {
  if (!run.trigger_ok) return;
  if (std::isnan(run.recovered)) {
    run.result.Fail(ErrorCode::kTimeout,
                    fmt::format("cluster {}: fewer than {} standbys stream from {} again",
                                cluster_.name, run.standbys_needed, run.new_primary));
  } else if (!monitor_.empty() && std::isnan(run.monitor_recovered)) {
    run.result.Fail(ErrorCode::kTimeout,
                    fmt::format("cluster {}: dbcanary's pg probes stay red on the new topology: {}",
                                cluster_.name, run.monitor_red));
  }
  run.ctx.progress(fmt::format("downtime through {}: {}, lost writes: {}", pooler_.name,
                               FormatSeconds(run.analysis.downtime_seconds),
                               run.analysis.lost.size()));
}

// `trigger`: exactly one of { command, timeout } or { kubernetes: { cluster } }. Throws
// ConfigError.
void ReadTrigger(YamlMap& map, const Config& config, FailoverParams& params) {
  auto trigger = map.Map("trigger");
  if (!trigger) map.Fail("trigger", "required: { command: [...] } or { kubernetes: { cluster } }");
  const bool has_command = trigger->Has("command");
  const bool has_kube = trigger->Has("kubernetes");
  if (has_command == has_kube) {
    trigger->FailHere("exactly one of command or kubernetes");
  }
  if (has_command) {
    params.command = trigger->ListOfStrings("command");
    if (params.command.empty() || params.command[0].empty()) {
      trigger->Fail("command", "needs at least the program");
    }
    if (auto timeout = trigger->Duration("timeout")) {
      if (timeout->count() <= 0) trigger->Fail("timeout", "must be positive");
      params.command_timeout = *timeout;
    }
  } else {
    auto kube = trigger->Map("kubernetes");
    params.kube_cluster = kube->RequiredString("cluster");
    if (!config.kubernetes) kube->Fail("cluster", "there is no kubernetes: section");
    if (config.FindKubeCluster(params.kube_cluster) == nullptr) {
      kube->Fail("cluster", "no kubernetes.clusters[] entry named \"" + params.kube_cluster + "\"");
    }
    kube->Finish();
  }
  trigger->Finish();
}

}  // namespace

const std::vector<MetricDesc>& FailoverMetricDescs() {
  static const std::vector<MetricDesc> kDescs{
      {kDowntime,
       "Longest time between two acknowledged writes through the rw pooler during the last "
       "failover drill (client-visible write unavailability).",
       MetricType::kGauge},
      {kNewPrimary,
       "Seconds from the trigger until another instance accepted a write directly, last "
       "failover drill.",
       MetricType::kGauge},
      {kLost, "Acknowledged writes missing on the new primary after the last failover drill.",
       MetricType::kGauge},
      {kAcknowledged, "Writes acknowledged through the pooler during the last failover drill.",
       MetricType::kGauge},
      {kFailed,
       "Writes that failed or timed out through the pooler during the last failover drill.",
       MetricType::kGauge},
      {kRecovered,
       "Seconds from the trigger until the expected number of standbys streamed from the new "
       "primary, last failover drill.",
       MetricType::kGauge},
      {kTimeline, "Timeline of the new primary after the last failover drill.", MetricType::kGauge},
      {kMonitorRecovered,
       "Seconds from the trigger until dbcanary's own pg probes of the cluster were all green "
       "again (every run successful, every expectation met), last failover drill.",
       MetricType::kGauge},
      {kWindowWrites,
       "Write attempts through the pooler in the last failover drill by window (before the "
       "trigger, during the failover, after writes resumed) and outcome.",
       MetricType::kGauge},
  };
  return kDescs;
}

Result<FailoverParams> ReadFailoverParams(const DrillSettings& settings, const Config& config) {
  FailoverParams params;
  try {
    YamlMap& map = *settings.params;
    params.cluster = map.RequiredString("cluster");
    if (config.FindCluster(params.cluster) == nullptr) {
      map.Fail("cluster", "no postgres cluster named \"" + params.cluster + "\"");
    }
    params.pooler = map.RequiredString("pooler");
    const Pooler* pooler = config.FindPooler(params.pooler);
    if (pooler == nullptr) map.Fail("pooler", "no pooler named \"" + params.pooler + "\"");
    if (pooler->cluster != params.cluster) {
      map.Fail("pooler", "pooler \"" + params.pooler + "\" belongs to cluster \"" +
                             pooler->cluster + "\", not \"" + params.cluster + "\"");
    }
    if (pooler->type != PoolerType::kReadWrite) {
      map.Fail("pooler", "pooler \"" + params.pooler + "\" is not of type rw");
    }
    ReadTrigger(map, config, params);
    if (auto interval = map.Duration("write_interval")) {
      if (interval->count() < 10) map.Fail("write_interval", "must be at least 10ms");
      params.write_interval = *interval;
    }
    if (auto timeout = map.Duration("write_timeout")) {
      if (timeout->count() < 100) map.Fail("write_timeout", "must be at least 100ms");
      params.write_timeout = *timeout;
    }
    if (auto count = map.Int("min_writes_before", 1, 100000)) params.min_writes_before = *count;
    if (auto count = map.Int("min_writes_after", 1, 100000)) params.min_writes_after = *count;
    if (auto settle = map.Duration("settle")) {
      if (settle->count() < 0) map.Fail("settle", "must not be negative");
      params.settle = *settle;
    }
    if (auto table = map.String("table")) {
      if (!IsDrillSqlName(*table)) map.Fail("table", DrillSqlNameRule());
      params.table = *table;
    }
    if (auto expect = map.Map("expect")) {
      if (auto value = expect->Number("max_downtime_seconds", 0, 86400)) {
        params.max_downtime_seconds = *value;
      }
      if (auto value = expect->Int("max_lost_writes", 0, 1000000)) params.max_lost_writes = *value;
      params.max_recovery_seconds = expect->Number("max_recovery_seconds", 0, 86400);
      if (auto value = expect->Number("max_monitor_recovery_seconds", 0, 86400)) {
        params.max_monitor_recovery_seconds = *value;
      }
      expect->Finish();
    }
    map.Finish();
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
  return params;
}

Result<std::unique_ptr<Drill>> MakeFailoverDrill(const DrillSettings& settings,
                                                 const Config& config) {
  auto params = ReadFailoverParams(settings, config);
  if (!params) return params.error();
  const PostgresCluster& cluster = *config.FindCluster(params->cluster);
  const Pooler& pooler = *config.FindPooler(params->pooler);
  std::optional<KubernetesSettings> kube;
  std::string kube_namespace;
  std::string cnpg_cluster;
  if (!params->kube_cluster.empty()) {
    kube = *config.kubernetes;
    const KubeCluster& target = *config.FindKubeCluster(params->kube_cluster);
    kube_namespace = target.namespace_;
    cnpg_cluster = target.cnpg_cluster.empty() ? target.name : target.cnpg_cluster;
  }
  auto monitor = MonitorCheck::Build(cluster, config);
  if (!monitor) return monitor.error();
  std::optional<ClusterMembers> members;
  try {
    members.emplace(cluster, config);
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
  std::unique_ptr<Drill> drill = std::make_unique<FailoverDrill>(
      std::move(params).value(), cluster, std::move(*members), pooler.connection, std::move(kube),
      std::move(kube_namespace), std::move(cnpg_cluster), settings.timeout, std::move(*monitor));
  return drill;
}

}  // namespace dbcanary
