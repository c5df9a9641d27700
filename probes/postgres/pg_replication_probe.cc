#include "probes/postgres/pg_replication_probe.h"

#include <utility>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_replication_rows.h"

namespace dbcanary {
namespace {

class PgReplicationProbe final : public Probe {
 public:
  PgReplicationProbe(PgEndpoint primary, ReplicationTopology topology)
      : primary_(std::move(primary)), topology_(std::move(topology)) {}

  const std::vector<MetricDesc>& Describe() const override { return ReplicationMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    // A direct connection, so the server can enforce the same budget on its side.
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(primary_, options, ctx.deadline, ctx.stop);
    if (!session) {
      result.Fail(session.error());
      return result;
    }
    auto rows = session->Query(kReplicationQuery, ctx.deadline, ctx.stop);
    session->Close();
    if (!rows) {
      result.Fail(rows.error());
      return result;
    }
    auto status = InterpretReplicationRows(topology_, *rows, result);
    if (!status) {
      result.Fail(
          MakeError(status.error().code, primary_.Describe() + ": " + status.error().message));
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  PgEndpoint primary_;
  ReplicationTopology topology_;
};

}  // namespace

Result<std::unique_ptr<Probe>> CreatePgReplicationProbe(const ProbeSettings& settings,
                                                        const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    if (settings.params) settings.params->Finish();  // no kind-specific keys (yet)
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_replication: no postgres cluster");
    ReplicationTopology topology;
    topology.cluster = cluster->name;
    topology.primary = cluster->primary.name;
    for (const auto& standby : cluster->standbys) topology.standbys.push_back(standby.name);
    topology.expect = cluster->expect;
    return std::unique_ptr<Probe>(
        std::make_unique<PgReplicationProbe>(cluster->primary, std::move(topology)));
  });
}

}  // namespace dbcanary
