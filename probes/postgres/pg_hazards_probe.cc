#include "probes/postgres/pg_hazards_probe.h"

#include <utility>

#include "probes/postgres/pg_hazards_rows.h"
#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

class PgHazardsProbe final : public Probe {
 public:
  PgHazardsProbe(std::string target, std::shared_ptr<PgTopologySource> topology,
                 HazardBounds bounds)
      : target_(std::move(target)), topology_(std::move(topology)), bounds_(bounds) {}

  const std::vector<MetricDesc>& Describe() const override { return HazardMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto facts = Measure(ctx);
    if (!facts) {
      result.Fail(facts.error());
      return result;
    }
    ReportHazards(target_, bounds_, *facts, result);
    result.success = true;
    return result;
  }

 private:
  // The hazards are the primary's: whichever member is primary now.
  Result<HazardFacts> Measure(const ProbeContext& ctx) const {
    auto topology = topology_->Current(ctx);
    if (!topology) return topology.error();
    const PgMember* primary = (*topology)->Primary();
    if (primary == nullptr) return (*topology)->NoPrimary();
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(primary->endpoint, options, ctx.deadline, ctx.stop);
    if (!session) return session.error();
    HazardFacts facts;
    const std::pair<const char*, Status (*)(const PgTable&, HazardFacts&)> steps[] = {
        {kPgHazardsQuery, ParseHazardScalars},
        {kPgHazardsSlotsQuery, ParseHazardSlots},
        {kPgHazardsRolesQuery, ParseHazardRoles},
    };
    for (const auto& [sql, parse] : steps) {
      auto table = session->Query(sql, ctx.deadline, ctx.stop);
      if (!table) return table.error();
      if (auto parsed = parse(*table, facts); !parsed) {
        return MakeError(parsed.error().code,
                         primary->endpoint.Describe() + ": " + parsed.error().message);
      }
    }
    session->Close();
    return facts;
  }

  std::string target_;
  std::shared_ptr<PgTopologySource> topology_;
  HazardBounds bounds_;
};

}  // namespace

Result<std::unique_ptr<Probe>> CreatePgHazardsProbe(const ProbeSettings& settings,
                                                    const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    HazardBounds bounds;
    if (settings.params) {
      if (auto expect = settings.params->Map("expect")) {
        constexpr double kWraparound = 2147483647;  // 2^31 - 1: past it is wraparound
        const std::tuple<const char*, double*, double, double> keys[] = {
            {"max_xid_age", &bounds.max_xid_age, 0, kWraparound},
            {"max_multixact_age", &bounds.max_multixact_age, 0, kWraparound},
            {"max_inactive_slots", &bounds.max_inactive_slots, 0, 1e6},
            {"max_slot_retained_wal_bytes", &bounds.max_slot_retained_wal_bytes, 0, 1e15},
            {"max_archive_ready_segments", &bounds.max_archive_ready_segments, 0, 1e9},
            {"max_archive_ready_age_seconds", &bounds.max_archive_ready_age_seconds, 0, 1e9},
            {"max_connections_used_ratio", &bounds.max_connections_used_ratio, 0, 1},
            {"max_transaction_age_seconds", &bounds.max_transaction_age_seconds, 0, 1e9},
            {"max_idle_in_transaction_seconds", &bounds.max_idle_in_transaction_seconds, 0, 1e9},
        };
        for (const auto& [key, out, min, max] : keys) {
          if (auto value = expect->Number(key, min, max)) *out = *value;
        }
        expect->Finish();
      }
      settings.params->Finish();
    }
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_hazards: no postgres cluster");
    return std::unique_ptr<Probe>(std::make_unique<PgHazardsProbe>(
        cluster->name, PgTopologySource::For(*cluster, config), bounds));
  });
}

}  // namespace dbcanary
