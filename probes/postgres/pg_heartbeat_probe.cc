#include "probes/postgres/pg_heartbeat_probe.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDefaultMaxPollInterval{100};
// First gap between two reads of a standby; it doubles up to max_poll_interval.
constexpr milliseconds kFirstPollGap{1};
// Reads stop this long before the deadline (at most a tenth of the budget), so the last read
// answers in time instead of being cancelled by it.
constexpr milliseconds kReadMargin{100};

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

bool IsNotReplayedYet(const Error& error) {
  return error.code == ErrorCode::kQuery &&
         (error.cause.IsSqlState("42P01") ||  // undefined_table
          error.cause.IsSqlState("3F000"));   // invalid_schema_name
}

namespace {

// The primary's outcome, handed from the writing thread to the standby readers.
class WriteOutcome {
 public:
  struct Committed {
    Heartbeat heartbeat;
    SteadyClock::time_point at;  // when the commit returned
  };

  void Publish(std::optional<Committed> committed) {
    {
      std::lock_guard lock(mutex_);
      committed_ = std::move(committed);
      published_ = true;
    }
    cv_.notify_all();
  }

  // The outcome; std::nullopt when the write failed, the deadline passed or stop was requested.
  std::optional<Committed> Wait(const Deadline& deadline, std::stop_token stop) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, stop, deadline.at(), [this] { return published_; });
    return published_ ? committed_ : std::nullopt;
  }

  // Sleeps until `until` or a stop request; false when stop was requested.
  bool Sleep(SteadyClock::time_point until, std::stop_token stop) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, stop, until, [] { return false; });
    return !stop.stop_requested();
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  bool published_ = false;
  std::optional<Committed> committed_;
};

class PgHeartbeatProbe final : public Probe {
 public:
  PgHeartbeatProbe(std::string cluster, std::shared_ptr<PgTopologySource> topology,
                   HeartbeatTable table, milliseconds max_poll_interval,
                   std::optional<double> max_lag_seconds)
      : cluster_(std::move(cluster)),
        topology_(std::move(topology)),
        table_(std::move(table)),
        write_sql_(HeartbeatWriteSql(table_, "local")),
        read_sql_(HeartbeatReadSql(table_)),
        max_poll_interval_(max_poll_interval),
        max_lag_seconds_(max_lag_seconds) {}

  const std::vector<MetricDesc>& Describe() const override { return HeartbeatMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    // Written on whichever member is primary now, read on every other member.
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    auto primary = (*topology)->WriteEndpoint();
    if (!primary) {
      result.Fail(primary.error());
      return result;
    }
    std::vector<PgEndpoint> standbys;
    for (const PgMember* member : (*topology)->Standbys()) standbys.push_back(member->endpoint);
    const auto budget = ctx.deadline.at() - SteadyClock::now();
    const Deadline read_until(ctx.deadline.at() -
                              std::min<SteadyClock::duration>(kReadMargin, budget / 10));
    WriteOutcome outcome;
    std::vector<StandbyReading> readings(standbys.size());
    std::vector<std::string> problems(standbys.size());
    std::optional<Committed> committed;
    {
      // Standbys connect while the primary writes, so their connect time is not counted as lag.
      std::vector<std::jthread> readers;
      readers.reserve(standbys.size());
      for (size_t i = 0; i < standbys.size(); ++i) {
        readers.emplace_back(
            [this, &ctx, &outcome, &readings, &problems, &standbys, read_until, i] {
              ReadStandby(standbys[i], ctx, read_until, outcome, readings[i], problems[i]);
            });
      }
      auto written = WritePrimary(*primary, ctx);
      if (written) committed = *written;
      outcome.Publish(committed);
      if (!written) {
        topology_->Invalidate();  // e.g. read-only (25006): the roles moved since resolved
        result.Fail(written.error());
      }
    }  // joins the readers: each returns by the deadline
    LogStandbyChanges(standbys, problems, ctx);
    if (!committed) return result;
    InterpretHeartbeat(cluster_, committed->heartbeat, readings, max_lag_seconds_, result);
    result.success = true;
    return result;
  }

 private:
  using Committed = WriteOutcome::Committed;

  Result<Committed> WritePrimary(const PgEndpoint& primary, const ProbeContext& ctx) {
    PgConnectOptions options;  // a direct connection: the server enforces the budget too
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(primary, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    if (!table_ready_) {
      auto ensured = EnsureHeartbeatTable(*session, table_, ctx.deadline, ctx.stop);
      if (!ensured) return ensured.error();
      table_ready_ = true;
    }
    auto rows = session->Query(write_sql_, ctx.deadline, ctx.stop);
    const auto at = SteadyClock::now();
    session->Close();
    if (!rows) {
      // The table may have been dropped: check it again on the next run.
      if (rows.error().code == ErrorCode::kQuery) table_ready_ = false;
      return MakeError(rows.error().code, "heartbeat write: " + rows.error().message);
    }
    auto heartbeat = ParseHeartbeatRow(*rows);
    if (!heartbeat) {
      return MakeError(heartbeat.error().code, "heartbeat write on " + primary.Describe() + ": " +
                                                   heartbeat.error().message);
    }
    if (!heartbeat->has_value()) {
      return MakeError(ErrorCode::kProtocol,
                       "heartbeat write on " + primary.Describe() + " returned no row");
    }
    return Committed{**heartbeat, at};
  }

  // A standby that stays down is reported by its metrics every run; the log says when it
  // went down (with the reason) and when it came back, not once per run.
  void LogStandbyChanges(const std::vector<PgEndpoint>& standbys,
                         const std::vector<std::string>& problems, const ProbeContext& ctx) {
    for (size_t i = 0; i < standbys.size(); ++i) {
      const bool failing = !problems[i].empty();
      bool& was_failing = standby_failing_[standbys[i].name];
      if (failing && !was_failing) {
        ctx.log.warn("pg_heartbeat {}: standby {}: {}", cluster_, standbys[i].name, problems[i]);
      } else if (!failing && was_failing) {
        ctx.log.info("pg_heartbeat {}: standby {}: readable again", cluster_, standbys[i].name);
      }
      was_failing = failing;
    }
  }

  void ReadStandby(const PgEndpoint& standby, const ProbeContext& ctx, Deadline read_until,
                   WriteOutcome& outcome, StandbyReading& reading, std::string& problem) {
    reading.name = standby.name;
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(standby, options, ctx.deadline, ctx.stop);
    if (!session) {
      problem = session.error().message;
      return;
    }
    auto committed = outcome.Wait(ctx.deadline, ctx.stop);
    if (!committed) return;  // the write failed: nothing is reported
    reading.up = true;
    const std::vector<PgValue> params = {table_.writer};
    milliseconds gap = kFirstPollGap;
    for (;;) {
      const auto sent = SteadyClock::now();
      auto rows = session->QueryParams(read_sql_, params, ctx.deadline, ctx.stop);
      if (!rows && !IsNotReplayedYet(rows.error())) {
        problem = rows.error().message;
        reading.up = false;
        return;
      }
      if (rows) {
        auto heartbeat = ParseHeartbeatRow(*rows);
        if (!heartbeat) {
          problem = heartbeat.error().message;
          reading.up = false;
          return;
        }
        reading.last_read_after = Seconds(sent - committed->at);
        if (heartbeat->has_value()) {
          reading.newest = **heartbeat;
          if ((*heartbeat)->seq >= committed->heartbeat.seq) {
            reading.seen_after = Seconds(SteadyClock::now() - committed->at);
            return;
          }
        }
      }
      if (read_until.Expired()) return;
      const auto wake = std::min(SteadyClock::now() + gap, read_until.at());
      if (!outcome.Sleep(wake, ctx.stop)) return;
      gap = std::min(gap * 2, max_poll_interval_);
    }
  }

  std::string cluster_;
  std::shared_ptr<PgTopologySource> topology_;
  HeartbeatTable table_;
  std::string write_sql_;
  std::string read_sql_;
  milliseconds max_poll_interval_;
  std::optional<double> max_lag_seconds_;
  // Per member name, as of the last run that read it as a standby. Runs of one probe never
  // overlap.
  std::map<std::string, bool> standby_failing_;
  bool table_ready_ = false;  // runs of one probe never overlap
};

}  // namespace

void ReadHeartbeatTableParams(YamlMap& params, HeartbeatTable& table) {
  if (auto writer = params.String("writer")) {
    if (!IsValidWriter(*writer)) {
      params.Fail("writer", "must be 1-63 characters of [A-Za-z0-9_.:-], got \"" + *writer + "\"");
    }
    table.writer = *writer;
  }
  for (auto [key, field] : {std::pair{"schema", &table.schema}, std::pair{"table", &table.table}}) {
    if (auto name = params.String(key)) {
      if (!IsValidPgIdentifier(*name)) {
        params.Fail(key,
                    "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 "
                    "bytes), got \"" +
                        *name + "\"");
      }
      *field = *name;
    }
  }
}

Status EnsureHeartbeatTable(PgSession& session, const HeartbeatTable& table, Deadline deadline,
                            std::stop_token stop) {
  auto check = session.Query(HeartbeatCheckSql(table), deadline, stop);
  if (!check)
    return MakeError(check.error().code, "heartbeat table check: " + check.error().message);
  auto schema_exists = check->Bool(0, "schema_exists");
  if (!schema_exists) return schema_exists.error();
  auto table_exists = check->Bool(0, "table_exists");
  if (!table_exists) return table_exists.error();
  if (table_exists->value_or(false)) return Ok{};
  auto created =
      session.Query(HeartbeatCreateSql(table, !schema_exists->value_or(false)), deadline, stop);
  if (!created) {
    return MakeError(created.error().code, "creating " + table.schema + "." + table.table + ": " +
                                               created.error().message);
  }
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreatePgHeartbeatProbe(const ProbeSettings& settings,
                                                      const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const PostgresCluster* cluster = config.FindCluster(settings.target);
    HeartbeatTable table;
    table.table = "heartbeat";
    milliseconds max_poll_interval = kDefaultMaxPollInterval;
    std::optional<double> max_lag_seconds;
    if (settings.params) {
      YamlMap& params = *settings.params;
      ReadHeartbeatTableParams(params, table);
      if (auto interval = params.Duration("max_poll_interval")) {
        if (*interval < milliseconds(1) || *interval > milliseconds(1000)) {
          params.Fail("max_poll_interval", "must be between 1ms and 1s");
        }
        max_poll_interval = *interval;
      }
      if (auto expect = params.Map("expect")) {
        max_lag_seconds = expect->Number("max_lag_seconds", 0, 86400);
        expect->Finish();
      }
      params.Finish();
    }
    // Only now: an error in the params is the one to report first.
    RequireTarget(settings, cluster, "pg_heartbeat: no postgres cluster");
    return std::unique_ptr<Probe>(
        std::make_unique<PgHeartbeatProbe>(cluster->name, PgTopologySource::For(*cluster, config),
                                           std::move(table), max_poll_interval, max_lag_seconds));
  });
}

}  // namespace dbcanary
