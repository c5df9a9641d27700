#include "probes/postgres/pg_replication_probe.h"

#include <utility>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_replication_rows.h"
#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

const std::vector<MetricDesc>& Descs() {
  static const std::vector<MetricDesc> descs = [] {
    std::vector<MetricDesc> all = RoleMetricDescs();
    for (const auto& desc : ReplicationMetricDescs()) all.push_back(desc);
    return all;
  }();
  return descs;
}

class PgReplicationProbe final : public Probe {
 public:
  PgReplicationProbe(std::string cluster, PgClusterExpect expect,
                     std::shared_ptr<PgTopologySource> topology)
      : cluster_(std::move(cluster)), expect_(expect), topology_(std::move(topology)) {}

  const std::vector<MetricDesc>& Describe() const override { return Descs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    ReportRoles(**topology, topology_->History(), result);
    const PgMember* primary = (*topology)->Primary();
    if (primary == nullptr) {
      result.Fail((*topology)->NoPrimary());
      return result;
    }
    ReplicationTopology roles{cluster_, {}, expect_};
    for (const PgMember* standby : (*topology)->Standbys()) {
      roles.standbys.push_back(standby->endpoint.name);
    }
    auto status = Measure(primary->endpoint, roles, ctx, result);
    if (!status) {
      if (status.error().code == ErrorCode::kUnexpected) topology_->Invalidate();
      result.Fail(status.error());
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  static Status Measure(const PgEndpoint& primary, const ReplicationTopology& roles,
                        const ProbeContext& ctx, ProbeResult& result) {
    // A direct connection, so the server can enforce the same budget on its side.
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(primary, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    auto rows = session->Query(kReplicationQuery, ctx.deadline, ctx.stop);
    session->Close();
    if (!rows) return rows.error();
    auto status = InterpretReplicationRows(roles, *rows, result);
    if (!status) {
      return MakeError(status.error().code, primary.Describe() + ": " + status.error().message);
    }
    return Ok{};
  }

  std::string cluster_;
  PgClusterExpect expect_;
  std::shared_ptr<PgTopologySource> topology_;
};

}  // namespace

Result<std::unique_ptr<Probe>> CreatePgReplicationProbe(const ProbeSettings& settings,
                                                        const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    if (settings.params) settings.params->Finish();  // no kind-specific keys (yet)
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_replication: no postgres cluster");
    return std::unique_ptr<Probe>(std::make_unique<PgReplicationProbe>(
        cluster->name, cluster->expect, PgTopologySource::For(*cluster, config)));
  });
}

}  // namespace dbcanary
