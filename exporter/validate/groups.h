#pragma once

#include <span>
#include <string_view>

namespace dbcanary {

// The sections of the platform acceptance list (docs/validate.md), in report order.
// `validate`, its evidence files, JUnit suites and the status page all group by it.
enum class CheckGroup {
  kOperator,     // CloudNative-PG operator (AC1)
  kCluster,      // cluster health, replication, TLS, failover (AC2)
  kTenants,      // databases, owners, extensions, logins (AC3)
  kPoolers,      // PgBouncer poolers (AC4)
  kBackups,      // WAL archiving, base backups, restore (AC5)
  kDragonfly,    // Dragonfly operator and cluster (AC6, AC7)
  kPerformance,  // benchmarks (AC8)
  kMonitoring,   // the monitoring pipeline itself (AC9)
  kOther,        // a kind missing from the table below; shown only when used
};

// Whether a kind names a probe (probes: { KIND: ... }) or a drill (drills.jobs.KIND).
enum class CheckSource { kProbe, kDrill };

struct GroupInfo {
  CheckGroup group;
  std::string_view slug;   // file names and JSON/JUnit ids: "cluster", "poolers", ...
  std::string_view title;  // "Cluster and replication"
};

// Every group in report order, kOther last.
std::span<const GroupInfo> AllGroups();
const GroupInfo& GetGroupInfo(CheckGroup group);

struct KindGroup {
  CheckSource source;
  std::string_view kind;
  CheckGroup group;
};

// THE kind -> group table, including kinds that do not exist yet. One row per kind.
std::span<const KindGroup> KindGroups();
// The group of a probe or drill kind; kOther when it is not in the table.
CheckGroup GroupOfKind(CheckSource source, std::string_view kind);

std::string_view SourceName(CheckSource source);  // "probe" | "drill"

}  // namespace dbcanary
