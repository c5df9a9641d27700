#include "probes/postgres/pg_sync_commit_probe.h"

#include <chrono>
#include <utility>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_heartbeat_probe.h"
#include "probes/postgres/pg_heartbeat_rows.h"
#include "probes/postgres/pg_sync_commit_rows.h"
#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

// The server-side statement_timeout is the run's budget plus this: the client's deadline always
// acts first (cancel + close), and the server's timeout only ends a backend whose cancel request
// was lost. Were the server first, a statement timeout during the synchronous-replication wait
// would make PostgreSQL return COMMIT with a WARNING ("the transaction has already committed
// locally"), an acknowledgement that proves nothing.
constexpr std::chrono::milliseconds kServerTimeoutSlack{1000};

class PgSyncCommitProbe final : public Probe {
 public:
  PgSyncCommitProbe(std::string cluster, std::shared_ptr<PgTopologySource> topology,
                    HeartbeatTable table, const std::string& level)
      : cluster_(std::move(cluster)),
        topology_(std::move(topology)),
        table_(std::move(table)),
        write_sql_(HeartbeatWriteSql(table_, level)) {}

  const std::vector<MetricDesc>& Describe() const override { return SyncCommitMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    // Committed on whichever member is primary now (or through the read_write endpoint).
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    auto primary = (*topology)->WriteEndpoint();
    if (!primary) {
      InterpretSyncCommit(cluster_, SyncCommitOutcome::kError, std::nullopt, result);
      result.Fail(primary.error());
      return result;
    }

    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining() + kServerTimeoutSlack;
    auto session = PgSession::Connect(*primary, options, ctx.deadline, ctx.stop);
    if (!session) {
      result.Fail(session.error());
      return result;
    }
    if (!table_ready_) {
      auto ensured = EnsureHeartbeatTable(*session, table_, ctx.deadline, ctx.stop);
      if (!ensured) {
        result.Fail(ensured.error());
        return result;
      }
      table_ready_ = true;
    }
    const auto started = SteadyClock::now();
    // At the deadline Query() sends a cancel request and closes the connection.
    auto rows = session->Query(write_sql_, ctx.deadline, ctx.stop);
    const double seconds = SecondsSince(started);
    session->Close();
    if (!rows) {
      const bool timeout = rows.error().code == ErrorCode::kTimeout;
      if (rows.error().code == ErrorCode::kQuery) table_ready_ = false;
      topology_->Invalidate();  // e.g. read-only (25006): the roles moved since resolved
      InterpretSyncCommit(cluster_,
                          timeout ? SyncCommitOutcome::kTimeout : SyncCommitOutcome::kError,
                          std::nullopt, result);
      result.Fail(rows.error().code,
                  (timeout ? "synchronous commit not acknowledged: " : "synchronous commit: ") +
                      rows.error().message);
      return result;
    }
    auto names = rows->Text(0, "standby_names");
    if (!names) {
      result.Fail(MakeError(names.error().code,
                            primary->Describe() + ": sync commit: " + names.error().message));
      return result;
    }
    const bool synchronous = names->has_value() && !(*names)->empty();
    if (!synchronous) {
      ctx.log.warn(
          "pg_sync_commit {}: synchronous_standby_names is empty on {}: the commit "
          "proves nothing",
          cluster_, primary->Describe());
    }
    InterpretSyncCommit(
        cluster_,
        synchronous ? SyncCommitOutcome::kAcknowledged : SyncCommitOutcome::kNotSynchronous,
        seconds, result);
    result.success = true;
    return result;
  }

 private:
  std::string cluster_;
  std::shared_ptr<PgTopologySource> topology_;
  HeartbeatTable table_;
  std::string write_sql_;
  bool table_ready_ = false;  // runs of one probe never overlap
};

}  // namespace

Result<std::unique_ptr<Probe>> CreatePgSyncCommitProbe(const ProbeSettings& settings,
                                                       const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    HeartbeatTable table;
    table.table = "sync_commit";
    std::string level = "on";
    if (settings.params) {
      YamlMap& params = *settings.params;
      ReadHeartbeatTableParams(params, table);
      if (auto value = params.Enum("level", {"on", "remote_write", "remote_apply"})) level = *value;
      params.Finish();
    }
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_sync_commit: no postgres cluster");
    return std::unique_ptr<Probe>(std::make_unique<PgSyncCommitProbe>(
        cluster->name, PgTopologySource::For(*cluster, config), std::move(table), level));
  });
}

}  // namespace dbcanary
