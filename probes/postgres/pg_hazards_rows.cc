#include "probes/postgres/pg_hazards_rows.h"

#include <algorithm>
#include <utility>

#include "core/number_format.h"

namespace dbcanary {
namespace {

constexpr char kXidAge[] = "dbcanary_pg_xid_age";
constexpr char kMultixactAge[] = "dbcanary_pg_multixact_age";
constexpr char kFreezeMaxAge[] = "dbcanary_pg_autovacuum_freeze_max_age";
constexpr char kSlotActive[] = "dbcanary_pg_replication_slot_active";
constexpr char kSlotRetained[] = "dbcanary_pg_replication_slot_retained_wal_bytes";
constexpr char kArchiveReady[] = "dbcanary_pg_archive_ready_segments";
constexpr char kArchiveOldestReady[] = "dbcanary_pg_archive_oldest_ready_timestamp_seconds";
constexpr char kConnections[] = "dbcanary_pg_connections";
constexpr char kConnectionsAvailable[] = "dbcanary_pg_connections_available";
constexpr char kRoleConnections[] = "dbcanary_pg_role_connections";
constexpr char kRoleConnectionLimit[] = "dbcanary_pg_role_connection_limit";
constexpr char kOldestXact[] = "dbcanary_pg_oldest_transaction_start_timestamp_seconds";
constexpr char kOldestIdleInXact[] = "dbcanary_pg_oldest_idle_in_transaction_timestamp_seconds";

// A NULL number is 0 for the counts and ages of these queries (max() over no row).
Status ReadNumber(const PgTable& table, size_t row, const char* column, double& out) {
  auto value = table.Number(row, column);
  if (!value) return value.error();
  out = value->value_or(0);
  return Ok{};
}

Status ReadOptional(const PgTable& table, size_t row, const char* column,
                    std::optional<double>& out) {
  auto value = table.Number(row, column);
  if (!value) return value.error();
  out = *value;
  return Ok{};
}

double AgeAt(double now, std::optional<double> since) {
  return since ? std::max(0.0, now - *since) : 0;
}

}  // namespace

const std::vector<MetricDesc>& HazardMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kXidAge, "Transaction ID age of the oldest database (max age(datfrozenxid)).",
       MetricType::kGauge},
      {kMultixactAge, "Multixact ID age of the oldest database (max mxid_age(datminmxid)).",
       MetricType::kGauge},
      {kFreezeMaxAge, "The autovacuum_freeze_max_age setting (anti-wraparound vacuum starts).",
       MetricType::kGauge},
      {kSlotActive, "Whether a replication slot has a consumer connected (1/0).",
       MetricType::kGauge},
      {kSlotRetained,
       "WAL a replication slot keeps from removal (current LSN minus restart_lsn); absent for a "
       "slot that reserves none.",
       MetricType::kGauge},
      {kArchiveReady, "WAL segments waiting to be archived (.ready in archive_status).",
       MetricType::kGauge},
      {kArchiveOldestReady,
       "When the oldest waiting WAL segment became ready to archive, Unix seconds; absent when "
       "none waits.",
       MetricType::kGauge},
      {kConnections, "Client connections open on the primary (pg_stat_activity client backends).",
       MetricType::kGauge},
      {kConnectionsAvailable,
       "Connections open to non-superusers: max_connections - superuser_reserved_connections.",
       MetricType::kGauge},
      {kRoleConnections, "Client connections of a login role that has a connection limit.",
       MetricType::kGauge},
      {kRoleConnectionLimit, "The role's own connection limit (rolconnlimit).", MetricType::kGauge},
      {kOldestXact,
       "When the oldest open transaction of another session started, Unix seconds; absent when "
       "none is open.",
       MetricType::kGauge},
      {kOldestIdleInXact,
       "Since when the longest idle-in-transaction session has been idle, Unix seconds; absent "
       "when none is.",
       MetricType::kGauge},
  };
  return descs;
}

Status ParseHazardScalars(const PgTable& table, HazardFacts& facts) {
  if (table.size() != 1) {
    return MakeError(ErrorCode::kProtocol,
                     "hazards query returned " + std::to_string(table.size()) + " rows, want 1");
  }
  for (auto [column, out] :
       {std::pair{"xid_age", &facts.xid_age}, std::pair{"multixact_age", &facts.multixact_age},
        std::pair{"freeze_max_age", &facts.freeze_max_age},
        std::pair{"ready_segments", &facts.archive_ready_segments},
        std::pair{"connections_in_use", &facts.connections_in_use},
        std::pair{"connections_available", &facts.connections_available},
        std::pair{"server_now", &facts.server_now}}) {
    if (auto read = ReadNumber(table, 0, column, *out); !read) return read;
  }
  for (auto [column, out] : {std::pair{"oldest_ready", &facts.oldest_ready},
                             std::pair{"oldest_xact_start", &facts.oldest_xact_start},
                             std::pair{"oldest_idle_in_xact", &facts.oldest_idle_in_xact}}) {
    if (auto read = ReadOptional(table, 0, column, *out); !read) return read;
  }
  return Ok{};
}

Status ParseHazardSlots(const PgTable& table, HazardFacts& facts) {
  for (size_t row = 0; row < table.size(); ++row) {
    SlotFacts slot;
    auto name = table.Text(row, "slot_name");
    if (!name) return name.error();
    auto active = table.Bool(row, "active");
    if (!active) return active.error();
    slot.name = name->value_or("");
    slot.active = active->value_or(false);
    if (auto read = ReadOptional(table, row, "retained_bytes", slot.retained_bytes); !read)
      return read;
    facts.slots.push_back(std::move(slot));
  }
  return Ok{};
}

Status ParseHazardRoles(const PgTable& table, HazardFacts& facts) {
  for (size_t row = 0; row < table.size(); ++row) {
    RoleConnectionFacts role;
    auto name = table.Text(row, "rolname");
    if (!name) return name.error();
    role.role = name->value_or("");
    if (auto read = ReadNumber(table, row, "connection_limit", role.limit); !read) return read;
    if (auto read = ReadNumber(table, row, "in_use", role.in_use); !read) return read;
    facts.roles.push_back(std::move(role));
  }
  return Ok{};
}

namespace {

void ReportSlots(const std::string& target, const HazardBounds& bounds, const HazardFacts& facts,
                 ProbeResult& result) {
  double inactive_holding = 0;
  double most_retained = 0;
  std::string inactive_names;
  std::string most_retained_slot;
  for (const auto& slot : facts.slots) {
    const Labels labels = {{"target", target}, {"slot", slot.name}};
    result.Add(kSlotActive, labels, slot.active ? 1 : 0);
    if (!slot.retained_bytes) continue;  // reserves no WAL: holds nothing back
    result.Add(kSlotRetained, labels, *slot.retained_bytes);
    if (!slot.active) {
      ++inactive_holding;
      inactive_names += (inactive_names.empty() ? "" : ", ") + slot.name;
    }
    if (*slot.retained_bytes > most_retained) {
      most_retained = *slot.retained_bytes;
      most_retained_slot = slot.name;
    }
  }
  auto inactive =
      ExpectNumber("max_inactive_slots", target, inactive_holding, "<=", bounds.max_inactive_slots);
  if (!inactive_names.empty()) inactive.observed_text += " (" + inactive_names + ")";
  result.expectations.push_back(std::move(inactive));
  auto retained = ExpectNumber("max_slot_retained_wal_bytes", target, most_retained,
                               "<=", bounds.max_slot_retained_wal_bytes);
  if (!most_retained_slot.empty()) retained.observed_text += " (" + most_retained_slot + ")";
  result.expectations.push_back(std::move(retained));
}

void ReportConnections(const std::string& target, const HazardBounds& bounds,
                       const HazardFacts& facts, ProbeResult& result) {
  result.Add(kConnections, {{"target", target}}, facts.connections_in_use);
  result.Add(kConnectionsAvailable, {{"target", target}}, facts.connections_available);
  const double used =
      facts.connections_available > 0 ? facts.connections_in_use / facts.connections_available : 1;
  auto cluster = ExpectNumber("max_connections_used_ratio", target, used,
                              "<=", bounds.max_connections_used_ratio);
  cluster.observed_text = FormatValue(facts.connections_in_use) + " of " +
                          FormatValue(facts.connections_available) + " (" + FormatValue(used) + ")";
  result.expectations.push_back(std::move(cluster));

  // The fullest role against its own limit; a limit of 0 allows no login at all.
  double worst = 0;
  std::string worst_text = "no role has a connection limit";
  for (const auto& role : facts.roles) {
    const Labels labels = {{"target", target}, {"role", role.role}};
    result.Add(kRoleConnections, labels, role.in_use);
    result.Add(kRoleConnectionLimit, labels, role.limit);
    const double ratio = role.limit > 0 ? role.in_use / role.limit : (role.in_use > 0 ? 1 : 0);
    if (ratio >= worst) {
      worst = ratio;
      worst_text = role.role + ": " + FormatValue(role.in_use) + " of " + FormatValue(role.limit);
    }
  }
  auto per_role = ExpectNumber("max_role_connections_used_ratio", target, worst,
                               "<=", bounds.max_connections_used_ratio);
  per_role.observed_text = FormatValue(worst) + " (" + worst_text + ")";
  result.expectations.push_back(std::move(per_role));
}

}  // namespace

void ReportHazards(const std::string& target, const HazardBounds& bounds, const HazardFacts& facts,
                   ProbeResult& result) {
  const Labels labels = {{"target", target}};
  result.Add(kXidAge, labels, facts.xid_age);
  result.Add(kMultixactAge, labels, facts.multixact_age);
  result.Add(kFreezeMaxAge, labels, facts.freeze_max_age);
  result.expectations.push_back(
      ExpectNumber("max_xid_age", target, facts.xid_age, "<=", bounds.max_xid_age));
  result.expectations.push_back(ExpectNumber("max_multixact_age", target, facts.multixact_age,
                                             "<=", bounds.max_multixact_age));

  ReportSlots(target, bounds, facts, result);

  result.Add(kArchiveReady, labels, facts.archive_ready_segments);
  if (facts.oldest_ready) result.Add(kArchiveOldestReady, labels, *facts.oldest_ready);
  result.expectations.push_back(ExpectNumber("max_archive_ready_segments", target,
                                             facts.archive_ready_segments,
                                             "<=", bounds.max_archive_ready_segments));
  result.expectations.push_back(ExpectNumber("max_archive_ready_age_seconds", target,
                                             AgeAt(facts.server_now, facts.oldest_ready),
                                             "<=", bounds.max_archive_ready_age_seconds));

  ReportConnections(target, bounds, facts, result);

  if (facts.oldest_xact_start) result.Add(kOldestXact, labels, *facts.oldest_xact_start);
  if (facts.oldest_idle_in_xact) result.Add(kOldestIdleInXact, labels, *facts.oldest_idle_in_xact);
  result.expectations.push_back(ExpectNumber("max_transaction_age_seconds", target,
                                             AgeAt(facts.server_now, facts.oldest_xact_start),
                                             "<=", bounds.max_transaction_age_seconds));
  result.expectations.push_back(ExpectNumber("max_idle_in_transaction_seconds", target,
                                             AgeAt(facts.server_now, facts.oldest_idle_in_xact),
                                             "<=", bounds.max_idle_in_transaction_seconds));
}

}  // namespace dbcanary
