#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/probe.h"

namespace dbcanary {

// What pg_hazards reads on the primary and how it is judged. The rows of its three queries are
// parsed and reported here so the probe file only connects and runs them.

// One query of scalars: wraparound ages, the archive status directory, connections in use and
// the oldest open transactions, with the server's own clock for the ages.
inline constexpr char kPgHazardsQuery[] =
    "SELECT"
    " (SELECT max(age(datfrozenxid)) FROM pg_database) AS xid_age,"
    " (SELECT max(mxid_age(datminmxid)) FROM pg_database) AS multixact_age,"
    " current_setting('autovacuum_freeze_max_age')::float8 AS freeze_max_age,"
    " r.ready_segments, extract(epoch FROM r.oldest_ready) AS oldest_ready,"
    " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    "   AS connections_in_use,"
    " current_setting('max_connections')::float8"
    "   - current_setting('superuser_reserved_connections')::float8 AS connections_available,"
    " (SELECT extract(epoch FROM min(xact_start)) FROM pg_stat_activity"
    "   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) AS oldest_xact_start,"
    " (SELECT extract(epoch FROM min(state_change)) FROM pg_stat_activity"
    "   WHERE backend_type = 'client backend'"
    "   AND state IN ('idle in transaction', 'idle in transaction (aborted)'))"
    "   AS oldest_idle_in_xact,"
    " extract(epoch FROM clock_timestamp()) AS server_now"
    " FROM (SELECT count(*) AS ready_segments, min(modification) AS oldest_ready"
    "   FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') r";

// restart_lsn is NULL for a slot that reserves no WAL: it retains nothing.
inline constexpr char kPgHazardsSlotsQuery[] =
    "SELECT slot_name, active,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) AS retained_bytes"
    " FROM pg_replication_slots ORDER BY slot_name";

// Login roles with their own connection limit (rolconnlimit -1 = none).
inline constexpr char kPgHazardsRolesQuery[] =
    "SELECT r.rolname, r.rolconnlimit AS connection_limit, count(a.pid) AS in_use"
    " FROM pg_roles r LEFT JOIN pg_stat_activity a"
    "   ON a.usesysid = r.oid AND a.backend_type = 'client backend'"
    " WHERE r.rolcanlogin AND r.rolconnlimit >= 0"
    " GROUP BY r.rolname, r.rolconnlimit ORDER BY r.rolname";

// The declared bounds; the defaults and why they were chosen are in docs/configuration.md.
struct HazardBounds {
  double max_xid_age = 1.0e9;
  double max_multixact_age = 1.0e9;
  double max_inactive_slots = 0;
  double max_slot_retained_wal_bytes = 1024.0 * 1024 * 1024;
  double max_archive_ready_segments = 10;
  double max_archive_ready_age_seconds = 300;
  double max_connections_used_ratio = 0.8;
  double max_transaction_age_seconds = 3600;
  double max_idle_in_transaction_seconds = 300;
};

struct SlotFacts {
  std::string name;
  bool active = false;
  std::optional<double> retained_bytes;  // nullopt when the slot reserves no WAL
};

struct RoleConnectionFacts {
  std::string role;
  double limit = 0;
  double in_use = 0;
};

struct HazardFacts {
  double xid_age = 0;
  double multixact_age = 0;
  double freeze_max_age = 0;
  double archive_ready_segments = 0;
  std::optional<double> oldest_ready;  // Unix seconds the oldest waiting segment became ready
  double connections_in_use = 0;
  double connections_available = 0;           // max_connections - superuser_reserved_connections
  std::optional<double> oldest_xact_start;    // Unix seconds
  std::optional<double> oldest_idle_in_xact;  // Unix seconds the session went idle
  double server_now = 0;                      // the server's clock, Unix seconds
  std::vector<SlotFacts> slots;
  std::vector<RoleConnectionFacts> roles;
};

const std::vector<MetricDesc>& HazardMetricDescs();

// Each fills its part of `facts` from the rows of its query.
Status ParseHazardScalars(const PgTable& table, HazardFacts& facts);
Status ParseHazardSlots(const PgTable& table, HazardFacts& facts);
Status ParseHazardRoles(const PgTable& table, HazardFacts& facts);

// Samples (label target = cluster; slot and role where they apply) and one expectation per
// bound, each named as its key in `expect:` and about the cluster `target`.
void ReportHazards(const std::string& target, const HazardBounds& bounds, const HazardFacts& facts,
                   ProbeResult& result);

}  // namespace dbcanary
