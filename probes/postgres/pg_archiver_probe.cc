#include "probes/postgres/pg_archiver_probe.h"

#include <utility>

#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

class PgArchiverProbe final : public Probe {
 public:
  PgArchiverProbe(std::string target, std::shared_ptr<PgTopologySource> topology)
      : target_(std::move(target)), topology_(std::move(topology)) {}

  const std::vector<MetricDesc>& Describe() const override { return ArchiverMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    // The primary archives: whichever member is primary now.
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    const PgMember* primary = (*topology)->Primary();
    if (primary == nullptr) {
      result.Fail((*topology)->NoPrimary());
      return result;
    }
    const PgEndpoint& endpoint = primary->endpoint;
    PgConnectOptions options;
    options.statement_timeout = ctx.deadline.Remaining();
    auto session = PgSession::Connect(endpoint, options, ctx.deadline, ctx.stop);
    if (!session) {
      result.Fail(session.error());
      return result;
    }
    auto table = session->Query(kPgArchiverQuery, ctx.deadline, ctx.stop);
    session->Close();
    if (!table) {
      result.Fail(table.error());
      return result;
    }
    auto facts = ParseArchiverRow(*table);
    if (!facts) {
      result.Fail(facts.error().code, endpoint.Describe() + ": " + facts.error().message);
      return result;
    }
    ReportArchiverFacts(target_, *facts, result);
    result.success = true;
    return result;
  }

 private:
  std::string target_;
  std::shared_ptr<PgTopologySource> topology_;
};

}  // namespace

const std::vector<MetricDesc>& ArchiverMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgArchiverArchived), "WAL files archived since the statistics were reset.",
       MetricType::kCounter},
      {std::string(kPgArchiverFailed), "Failed WAL archiving attempts since statistics reset.",
       MetricType::kCounter},
      {std::string(kPgArchiverLastArchived),
       "When the last WAL file was archived, Unix seconds; absent when none ever was.",
       MetricType::kGauge},
      {std::string(kPgArchiverLastFailed),
       "When the last archiving attempt failed, Unix seconds; absent when none ever did.",
       MetricType::kGauge},
      {std::string(kPgArchiverEnabled),
       "Whether archive_mode is on/always and archive_command or archive_library is set (1/0).",
       MetricType::kGauge},
  };
  return descs;
}

Result<ArchiverFacts> ParseArchiverRow(const PgTable& table) {
  if (table.size() != 1) {
    return MakeError(ErrorCode::kProtocol,
                     "pg_stat_archiver returned " + std::to_string(table.size()) + " rows, want 1");
  }
  ArchiverFacts facts;
  auto archived = table.Number(0, "archived_count");
  if (!archived) return archived.error();
  auto failed = table.Number(0, "failed_count");
  if (!failed) return failed.error();
  auto last_archived = table.Number(0, "last_archived_time");
  if (!last_archived) return last_archived.error();
  auto last_failed = table.Number(0, "last_failed_time");
  if (!last_failed) return last_failed.error();
  auto mode = table.Text(0, "archive_mode");
  if (!mode) return mode.error();
  auto command = table.Text(0, "archive_command");
  if (!command) return command.error();
  auto library = table.Text(0, "archive_library");
  if (!library) return library.error();
  if (!archived->has_value() || !failed->has_value()) {
    return MakeError(ErrorCode::kProtocol, "pg_stat_archiver counts are NULL");
  }
  facts.archived_count = **archived;
  facts.failed_count = **failed;
  facts.last_archived = *last_archived;
  facts.last_failed = *last_failed;
  const std::string mode_text = mode->value_or("");
  const bool mode_on = mode_text == "on" || mode_text == "always";
  const bool has_command = !command->value_or("").empty() || !library->value_or("").empty();
  facts.enabled = mode_on && has_command;
  return facts;
}

bool ArchivingHealthy(const ArchiverFacts& facts) {
  if (!facts.enabled) return false;
  if (!facts.last_failed) return true;
  return facts.last_archived && *facts.last_archived >= *facts.last_failed;
}

void ReportArchiverFacts(const std::string& target, const ArchiverFacts& facts,
                         ProbeResult& result) {
  Labels labels = {{"target", target}};
  result.Add(std::string(kPgArchiverArchived), labels, facts.archived_count);
  result.Add(std::string(kPgArchiverFailed), labels, facts.failed_count);
  if (facts.last_archived) {
    result.Add(std::string(kPgArchiverLastArchived), labels, *facts.last_archived);
  }
  if (facts.last_failed) result.Add(std::string(kPgArchiverLastFailed), labels, *facts.last_failed);
  result.Add(std::string(kPgArchiverEnabled), labels, facts.enabled ? 1 : 0);

  const bool healthy = ArchivingHealthy(facts);
  auto check = ExpectNumber("archiving_healthy", target, healthy ? 1 : 0, "==", 1);
  if (!facts.enabled) {
    check.observed_text = "archiving disabled";
  } else if (!healthy) {
    check.observed_text = "last failure newer than last success";
  } else {
    check.observed_text = "healthy";
  }
  check.expected_text = "enabled, no failure newer than the last success";
  result.expectations.push_back(std::move(check));
}

Result<std::unique_ptr<Probe>> CreatePgArchiverProbe(const ProbeSettings& settings,
                                                     const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    if (settings.params) settings.params->Finish();
    const PostgresCluster* cluster = RequireTarget(settings, config.FindCluster(settings.target),
                                                   "pg_archiver: no postgres cluster");
    return std::unique_ptr<Probe>(
        std::make_unique<PgArchiverProbe>(cluster->name, PgTopologySource::For(*cluster, config)));
  });
}

}  // namespace dbcanary
