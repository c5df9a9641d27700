#include "probes/postgres/pg_instance_probe.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

class PgInstanceProbe final : public Probe {
 public:
  PgInstanceProbe(std::string target, std::shared_ptr<PgTopologySource> topology,
                  std::optional<int64_t> expect_primaries)
      : target_(std::move(target)),
        topology_(std::move(topology)),
        expect_primaries_(expect_primaries) {}

  const std::vector<MetricDesc>& Describe() const override { return InstanceMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    std::vector<InstanceFacts> facts;
    std::optional<Error> first_error;
    for (const auto& member : (*topology)->members) {
      facts.push_back(member.facts);
      if (member.error) {
        ctx.log.debug("{}: {}", member.endpoint.Describe(), member.error->message);
        if (!first_error) first_error = member.error;
      }
    }
    ReportInstanceFacts(target_, facts, expect_primaries_, result);
    // A stopped instance is an observation (up 0); only a run where nothing answered failed.
    if ((*topology)->Answering() == 0 && first_error) {
      result.Fail(*first_error);
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  std::string target_;
  std::shared_ptr<PgTopologySource> topology_;
  std::optional<int64_t> expect_primaries_;
};

}  // namespace

const std::vector<MetricDesc>& InstanceMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgServerUp), "Whether the instance accepted a connection and answered (1/0).",
       MetricType::kGauge},
      {std::string(kPgServerInfo),
       "Always 1 for an answering instance; labels carry its version and system identifier.",
       MetricType::kGauge},
      {std::string(kPgServerVersionNum), "server_version_num of the instance (150018 for 15.18).",
       MetricType::kGauge},
      {std::string(kPgInRecovery), "Whether the instance is in recovery, i.e. a standby (1/0).",
       MetricType::kGauge},
      {std::string(kPgTimelineId),
       "Timeline of the instance: last checkpoint's on a primary, received on a standby.",
       MetricType::kGauge},
      {std::string(kPgPostmasterStart), "When the instance's postmaster started, Unix seconds.",
       MetricType::kGauge},
  };
  return descs;
}

void ReportInstanceFacts(const std::string& target, const std::vector<InstanceFacts>& facts,
                         std::optional<int64_t> expect_primaries, ProbeResult& result) {
  std::set<std::string> system_ids;
  int64_t primaries = 0;
  for (const auto& fact : facts) {
    Labels labels = {{"target", target}, {"server", fact.server}};
    result.Add(std::string(kPgServerUp), labels, fact.up ? 1 : 0);
    if (!fact.up) continue;
    system_ids.insert(fact.system_identifier);
    if (!fact.in_recovery) ++primaries;
    result.Add(std::string(kPgServerInfo),
               {{"target", target},
                {"server", fact.server},
                {"version", fact.version},
                {"system_identifier", fact.system_identifier}},
               1);
    result.Add(std::string(kPgServerVersionNum), labels, fact.version_num);
    result.Add(std::string(kPgInRecovery), labels, fact.in_recovery ? 1 : 0);
    if (!std::isnan(fact.timeline)) result.Add(std::string(kPgTimelineId), labels, fact.timeline);
    result.Add(std::string(kPgPostmasterStart), labels, fact.start_time);
  }
  // With nothing answering there is nothing to compare: observed stays unknown (fails).
  const double distinct = system_ids.empty() ? std::numeric_limits<double>::quiet_NaN()
                                             : static_cast<double>(system_ids.size());
  auto consistent = ExpectNumber("consistent_system_id", target, distinct, "==", 1);
  if (!system_ids.empty()) {
    consistent.observed_text = std::to_string(system_ids.size()) + " distinct";
    for (const auto& id : system_ids) consistent.observed_text += " " + id;
  }
  result.expectations.push_back(std::move(consistent));
  if (expect_primaries) {
    result.expectations.push_back(ExpectNumber("primaries", target, static_cast<double>(primaries),
                                               "==", static_cast<double>(*expect_primaries)));
  }
}

Result<std::unique_ptr<Probe>> CreatePgInstanceProbe(const ProbeSettings& settings,
                                                     const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    std::optional<int64_t> primaries;
    if (settings.params) {
      if (auto expect = settings.params->Map("expect")) {
        primaries = expect->Int("primaries", 0, 1000);
        expect->Finish();
      }
      settings.params->Finish();
    }
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_instance: no postgres cluster");
    return std::unique_ptr<Probe>(std::make_unique<PgInstanceProbe>(
        cluster->name, PgTopologySource::For(*cluster, config), primaries));
  });
}

}  // namespace dbcanary
