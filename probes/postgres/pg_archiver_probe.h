#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_archiver", target: a postgres.clusters[] entry. Each run connects to the member that is
// primary now (probes/postgres/pg_topology_source.h) and
// reads pg_stat_archiver with the archiving settings in one query (docs/probes/pg_archiver.md).
// Params: none besides interval/timeout.
Result<std::unique_ptr<Probe>> CreatePgArchiverProbe(const ProbeSettings& settings,
                                                     const Config& config);

inline constexpr std::string_view kPgArchiverArchived = "dbcanary_pg_archiver_archived_total";
inline constexpr std::string_view kPgArchiverFailed = "dbcanary_pg_archiver_failed_total";
inline constexpr std::string_view kPgArchiverLastArchived =
    "dbcanary_pg_archiver_last_archived_timestamp_seconds";
inline constexpr std::string_view kPgArchiverLastFailed =
    "dbcanary_pg_archiver_last_failed_timestamp_seconds";
inline constexpr std::string_view kPgArchiverEnabled = "dbcanary_pg_archiver_enabled";

// archive_library exists from PostgreSQL 15 on, the only version this project targets.
inline constexpr char kPgArchiverQuery[] =
    "SELECT archived_count, failed_count,"
    " extract(epoch FROM last_archived_time) AS last_archived_time,"
    " extract(epoch FROM last_failed_time) AS last_failed_time,"
    " current_setting('archive_mode') AS archive_mode,"
    " current_setting('archive_command') AS archive_command,"
    " current_setting('archive_library') AS archive_library"
    " FROM pg_stat_archiver";

struct ArchiverFacts {
  double archived_count = 0;
  double failed_count = 0;
  std::optional<double> last_archived;  // Unix seconds; nullopt when never
  std::optional<double> last_failed;
  bool enabled = false;  // archive_mode on/always and a command or library set
};

const std::vector<MetricDesc>& ArchiverMetricDescs();

Result<ArchiverFacts> ParseArchiverRow(const PgTable& table);

// Whether archiving works: enabled, and no failure newer than the last success.
bool ArchivingHealthy(const ArchiverFacts& facts);

// Samples and the `archiving_healthy` expectation about the cluster `target`.
void ReportArchiverFacts(const std::string& target, const ArchiverFacts& facts,
                         ProbeResult& result);

}  // namespace dbcanary
