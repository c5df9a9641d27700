#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/deadline.h"
#include "core/result.h"
#include "probes/postgres/pg_topology.h"
#include "probes/probe.h"

namespace dbcanary {

// The members of a cluster right now: the configured list, or a discovery (Kubernetes).
using PgMemberLister =
    std::function<Result<std::vector<PgEndpoint>>(Deadline deadline, std::stop_token stop)>;

// Who was primary over time, as the resolutions saw it: a switchover is an event, not a failure.
struct PgRoleHistory {
  std::string primary;                     // the last single primary seen; empty before the first
  uint64_t primary_changes = 0;            // times the single primary became another member
  std::optional<double> last_change_unix;  // when the last change was seen, Unix seconds
};

// The topology of one cluster, shared by every pg probe of that cluster: one resolution (one
// connection per member) serves all the probes that run within `max_age` of it, and the role
// history is counted once.
class PgTopologySource {
 public:
  PgTopologySource(std::string cluster, PgMemberLister members,
                   std::optional<PgEndpoint> read_write, std::chrono::milliseconds max_age);

  // The source of `cluster`, shared with every probe built for the same cluster settings (a
  // reload that keeps them keeps the source and its history). Throws ConfigError when the
  // cluster discovers its members and the config has no kubernetes: section.
  static std::shared_ptr<PgTopologySource> For(const PostgresCluster& cluster,
                                               const Config& config);

  // The topology, resolved again when older than max_age or invalidated. Resolution takes at
  // most half of what is left of ctx.deadline. Fails only when the member list itself cannot
  // be had (discovery) or the run is stopped.
  Result<std::shared_ptr<const PgTopology>> Current(const ProbeContext& ctx);
  // The members right now, the list every resolution starts from: the configured instances, or
  // what the discovery sees (at most its refresh old). Drills take their members from here too.
  Result<std::vector<PgEndpoint>> Members(Deadline deadline, std::stop_token stop) const {
    return members_(deadline, std::move(stop));
  }
  // The next Current() resolves again (a probe found its primary read-only).
  void Invalidate();
  PgRoleHistory History() const;
  // Takes a resolution as the current topology and counts a change of the single primary (what
  // Current() does with each resolution it makes).
  void Observe(const PgTopology& topology, spdlog::logger& log);

 private:
  const std::string cluster_;
  const PgMemberLister members_;
  const std::optional<PgEndpoint> read_write_;
  const std::chrono::milliseconds max_age_;
  std::timed_mutex resolving_;  // one resolution at a time; the others wait for its result
  mutable std::mutex mutex_;    // guards what follows
  std::shared_ptr<const PgTopology> current_;
  PgRoleHistory history_;
};

// Samples of the role history (dbcanary_pg_primary_changes_total and
// dbcanary_pg_last_primary_change_timestamp_seconds) and of the current roles
// (dbcanary_pg_is_primary per member, dbcanary_pg_primaries), plus the expectations
// `has_primary` (at least one primary: "no primary" fails it) and `no_split_brain` (at most one).
// When no member answered: no sample, and only has_primary, failed with an unknown observation.
void ReportRoles(const PgTopology& topology, const PgRoleHistory& history, ProbeResult& result);
const std::vector<MetricDesc>& RoleMetricDescs();

inline constexpr std::string_view kPgIsPrimary = "dbcanary_pg_is_primary";
inline constexpr std::string_view kPgPrimaries = "dbcanary_pg_primaries";
inline constexpr std::string_view kPgPrimaryChanges = "dbcanary_pg_primary_changes_total";
inline constexpr std::string_view kPgLastPrimaryChange =
    "dbcanary_pg_last_primary_change_timestamp_seconds";

}  // namespace dbcanary
