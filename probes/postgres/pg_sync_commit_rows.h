#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metric.h"
#include "probes/probe.h"

// The pure half of the pg_sync_commit probe: its families and the interpretation of one
// synchronous commit attempt into samples and the `sync_commit` expectation.

namespace dbcanary {

inline constexpr std::string_view kPgSyncCommitDuration =
    "dbcanary_pg_sync_commit_duration_seconds";
inline constexpr std::string_view kPgSyncCommitSuccess = "dbcanary_pg_sync_commit_success";

// HELP/TYPE of both families.
const std::vector<MetricDesc>& SyncCommitMetricDescs();

// How one attempt ended.
enum class SyncCommitOutcome {
  kAcknowledged,    // COMMIT returned within the deadline
  kNotSynchronous,  // COMMIT returned, but the primary has no synchronous_standby_names: proves
                    // nothing
  kTimeout,         // no acknowledgement by the deadline (no synchronous standby available)
  kError,           // the write or the commit failed with an error
};

// The `observed` text of the sync_commit expectation for an outcome (bounded set).
std::string_view SyncCommitOutcomeName(SyncCommitOutcome outcome);

// Appends dbcanary_pg_sync_commit_success (1 only for kAcknowledged), the duration (when the
// commit returned: kAcknowledged, kNotSynchronous) and the expectation sync_commit (passes only
// for kAcknowledged) for `cluster`.
void InterpretSyncCommit(const std::string& cluster, SyncCommitOutcome outcome,
                         std::optional<double> duration_seconds, ProbeResult& out);

}  // namespace dbcanary
