#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"
#include "probes/postgres/pg_topology_source.h"

// Cluster health as drills need it: before they start (preconditions) and while they
// wait for a cluster to heal (a failover drill waits for its standbys to stream again).

namespace dbcanary {

// Where a drill finds the members of a cluster, asked again at every use: the configured
// instances, or for a `discover:` cluster the pods its discovery sees now (the member source the
// probes share, PgTopologySource), so a pod replaced with a new IP during a drill is followed.
class ClusterMembers {
 public:
  // Throws ConfigError when the cluster discovers its members and `config` has no kubernetes:
  // section (the loader refuses that already).
  ClusterMembers(const PostgresCluster& cluster, const Config& config);

  const PostgresCluster& settings() const { return settings_; }
  bool discovered() const { return source_ != nullptr; }
  // The cluster's settings with `instances` set to its members now; the health functions below
  // take this. Fails when the discovery cannot list them (the API server refuses, times out).
  Result<PostgresCluster> Now(const DrillContext& ctx) const;
  // The same as a member lister (the drill lock's).
  PgMemberLister Lister() const;

 private:
  PostgresCluster settings_;
  std::shared_ptr<PgTopologySource> source_;  // null: the configured instances
};

// What every instance of a PostgreSQL cluster (`cluster.instances`) says right now.
struct PgClusterHealth {
  // Configured name of the instance that is primary now (a failover may have moved it
  // away from the configured `primary:`); empty when none answered as primary.
  std::string primary;
  int primaries = 0;                       // instances answering as primary (1 is healthy)
  std::vector<std::string> unreachable;    // configured instances that did not answer
  std::vector<std::string> streaming;      // configured standbys streaming from `primary`
  std::vector<std::string> not_streaming;  // configured standbys that are not
  int sync_standbys = 0;                   // sync_state 'sync' or 'quorum'
  std::string replication_table;           // pg_stat_replication on `primary`, for evidence
};

// Asks every configured instance (primary and standbys), each bounded by the deadline.
// Fails only when no instance answered at all.
Result<PgClusterHealth> InspectPostgresCluster(const PostgresCluster& cluster,
                                               const DrillContext& ctx);

// The connection settings of the instance that is primary now.
Result<PgEndpoint> FindCurrentPrimary(const PostgresCluster& cluster, const DrillContext& ctx);

// Refuses (kUnexpected, naming what is wrong) unless exactly one instance is primary,
// every configured standby (or expect.min_streaming_standbys, when set) streams from it,
// and at least expect.min_sync_standbys (default 1 when standbys are configured) are
// synchronous.
Status CheckPostgresHealthy(const PostgresCluster& cluster, const DrillContext& ctx);

// Refuses unless the master answers PING with role master and every configured replica
// reports master_link_status:up.
Status CheckDragonflyHealthy(const Dragonfly& dragonfly, const DrillContext& ctx);

}  // namespace dbcanary
