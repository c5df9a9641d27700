#include "probes/postgres/pg_instance_probe.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

namespace dbcanary {
namespace {

class PgInstanceProbe final : public Probe {
 public:
  PgInstanceProbe(std::string target, std::vector<PgEndpoint> instances,
                  std::optional<int64_t> expect_primaries)
      : target_(std::move(target)),
        instances_(std::move(instances)),
        expect_primaries_(expect_primaries) {}

  const std::vector<MetricDesc>& Describe() const override { return InstanceMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    std::vector<InstanceFacts> facts;
    std::optional<Error> first_error;
    for (size_t i = 0; i < instances_.size(); ++i) {
      const PgEndpoint& instance = instances_[i];
      // A fair share of what is left, so one hung instance cannot starve the others.
      const auto left = ctx.deadline.Remaining();
      const Deadline deadline = Deadline::In(left / static_cast<int64_t>(instances_.size() - i));
      InstanceFacts fact;
      fact.server = instance.name;
      auto status = Measure(instance, deadline, ctx, fact);
      if (!status) {
        ctx.log.debug("{}: {}", instance.Describe(), status.error().message);
        if (!first_error) first_error = status.error();
      }
      facts.push_back(std::move(fact));
    }
    ReportInstanceFacts(target_, facts, expect_primaries_, result);
    bool any_up = false;
    for (const auto& fact : facts) any_up = any_up || fact.up;
    // A stopped instance is an observation (up 0); only a run where nothing answered failed.
    if (!any_up && first_error) {
      result.Fail(*first_error);
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  static Status Measure(const PgEndpoint& instance, Deadline deadline, const ProbeContext& ctx,
                        InstanceFacts& fact) {
    PgConnectOptions options;
    options.statement_timeout = deadline.Remaining();
    auto session = PgSession::Connect(instance, options, deadline, ctx.stop);
    if (!session) return session.error();
    auto table = session->Query(kPgInstanceQuery, deadline, ctx.stop);
    session->Close();
    if (!table) return table.error();
    auto parsed = ParseInstanceRow(*table, fact);
    if (!parsed) {
      return MakeError(parsed.error().code, instance.Describe() + ": " + parsed.error().message);
    }
    fact.up = true;
    return Ok{};
  }

  std::string target_;
  std::vector<PgEndpoint> instances_;
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

Status ParseInstanceRow(const PgTable& table, InstanceFacts& facts) {
  if (table.size() != 1) {
    return MakeError(ErrorCode::kProtocol,
                     "instance query returned " + std::to_string(table.size()) + " rows, want 1");
  }
  auto version = table.Text(0, "version");
  auto version_num = table.Number(0, "version_num");
  auto in_recovery = table.Bool(0, "in_recovery");
  auto start_time = table.Number(0, "start_time");
  auto system_id = table.Text(0, "system_identifier");
  auto timeline = table.Number(0, "timeline");
  for (const Error* error :
       {version ? nullptr : &version.error(), version_num ? nullptr : &version_num.error(),
        in_recovery ? nullptr : &in_recovery.error(), start_time ? nullptr : &start_time.error(),
        system_id ? nullptr : &system_id.error(), timeline ? nullptr : &timeline.error()}) {
    if (error != nullptr) return *error;
  }
  if (!version->has_value() || !version_num->has_value() || !in_recovery->has_value() ||
      !start_time->has_value() || !system_id->has_value()) {
    return MakeError(ErrorCode::kProtocol, "instance query returned NULL facts");
  }
  const std::string& full = **version;
  facts.version = full.substr(0, full.find(' '));
  facts.version_num = **version_num;
  facts.in_recovery = **in_recovery;
  facts.start_time = **start_time;
  facts.system_identifier = **system_id;
  facts.timeline = timeline->value_or(std::numeric_limits<double>::quiet_NaN());
  return Ok{};
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
    std::vector<PgEndpoint> instances = {cluster->primary};
    instances.insert(instances.end(), cluster->standbys.begin(), cluster->standbys.end());
    return std::unique_ptr<Probe>(
        std::make_unique<PgInstanceProbe>(cluster->name, std::move(instances), primaries));
  });
}

}  // namespace dbcanary
