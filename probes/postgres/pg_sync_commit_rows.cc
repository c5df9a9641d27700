#include "probes/postgres/pg_sync_commit_rows.h"

namespace dbcanary {

const std::vector<MetricDesc>& SyncCommitMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgSyncCommitDuration),
       "Seconds from sending the write to the primary until its synchronous COMMIT was "
       "acknowledged (one round trip: BEGIN, SET LOCAL synchronous_commit, upsert, COMMIT).",
       MetricType::kGauge},
      {std::string(kPgSyncCommitSuccess),
       "Whether the last synchronous commit was acknowledged within the run's deadline with "
       "synchronous replication configured (1) or not (0).",
       MetricType::kGauge},
  };
  return descs;
}

std::string_view SyncCommitOutcomeName(SyncCommitOutcome outcome) {
  switch (outcome) {
    case SyncCommitOutcome::kAcknowledged:
      return "acknowledged";
    case SyncCommitOutcome::kNotSynchronous:
      return "not_synchronous";
    case SyncCommitOutcome::kTimeout:
      return "timeout";
    case SyncCommitOutcome::kError:
      return "error";
  }
  return "error";
}

void InterpretSyncCommit(const std::string& cluster, SyncCommitOutcome outcome,
                         std::optional<double> duration_seconds, ProbeResult& out) {
  const Labels labels = {{"target", cluster}};
  const bool acknowledged = outcome == SyncCommitOutcome::kAcknowledged;
  out.Add(std::string(kPgSyncCommitSuccess), labels, acknowledged ? 1 : 0);
  const bool returned = acknowledged || outcome == SyncCommitOutcome::kNotSynchronous;
  if (returned && duration_seconds) {
    out.Add(std::string(kPgSyncCommitDuration), labels, *duration_seconds);
  }
  out.expectations.push_back(
      ExpectText("sync_commit", cluster, std::string(SyncCommitOutcomeName(outcome)),
                 std::string(SyncCommitOutcomeName(SyncCommitOutcome::kAcknowledged))));
}

}  // namespace dbcanary
