#include "probes/pooler/pgbouncer_rows.h"

#include <algorithm>
#include <utility>

namespace dbcanary {
namespace {

constexpr char kAdminDatabase[] = "pgbouncer";

// A parse failure of one SHOW command, naming the target and the command.
Error Failed(const std::string& target, std::string_view show, const Error& error) {
  return MakeError(error.code,
                   "pooler_admin " + target + ": " + std::string(show) + ": " + error.message);
}

// Checks that every column in `required` is there, so that an empty result with the wrong
// column set fails as loudly as a full one.
Status RequireColumns(const PgTable& rows, const std::vector<std::string_view>& required) {
  for (auto column : required) {
    auto index = rows.ColumnIndex(column);
    if (!index) return index.error();
  }
  return Ok{};
}

bool HasColumn(const PgTable& rows, std::string_view column) {
  return rows.ColumnIndex(column).has_value();
}

// A non-NULL number; kProtocol otherwise.
Result<double> Number(const PgTable& rows, size_t row, std::string_view column) {
  auto value = rows.Number(row, column);
  if (!value) return value.error();
  if (!*value) {
    return MakeError(ErrorCode::kProtocol, "column \"" + std::string(column) + "\" is NULL");
  }
  return **value;
}

// Text of a cell, NULL as "".
Result<std::string> Text(const PgTable& rows, size_t row, std::string_view column) {
  auto value = rows.Text(row, column);
  if (!value) return value.error();
  return value->value_or("");
}

bool KnownPoolMode(const std::string& mode) {
  const auto& modes = PgBouncerPoolModes();
  return std::find(modes.begin(), modes.end(), mode) != modes.end();
}

void AddPoolModeSet(ProbeResult& out, std::string_view family, const Labels& labels,
                    const std::string& current) {
  for (const auto& mode : PgBouncerPoolModes()) {
    Labels with_mode = labels;
    with_mode.emplace_back("pool_mode", mode);
    out.Add(std::string(family), std::move(with_mode), mode == current ? 1 : 0);
  }
}

// One numeric column of a row into one sample; `scale` converts units (microseconds -> s).
struct ColumnMetric {
  std::string_view column;
  std::string_view family;
  double scale = 1;
};

// Reads `metrics` of every non-admin row into `staged`; the database label is `key_column`.
Status ReadNumericRows(const PgTable& rows, const std::string& target, std::string_view key_column,
                       const std::vector<std::string_view>& extra_label_columns,
                       const std::vector<ColumnMetric>& metrics, ProbeResult& staged) {
  for (size_t row = 0; row < rows.size(); ++row) {
    auto database = Text(rows, row, key_column);
    if (!database) return database.error();
    if (*database == kAdminDatabase) continue;
    Labels labels = {{"target", target}, {"database", *database}};
    for (auto column : extra_label_columns) {
      auto value = Text(rows, row, column);
      if (!value) return value.error();
      labels.emplace_back(std::string(column), *value);
    }
    for (const auto& metric : metrics) {
      auto value = Number(rows, row, metric.column);
      if (!value) return value.error();
      staged.Add(std::string(metric.family), labels, *value * metric.scale);
    }
  }
  return Ok{};
}

void Append(ProbeResult& staged, ProbeResult& out) {
  for (auto& sample : staged.samples) out.samples.push_back(std::move(sample));
}

}  // namespace

const std::vector<std::string>& PgBouncerPoolModes() {
  static const std::vector<std::string> modes = {"session", "transaction", "statement"};
  return modes;
}

const std::vector<MetricDesc>& PgBouncerMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgbClientActive),
       "Client connections of the pool that are linked to a server connection or idle (SHOW POOLS "
       "cl_active).",
       MetricType::kGauge},
      {std::string(kPgbClientWaiting),
       "Client connections of the pool that sent a query and wait for a server connection (SHOW "
       "POOLS cl_waiting).",
       MetricType::kGauge},
      {std::string(kPgbServerActive),
       "Server connections of the pool linked to a client (SHOW POOLS sv_active).",
       MetricType::kGauge},
      {std::string(kPgbServerIdle),
       "Server connections of the pool unused and ready for a client (SHOW POOLS sv_idle).",
       MetricType::kGauge},
      {std::string(kPgbServerUsed),
       "Server connections of the pool idle longer than server_check_delay, to be checked before "
       "reuse (SHOW POOLS sv_used).",
       MetricType::kGauge},
      {std::string(kPgbMaxWait),
       "How long the oldest waiting client of the pool has waited, in seconds (SHOW POOLS maxwait "
       "+ maxwait_us).",
       MetricType::kGauge},
      {std::string(kPgbTransactions),
       "Transactions pooled by PgBouncer for the database since it started (SHOW STATS "
       "total_xact_count).",
       MetricType::kCounter},
      {std::string(kPgbQueries),
       "Queries pooled by PgBouncer for the database since it started (SHOW STATS "
       "total_query_count, total_requests before 1.8).",
       MetricType::kCounter},
      {std::string(kPgbReceivedBytes),
       "Bytes of network traffic received by PgBouncer from clients of the database (SHOW STATS "
       "total_received).",
       MetricType::kCounter},
      {std::string(kPgbSentBytes),
       "Bytes of network traffic sent by PgBouncer to clients of the database (SHOW STATS "
       "total_sent).",
       MetricType::kCounter},
      {std::string(kPgbTransactionSeconds),
       "Seconds spent by PgBouncer connected to the server in a transaction for the database "
       "(SHOW STATS total_xact_time).",
       MetricType::kCounter},
      {std::string(kPgbQuerySeconds),
       "Seconds spent by PgBouncer actively connected to the server running queries for the "
       "database (SHOW STATS total_query_time).",
       MetricType::kCounter},
      {std::string(kPgbWaitSeconds),
       "Seconds clients of the database spent waiting for a server connection (SHOW STATS "
       "total_wait_time).",
       MetricType::kCounter},
      {std::string(kPgbListItems),
       "Items of PgBouncer's internal lists: databases, users, pools, free/used/login clients, "
       "free/used servers (SHOW LISTS).",
       MetricType::kGauge},
      {std::string(kPgbDbPoolSize),
       "Maximum server connections per user of the database (SHOW DATABASES pool_size).",
       MetricType::kGauge},
      {std::string(kPgbDbMaxConnections),
       "Maximum server connections of the database over all users, 0 for no limit (SHOW "
       "DATABASES max_connections, from max_db_connections).",
       MetricType::kGauge},
      {std::string(kPgbDbCurrentConnections),
       "Server connections of the database open now (SHOW DATABASES current_connections).",
       MetricType::kGauge},
      {std::string(kPgbDbPoolMode),
       "Pool mode in effect for the database (the database's own, else the global pool_mode): 1 "
       "for the current mode, 0 for the others.",
       MetricType::kGauge},
      {std::string(kPgbDbPaused),
       "Whether the database is paused by PAUSE on the admin console (SHOW DATABASES paused).",
       MetricType::kGauge},
      {std::string(kPgbConfigMaxClientConn), "PgBouncer's max_client_conn setting (SHOW CONFIG).",
       MetricType::kGauge},
      {std::string(kPgbConfigDefaultPoolSize),
       "PgBouncer's default_pool_size setting (SHOW CONFIG).", MetricType::kGauge},
      {std::string(kPgbConfigMaxDbConnections),
       "PgBouncer's max_db_connections setting, 0 for no limit (SHOW CONFIG).", MetricType::kGauge},
      {std::string(kPgbConfigPoolMode),
       "PgBouncer's global pool_mode setting (SHOW CONFIG): 1 for the current mode, 0 for the "
       "others.",
       MetricType::kGauge},
      {std::string(kPgbVersionInfo), "PgBouncer's version (SHOW VERSION), always 1.",
       MetricType::kGauge},
  };
  return descs;
}

Status InterpretPools(const std::string& target, const PgTable& rows, ProbeResult& out,
                      PgBouncerObserved& observed) {
  constexpr std::string_view kShow = "SHOW POOLS";
  auto checked = RequireColumns(rows, {"database", "user", "cl_active", "cl_waiting", "sv_active",
                                       "sv_idle", "sv_used", "maxwait"});
  if (!checked) return Failed(target, kShow, checked.error());
  const bool has_us = HasColumn(rows, "maxwait_us");  // PgBouncer >= 1.8
  ProbeResult staged;
  auto read = ReadNumericRows(rows, target, "database", {"user"},
                              {{"cl_active", kPgbClientActive},
                               {"cl_waiting", kPgbClientWaiting},
                               {"sv_active", kPgbServerActive},
                               {"sv_idle", kPgbServerIdle},
                               {"sv_used", kPgbServerUsed}},
                              staged);
  if (!read) return Failed(target, kShow, read.error());
  double max_wait = 0;
  for (size_t row = 0; row < rows.size(); ++row) {
    auto database = Text(rows, row, "database");
    auto user = Text(rows, row, "user");
    if (!database || !user) return Failed(target, kShow, (!database ? database : user).error());
    if (*database == kAdminDatabase) continue;
    auto seconds = Number(rows, row, "maxwait");
    if (!seconds) return Failed(target, kShow, seconds.error());
    double wait = *seconds;
    if (has_us) {
      auto micros = Number(rows, row, "maxwait_us");
      if (!micros) return Failed(target, kShow, micros.error());
      wait += *micros / 1e6;
    }
    max_wait = std::max(max_wait, wait);
    staged.Add(std::string(kPgbMaxWait),
               {{"target", target}, {"database", *database}, {"user", *user}}, wait);
  }
  Append(staged, out);
  observed.max_wait_seconds = max_wait;
  return Ok{};
}

Status InterpretStats(const std::string& target, const PgTable& rows, ProbeResult& out) {
  constexpr std::string_view kShow = "SHOW STATS";
  constexpr double kMicro = 1e-6;
  // Required in every version; the query count was total_requests before PgBouncer 1.8, which
  // also added the transaction count and times.
  auto checked =
      RequireColumns(rows, {"database", "total_received", "total_sent", "total_query_time"});
  if (!checked) return Failed(target, kShow, checked.error());
  std::vector<ColumnMetric> metrics = {{"total_received", kPgbReceivedBytes},
                                       {"total_sent", kPgbSentBytes},
                                       {"total_query_time", kPgbQuerySeconds, kMicro}};
  if (HasColumn(rows, "total_query_count")) {
    metrics.push_back({"total_query_count", kPgbQueries});
  } else if (HasColumn(rows, "total_requests")) {
    metrics.push_back({"total_requests", kPgbQueries});
  } else {
    return Failed(target, kShow,
                  MakeError(ErrorCode::kProtocol,
                            "result has no column \"total_query_count\" (nor \"total_requests\")"));
  }
  if (HasColumn(rows, "total_xact_count"))
    metrics.push_back({"total_xact_count", kPgbTransactions});
  if (HasColumn(rows, "total_xact_time")) {
    metrics.push_back({"total_xact_time", kPgbTransactionSeconds, kMicro});
  }
  if (HasColumn(rows, "total_wait_time")) {
    metrics.push_back({"total_wait_time", kPgbWaitSeconds, kMicro});
  }
  ProbeResult staged;
  auto read = ReadNumericRows(rows, target, "database", {}, metrics, staged);
  if (!read) return Failed(target, kShow, read.error());
  Append(staged, out);
  return Ok{};
}

Status InterpretLists(const std::string& target, const PgTable& rows, ProbeResult& out) {
  constexpr std::string_view kShow = "SHOW LISTS";
  static const std::vector<std::string> kLists = {"databases",    "users",        "pools",
                                                  "free_clients", "used_clients", "login_clients",
                                                  "free_servers", "used_servers"};
  auto checked = RequireColumns(rows, {"list", "items"});
  if (!checked) return Failed(target, kShow, checked.error());
  ProbeResult staged;
  std::vector<bool> seen(kLists.size(), false);
  for (size_t row = 0; row < rows.size(); ++row) {
    auto list = Text(rows, row, "list");
    if (!list) return Failed(target, kShow, list.error());
    auto known = std::find(kLists.begin(), kLists.end(), *list);
    if (known == kLists.end()) continue;  // dns_* and whatever later versions add
    auto items = Number(rows, row, "items");
    if (!items) return Failed(target, kShow, items.error());
    seen[known - kLists.begin()] = true;
    staged.Add(std::string(kPgbListItems), {{"target", target}, {"list", *list}}, *items);
  }
  for (size_t i = 0; i < kLists.size(); ++i) {
    // login_clients appeared in 1.8; the others are there in every version.
    if (!seen[i] && kLists[i] != "login_clients") {
      return Failed(target, kShow,
                    MakeError(ErrorCode::kProtocol, "no row for list \"" + kLists[i] + "\""));
    }
  }
  Append(staged, out);
  return Ok{};
}

Status InterpretDatabases(const std::string& target, const PgTable& rows,
                          const std::string& default_pool_mode, ProbeResult& out,
                          PgBouncerObserved& observed) {
  constexpr std::string_view kShow = "SHOW DATABASES";
  auto checked = RequireColumns(rows, {"name", "database", "pool_size", "pool_mode",
                                       "max_connections", "current_connections"});
  if (!checked) return Failed(target, kShow, checked.error());
  std::vector<ColumnMetric> metrics = {{"pool_size", kPgbDbPoolSize},
                                       {"max_connections", kPgbDbMaxConnections},
                                       {"current_connections", kPgbDbCurrentConnections}};
  if (HasColumn(rows, "paused")) metrics.push_back({"paused", kPgbDbPaused});  // 1.10+
  ProbeResult staged;
  auto read = ReadNumericRows(rows, target, "name", {}, metrics, staged);
  if (!read) return Failed(target, kShow, read.error());
  std::vector<std::string> backends;
  for (size_t row = 0; row < rows.size(); ++row) {
    auto name = Text(rows, row, "name");
    if (!name) return Failed(target, kShow, name.error());
    if (*name == kAdminDatabase) continue;
    auto mode = Text(rows, row, "pool_mode");
    auto backend = Text(rows, row, "database");
    if (!mode || !backend) return Failed(target, kShow, (!mode ? mode : backend).error());
    std::string effective = mode->empty() ? default_pool_mode : *mode;
    if (!KnownPoolMode(effective)) {
      return Failed(target, kShow,
                    MakeError(ErrorCode::kProtocol, "unknown pool_mode \"" + effective + "\""));
    }
    AddPoolModeSet(staged, kPgbDbPoolMode, {{"target", target}, {"database", *name}}, effective);
    backends.push_back(*backend);
  }
  Append(staged, out);
  observed.backend_databases = std::move(backends);
  return Ok{};
}

Result<PgBouncerSettings> InterpretConfig(const std::string& target, const PgTable& rows,
                                          ProbeResult& out) {
  constexpr std::string_view kShow = "SHOW CONFIG";
  auto checked = RequireColumns(rows, {"key", "value"});
  if (!checked) return Failed(target, kShow, checked.error());
  std::optional<std::string> pool_mode;
  std::optional<double> max_client_conn, default_pool_size, max_db_connections;
  for (size_t row = 0; row < rows.size(); ++row) {
    auto key = Text(rows, row, "key");
    if (!key) return Failed(target, kShow, key.error());
    std::optional<double>* number = nullptr;
    if (*key == "max_client_conn") number = &max_client_conn;
    if (*key == "default_pool_size") number = &default_pool_size;
    if (*key == "max_db_connections") number = &max_db_connections;
    if (number != nullptr) {
      auto value = Number(rows, row, "value");
      if (!value) return Failed(target, kShow, value.error());
      *number = *value;
    } else if (*key == "pool_mode") {
      auto value = Text(rows, row, "value");
      if (!value) return Failed(target, kShow, value.error());
      pool_mode = *value;
    }
  }
  auto missing = [&](const char* key) {
    return Failed(
        target, kShow,
        MakeError(ErrorCode::kProtocol, "no row for setting \"" + std::string(key) + "\""));
  };
  if (!pool_mode) return missing("pool_mode");
  if (!max_client_conn) return missing("max_client_conn");
  if (!default_pool_size) return missing("default_pool_size");
  if (!max_db_connections) return missing("max_db_connections");
  if (!KnownPoolMode(*pool_mode)) {
    return Failed(target, kShow,
                  MakeError(ErrorCode::kProtocol, "unknown pool_mode \"" + *pool_mode + "\""));
  }
  PgBouncerSettings settings{*pool_mode, *max_client_conn, *default_pool_size, *max_db_connections};
  Labels labels = {{"target", target}};
  out.Add(std::string(kPgbConfigMaxClientConn), labels, settings.max_client_conn);
  out.Add(std::string(kPgbConfigDefaultPoolSize), labels, settings.default_pool_size);
  out.Add(std::string(kPgbConfigMaxDbConnections), labels, settings.max_db_connections);
  AddPoolModeSet(out, kPgbConfigPoolMode, labels, settings.pool_mode);
  return settings;
}

Status InterpretVersion(const std::string& target, const PgTable& rows, ProbeResult& out) {
  constexpr std::string_view kShow = "SHOW VERSION";
  auto checked = RequireColumns(rows, {"version"});
  if (!checked) return Failed(target, kShow, checked.error());
  if (rows.size() != 1) {
    return Failed(
        target, kShow,
        MakeError(ErrorCode::kProtocol, "expected 1 row, got " + std::to_string(rows.size())));
  }
  auto text = Text(rows, 0, "version");
  if (!text) return Failed(target, kShow, text.error());
  std::string version = *text;
  constexpr std::string_view kPrefix = "PgBouncer ";
  if (version.starts_with(kPrefix)) version.erase(0, kPrefix.size());
  // A label value: keep it short and one line whatever the server says.
  if (version.size() > 64) version.resize(64);
  std::replace(version.begin(), version.end(), '\n', ' ');
  out.Add(std::string(kPgbVersionInfo), {{"target", target}, {"version", version}}, 1);
  return Ok{};
}

void AppendPgBouncerExpectations(const std::string& target, const PgBouncerExpect& expect,
                                 const std::optional<PgBouncerSettings>& settings,
                                 const PgBouncerObserved& observed, ProbeResult& out) {
  auto& list = out.expectations;
  if (settings) {
    if (expect.pool_mode) {
      list.push_back(ExpectText("pool_mode", target, settings->pool_mode, *expect.pool_mode));
    }
    if (expect.max_client_conn) {
      list.push_back(ExpectNumber("max_client_conn", target, settings->max_client_conn,
                                  "==", static_cast<double>(*expect.max_client_conn)));
    }
    if (expect.default_pool_size) {
      list.push_back(ExpectNumber("default_pool_size", target, settings->default_pool_size,
                                  "==", static_cast<double>(*expect.default_pool_size)));
    }
    if (expect.max_db_connections) {
      list.push_back(ExpectNumber("max_db_connections", target, settings->max_db_connections,
                                  "==", static_cast<double>(*expect.max_db_connections)));
    }
  }
  if (expect.database && observed.backend_databases) {
    const auto& backends = *observed.backend_databases;
    bool found = std::find(backends.begin(), backends.end(), *expect.database) != backends.end();
    std::string seen;
    for (const auto& name : backends) seen += (seen.empty() ? "" : ",") + name;
    list.push_back(
        ExpectText("pooler_database", target, found ? *expect.database : seen, *expect.database));
  }
  if (expect.max_wait_seconds && observed.max_wait_seconds) {
    list.push_back(ExpectNumber("max_wait_seconds", target, *observed.max_wait_seconds,
                                "<=", *expect.max_wait_seconds));
  }
}

}  // namespace dbcanary
