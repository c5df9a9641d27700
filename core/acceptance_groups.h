#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dbcanary {

// The sections of the platform acceptance list (docs/validate.md), in report order.
// `validate`, its evidence files, JUnit suites and the status page all group by it; the
// config names them (by slug) in `validate.skip`.
enum class CheckGroup {
  kOperator,     // CloudNative-PG operator (AC1)
  kCluster,      // cluster health, replication, TLS, failover (AC2)
  kTenants,      // databases, owners, extensions, logins (AC3)
  kPoolers,      // PgBouncer poolers (AC4)
  kBackups,      // WAL archiving, base backups, restore (AC5)
  kDragonfly,    // Dragonfly operator and cluster (AC6, AC7)
  kPerformance,  // benchmarks (AC8)
  kMonitoring,   // the monitoring pipeline itself (AC9)
  kOther,        // a kind missing from the kind table; shown only when used
};

struct GroupInfo {
  CheckGroup group;
  std::string_view slug;   // file names, JSON/JUnit ids and validate.skip: "cluster", ...
  std::string_view title;  // "Cluster and replication"
};

// Every group in report order, kOther last.
std::span<const GroupInfo> AllGroups();
const GroupInfo& GetGroupInfo(CheckGroup group);
// The group with this slug; kOther ("other") is not one a user can name.
std::optional<CheckGroup> FindGroupBySlug(std::string_view slug);
// "operator, cluster, ..." for error messages.
const std::string& GroupSlugList();

}  // namespace dbcanary
