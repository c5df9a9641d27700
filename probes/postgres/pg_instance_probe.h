#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_topology.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_instance", target: a postgres.clusters[] entry. Each run reports, for every member as
// the cluster's topology resolution saw it (probes/postgres/pg_topology.h: one connection and
// one query per member), its version, timeline, postmaster start time, system identifier and
// recovery state (docs/probes/pg_instance.md). Params: `expect: { primaries: N }` (optional).
Result<std::unique_ptr<Probe>> CreatePgInstanceProbe(const ProbeSettings& settings,
                                                     const Config& config);

inline constexpr std::string_view kPgServerUp = "dbcanary_pg_server_up";
inline constexpr std::string_view kPgServerInfo = "dbcanary_pg_server_info";
inline constexpr std::string_view kPgServerVersionNum = "dbcanary_pg_server_version_num";
inline constexpr std::string_view kPgInRecovery = "dbcanary_pg_in_recovery";
inline constexpr std::string_view kPgTimelineId = "dbcanary_pg_timeline_id";
inline constexpr std::string_view kPgPostmasterStart =
    "dbcanary_pg_postmaster_start_timestamp_seconds";

const std::vector<MetricDesc>& InstanceMetricDescs();

// Samples of every instance and the expectations `consistent_system_id` (always) and
// `primaries` (when declared), about the cluster `target`.
void ReportInstanceFacts(const std::string& target, const std::vector<InstanceFacts>& facts,
                         std::optional<int64_t> expect_primaries, ProbeResult& result);

}  // namespace dbcanary
