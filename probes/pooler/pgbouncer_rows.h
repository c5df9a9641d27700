#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "core/metric.h"
#include "core/result.h"
#include "probes/probe.h"

// The pure half of the pooler_admin probe: PgBouncer admin console rows (SHOW POOLS, STATS,
// LISTS, DATABASES, CONFIG, VERSION) into samples, and the declared pooler settings into
// expectations. Columns are read by name: PgBouncer renamed and added columns across versions
// (total_requests -> total_query_count in 1.8, cl_cancel_req split in 1.18...), so unknown columns
// are ignored and a missing required one is kProtocol naming it. Rows of the admin pseudo-database
// "pgbouncer" are skipped. Every Interpret* function leaves `out` unchanged on error.

namespace dbcanary {

// SHOW POOLS, per database and user.
inline constexpr std::string_view kPgbClientActive =
    "dbcanary_pgbouncer_pool_client_active_connections";
inline constexpr std::string_view kPgbClientWaiting =
    "dbcanary_pgbouncer_pool_client_waiting_connections";
inline constexpr std::string_view kPgbServerActive =
    "dbcanary_pgbouncer_pool_server_active_connections";
inline constexpr std::string_view kPgbServerIdle =
    "dbcanary_pgbouncer_pool_server_idle_connections";
inline constexpr std::string_view kPgbServerUsed =
    "dbcanary_pgbouncer_pool_server_used_connections";
inline constexpr std::string_view kPgbMaxWait = "dbcanary_pgbouncer_pool_max_wait_seconds";
// SHOW STATS, per database (counters since PgBouncer started).
inline constexpr std::string_view kPgbTransactions = "dbcanary_pgbouncer_transactions_total";
inline constexpr std::string_view kPgbQueries = "dbcanary_pgbouncer_queries_total";
inline constexpr std::string_view kPgbReceivedBytes = "dbcanary_pgbouncer_received_bytes_total";
inline constexpr std::string_view kPgbSentBytes = "dbcanary_pgbouncer_sent_bytes_total";
inline constexpr std::string_view kPgbTransactionSeconds =
    "dbcanary_pgbouncer_transaction_seconds_total";
inline constexpr std::string_view kPgbQuerySeconds = "dbcanary_pgbouncer_query_seconds_total";
inline constexpr std::string_view kPgbWaitSeconds = "dbcanary_pgbouncer_client_wait_seconds_total";
// SHOW LISTS.
inline constexpr std::string_view kPgbListItems = "dbcanary_pgbouncer_list_items";
// SHOW DATABASES, per database.
inline constexpr std::string_view kPgbDbPoolSize = "dbcanary_pgbouncer_database_pool_size";
inline constexpr std::string_view kPgbDbMaxConnections =
    "dbcanary_pgbouncer_database_max_connections";
inline constexpr std::string_view kPgbDbCurrentConnections =
    "dbcanary_pgbouncer_database_current_connections";
inline constexpr std::string_view kPgbDbPoolMode = "dbcanary_pgbouncer_database_pool_mode";
inline constexpr std::string_view kPgbDbPaused = "dbcanary_pgbouncer_database_paused";
// SHOW CONFIG.
inline constexpr std::string_view kPgbConfigMaxClientConn =
    "dbcanary_pgbouncer_config_max_client_conn";
inline constexpr std::string_view kPgbConfigDefaultPoolSize =
    "dbcanary_pgbouncer_config_default_pool_size";
inline constexpr std::string_view kPgbConfigMaxDbConnections =
    "dbcanary_pgbouncer_config_max_db_connections";
inline constexpr std::string_view kPgbConfigPoolMode = "dbcanary_pgbouncer_config_pool_mode";
// SHOW VERSION.
inline constexpr std::string_view kPgbVersionInfo = "dbcanary_pgbouncer_version_info";

// HELP/TYPE of every family above.
const std::vector<MetricDesc>& PgBouncerMetricDescs();

// The pool modes PgBouncer knows: the values of the `pool_mode` label (a state set).
const std::vector<std::string>& PgBouncerPoolModes();

// Settings of SHOW CONFIG the drift checks compare.
struct PgBouncerSettings {
  std::string pool_mode;
  double max_client_conn = 0;
  double default_pool_size = 0;
  double max_db_connections = 0;
};

// What SHOW POOLS and SHOW DATABASES said that the expectations need.
struct PgBouncerObserved {
  std::optional<double> max_wait_seconds;                     // largest maxwait over the pools
  std::optional<std::vector<std::string>> backend_databases;  // SHOW DATABASES "database"
};

Status InterpretPools(const std::string& target, const PgTable& rows, ProbeResult& out,
                      PgBouncerObserved& observed);
Status InterpretStats(const std::string& target, const PgTable& rows, ProbeResult& out);
Status InterpretLists(const std::string& target, const PgTable& rows, ProbeResult& out);
// `default_pool_mode` (from SHOW CONFIG) stands in for a database whose pool_mode is empty.
Status InterpretDatabases(const std::string& target, const PgTable& rows,
                          const std::string& default_pool_mode, ProbeResult& out,
                          PgBouncerObserved& observed);
Result<PgBouncerSettings> InterpretConfig(const std::string& target, const PgTable& rows,
                                          ProbeResult& out);
Status InterpretVersion(const std::string& target, const PgTable& rows, ProbeResult& out);

// Declared settings of one pooler (params `expect:` of pooler_admin); each set one is checked.
struct PgBouncerExpect {
  std::optional<std::string> pool_mode;
  std::optional<int64_t> max_client_conn;
  std::optional<int64_t> default_pool_size;
  std::optional<int64_t> max_db_connections;
  std::optional<std::string> database;  // the backend database the pooler routes to
  std::optional<double> max_wait_seconds;
};

// Appends one expectation per declared setting that was observed: pool_mode, max_client_conn,
// default_pool_size, max_db_connections (needs `settings`), pooler_database (needs
// observed.backend_databases), max_wait_seconds (needs observed.max_wait_seconds). A setting
// that could not be observed (its SHOW failed) gives no expectation: the probe failed.
void AppendPgBouncerExpectations(const std::string& target, const PgBouncerExpect& expect,
                                 const std::optional<PgBouncerSettings>& settings,
                                 const PgBouncerObserved& observed, ProbeResult& out);

}  // namespace dbcanary
