#include "probes/pooler/pgbouncer_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

namespace dbcanary {
namespace {

// Builds a PgTable from column names and rows of text cells ("<NULL>" is SQL NULL).
PgTable Table(std::vector<std::string> columns, std::vector<std::vector<std::string>> rows) {
  std::vector<std::vector<PgValue>> cells;
  for (auto& row : rows) {
    std::vector<PgValue> values;
    for (auto& cell : row) {
      values.push_back(cell == "<NULL>" ? PgValue() : PgValue(cell));
    }
    cells.push_back(std::move(values));
  }
  return PgTable(std::move(columns), std::move(cells));
}

// A copy of `table` without column `drop`, or with an extra column `add` (value "7").
PgTable Without(const PgTable& table, const std::string& drop) {
  std::vector<std::string> columns;
  std::vector<size_t> keep;
  for (size_t i = 0; i < table.columns().size(); ++i) {
    if (table.columns()[i] == drop) continue;
    columns.push_back(table.columns()[i]);
    keep.push_back(i);
  }
  std::vector<std::vector<PgValue>> rows;
  for (size_t r = 0; r < table.size(); ++r) {
    std::vector<PgValue> row;
    for (size_t i : keep) row.push_back(*table.Text(r, table.columns()[i]));
    rows.push_back(std::move(row));
  }
  return PgTable(std::move(columns), std::move(rows));
}

PgTable WithExtra(const PgTable& table, const std::string& add) {
  std::vector<std::string> columns = table.columns();
  columns.push_back(add);
  std::vector<std::vector<PgValue>> rows;
  for (size_t r = 0; r < table.size(); ++r) {
    std::vector<PgValue> row;
    for (const auto& column : table.columns()) row.push_back(*table.Text(r, column));
    row.push_back(PgValue("7"));
    rows.push_back(std::move(row));
  }
  return PgTable(std::move(columns), std::move(rows));
}

std::optional<double> Find(const ProbeResult& result, std::string_view name, Labels labels) {
  std::sort(labels.begin(), labels.end());
  for (const auto& sample : result.samples) {
    Labels have = sample.labels;
    std::sort(have.begin(), have.end());
    if (sample.name == name && have == labels) return sample.value;
  }
  return std::nullopt;
}

const ExpectationResult* FindCheck(const ProbeResult& result, std::string_view check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

constexpr char kTarget[] = "gitlab-pooler-rw";

// PgBouncer 1.18.0 as the local stack runs it.
PgTable Pools118() {
  return Table(
      {"database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
       "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle",
       "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"},
      {{"gitlabhq_production", "gitlab", "15", "12", "0", "0", "15", "0", "0", "0", "2", "0", "0",
        "3", "250000", "transaction"},
       {"gitlabhq_production", "dbcanary", "1", "0", "0", "0", "0", "0", "0", "1", "0", "0", "0",
        "0", "0", "transaction"},
       {"pgbouncer", "pgbouncer", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
        "statement"}});
}

// PgBouncer 1.7: no maxwait_us, cl_cancel_req not yet split.
PgTable PoolsOld() {
  return Table(
      {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
       "sv_tested", "sv_login", "maxwait", "pool_mode"},
      {{"gitlabhq_production", "gitlab", "4", "1", "4", "0", "0", "0", "0", "2", "transaction"}});
}

PgTable Stats118() {
  return Table(
      {"database", "total_xact_count", "total_query_count", "total_received", "total_sent",
       "total_xact_time", "total_query_time", "total_wait_time", "avg_xact_count",
       "avg_query_count", "avg_recv", "avg_sent", "avg_xact_time", "avg_query_time",
       "avg_wait_time"},
      {{"gitlabhq_production", "120", "360", "40960", "81920", "2500000", "1500000", "750000", "1",
        "3", "10", "20", "100", "50", "25"},
       {"pgbouncer", "3", "3", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"}});
}

// PgBouncer 1.7: total_requests, no transaction counters or wait time.
PgTable StatsOld() {
  return Table({"database", "total_requests", "total_received", "total_sent", "total_query_time",
                "avg_req", "avg_recv", "avg_sent", "avg_query"},
               {{"gitlabhq_production", "99", "1000", "2000", "3000000", "1", "2", "3", "4"}});
}

PgTable Lists118() {
  return Table({"list", "items"}, {{"databases", "2"},
                                   {"users", "4"},
                                   {"pools", "2"},
                                   {"free_clients", "49"},
                                   {"used_clients", "31"},
                                   {"login_clients", "0"},
                                   {"free_servers", "0"},
                                   {"used_servers", "15"},
                                   {"dns_names", "0"},
                                   {"dns_zones", "0"},
                                   {"dns_queries", "0"},
                                   {"dns_pending", "0"}});
}

PgTable Databases118() {
  return Table(
      {"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size",
       "reserve_pool", "pool_mode", "max_connections", "current_connections", "paused", "disabled"},
      {{"gitlabhq_production", "127.0.0.1", "22400", "gitlabhq_production", "<NULL>", "15", "0",
        "0", "<NULL>", "0", "15", "1", "0"},
       {"pgbouncer", "<NULL>", "22410", "pgbouncer", "pgbouncer", "2", "0", "0", "statement", "0",
        "0", "0", "0"}});
}

PgTable Config118() {
  return Table({"key", "value", "default", "changeable"},
               {{"client_tls_key_file", "/tmp/server.key", "", "yes"},
                {"default_pool_size", "15", "20", "yes"},
                {"max_client_conn", "200", "100", "yes"},
                {"max_db_connections", "0", "0", "yes"},
                {"pool_mode", "transaction", "session", "yes"}});
}

TEST(PgBouncerRowsTest, Pools118ToSamplesSkippingAdminDatabase) {
  ProbeResult out;
  PgBouncerObserved observed;
  ASSERT_TRUE(InterpretPools(kTarget, Pools118(), out, observed));
  Labels gitlab = {{"target", kTarget}, {"database", "gitlabhq_production"}, {"user", "gitlab"}};
  EXPECT_EQ(Find(out, kPgbClientActive, gitlab), 15);
  EXPECT_EQ(Find(out, kPgbClientWaiting, gitlab), 12);
  EXPECT_EQ(Find(out, kPgbServerActive, gitlab), 15);
  EXPECT_EQ(Find(out, kPgbServerIdle, gitlab), 0);
  EXPECT_EQ(Find(out, kPgbServerUsed, gitlab), 2);
  EXPECT_DOUBLE_EQ(*Find(out, kPgbMaxWait, gitlab), 3.25);
  EXPECT_EQ(out.samples.size(), 12u);  // 6 families x 2 pools; the admin pool is left out
  ASSERT_TRUE(observed.max_wait_seconds);
  EXPECT_DOUBLE_EQ(*observed.max_wait_seconds, 3.25);
}

TEST(PgBouncerRowsTest, PoolsOldColumnSetHasWholeSecondMaxWait) {
  ProbeResult out;
  PgBouncerObserved observed;
  ASSERT_TRUE(InterpretPools(kTarget, PoolsOld(), out, observed));
  Labels gitlab = {{"target", kTarget}, {"database", "gitlabhq_production"}, {"user", "gitlab"}};
  EXPECT_EQ(Find(out, kPgbMaxWait, gitlab), 2);
  EXPECT_EQ(Find(out, kPgbClientWaiting, gitlab), 1);
}

// Table test: every required column of every SHOW, removed, fails that part with kProtocol
// naming the command and the column, and leaves the output untouched; an extra column is ignored.
struct ShowCase {
  std::string show;
  std::function<PgTable()> table;
  std::vector<std::string> required;
};

Status Interpret(const std::string& show, const PgTable& table, ProbeResult& out) {
  PgBouncerObserved observed;
  if (show == "SHOW POOLS") return InterpretPools(kTarget, table, out, observed);
  if (show == "SHOW STATS") return InterpretStats(kTarget, table, out);
  if (show == "SHOW LISTS") return InterpretLists(kTarget, table, out);
  if (show == "SHOW DATABASES") {
    return InterpretDatabases(kTarget, table, "transaction", out, observed);
  }
  if (show == "SHOW VERSION") return InterpretVersion(kTarget, table, out);
  auto settings = InterpretConfig(kTarget, table, out);
  if (!settings) return settings.error();
  return Ok{};
}

std::vector<ShowCase> Cases() {
  return {
      {"SHOW POOLS",
       Pools118,
       {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
        "maxwait"}},
      {"SHOW POOLS",
       PoolsOld,
       {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
        "maxwait"}},
      {"SHOW STATS", Stats118, {"database", "total_received", "total_sent", "total_query_time"}},
      {"SHOW STATS",
       StatsOld,
       {"database", "total_requests", "total_received", "total_sent", "total_query_time"}},
      {"SHOW LISTS", Lists118, {"list", "items"}},
      {"SHOW DATABASES",
       Databases118,
       {"name", "database", "pool_size", "pool_mode", "max_connections", "current_connections"}},
      {"SHOW CONFIG", Config118, {"key", "value"}},
      {"SHOW VERSION", [] { return Table({"version"}, {{"PgBouncer 1.18.0"}}); }, {"version"}},
  };
}

TEST(PgBouncerRowsTest, EveryShowAcceptsItsColumnSetAndAnExtraColumn) {
  for (const auto& c : Cases()) {
    SCOPED_TRACE(c.show);
    ProbeResult plain;
    auto ok = Interpret(c.show, c.table(), plain);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_FALSE(plain.samples.empty());
    ProbeResult extra;
    auto with_extra = Interpret(c.show, WithExtra(c.table(), "total_future_count"), extra);
    ASSERT_TRUE(with_extra) << with_extra.error().message;
    EXPECT_EQ(extra.samples.size(), plain.samples.size());
  }
}

TEST(PgBouncerRowsTest, EveryMissingRequiredColumnIsProtocolNamingIt) {
  for (const auto& c : Cases()) {
    for (const auto& column : c.required) {
      SCOPED_TRACE(c.show + " without " + column);
      ProbeResult out;
      auto status = Interpret(c.show, Without(c.table(), column), out);
      ASSERT_FALSE(status);
      EXPECT_EQ(status.error().code, ErrorCode::kProtocol);
      EXPECT_NE(status.error().message.find(c.show), std::string::npos) << status.error().message;
      EXPECT_NE(status.error().message.find(column), std::string::npos) << status.error().message;
      EXPECT_NE(status.error().message.find(kTarget), std::string::npos) << status.error().message;
      EXPECT_TRUE(out.samples.empty());
    }
  }
}

// A wrong column set fails even when the result has no rows (no pool yet).
TEST(PgBouncerRowsTest, EmptyResultWithWrongColumnsStillFails) {
  ProbeResult out;
  PgBouncerObserved observed;
  auto status = InterpretPools(kTarget, Table({"database", "user"}, {}), out, observed);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kProtocol);
}

TEST(PgBouncerRowsTest, Stats118CountersInBaseUnits) {
  ProbeResult out;
  ASSERT_TRUE(InterpretStats(kTarget, Stats118(), out));
  Labels db = {{"target", kTarget}, {"database", "gitlabhq_production"}};
  EXPECT_EQ(Find(out, kPgbTransactions, db), 120);
  EXPECT_EQ(Find(out, kPgbQueries, db), 360);
  EXPECT_EQ(Find(out, kPgbReceivedBytes, db), 40960);
  EXPECT_EQ(Find(out, kPgbSentBytes, db), 81920);
  EXPECT_DOUBLE_EQ(*Find(out, kPgbTransactionSeconds, db), 2.5);
  EXPECT_DOUBLE_EQ(*Find(out, kPgbQuerySeconds, db), 1.5);
  EXPECT_DOUBLE_EQ(*Find(out, kPgbWaitSeconds, db), 0.75);
  EXPECT_FALSE(Find(out, kPgbQueries, {{"target", kTarget}, {"database", "pgbouncer"}}));
  EXPECT_EQ(out.samples.size(), 7u);
}

TEST(PgBouncerRowsTest, StatsOldUsesTotalRequestsAndOmitsMissingCounters) {
  ProbeResult out;
  ASSERT_TRUE(InterpretStats(kTarget, StatsOld(), out));
  Labels db = {{"target", kTarget}, {"database", "gitlabhq_production"}};
  EXPECT_EQ(Find(out, kPgbQueries, db), 99);
  EXPECT_DOUBLE_EQ(*Find(out, kPgbQuerySeconds, db), 3.0);
  EXPECT_FALSE(Find(out, kPgbTransactions, db));
  EXPECT_FALSE(Find(out, kPgbWaitSeconds, db));
}

TEST(PgBouncerRowsTest, StatsWithoutAnyQueryCountFailsNamingBoth) {
  ProbeResult out;
  auto status = InterpretStats(kTarget, Without(Stats118(), "total_query_count"), out);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("total_requests"), std::string::npos);
}

TEST(PgBouncerRowsTest, ListsKeepKnownListsOnly) {
  ProbeResult out;
  ASSERT_TRUE(InterpretLists(kTarget, Lists118(), out));
  EXPECT_EQ(Find(out, kPgbListItems, {{"target", kTarget}, {"list", "used_clients"}}), 31);
  EXPECT_EQ(Find(out, kPgbListItems, {{"target", kTarget}, {"list", "pools"}}), 2);
  EXPECT_FALSE(Find(out, kPgbListItems, {{"target", kTarget}, {"list", "dns_names"}}));
  EXPECT_EQ(out.samples.size(), 8u);
}

TEST(PgBouncerRowsTest, ListsMissingARowIsProtocol) {
  ProbeResult out;
  auto status = InterpretLists(kTarget, Table({"list", "items"}, {{"databases", "1"}}), out);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kProtocol);
  EXPECT_NE(status.error().message.find("users"), std::string::npos);
}

TEST(PgBouncerRowsTest, DatabasesUseConfigPoolModeWhenEmpty) {
  ProbeResult out;
  PgBouncerObserved observed;
  ASSERT_TRUE(InterpretDatabases(kTarget, Databases118(), "transaction", out, observed));
  Labels db = {{"target", kTarget}, {"database", "gitlabhq_production"}};
  EXPECT_EQ(Find(out, kPgbDbPoolSize, db), 15);
  EXPECT_EQ(Find(out, kPgbDbMaxConnections, db), 0);
  EXPECT_EQ(Find(out, kPgbDbCurrentConnections, db), 15);
  EXPECT_EQ(Find(out, kPgbDbPaused, db), 1);
  auto mode = [&](const char* m) {
    Labels labels = db;
    labels.emplace_back("pool_mode", m);
    return Find(out, kPgbDbPoolMode, labels);
  };
  EXPECT_EQ(mode("transaction"), 1);
  EXPECT_EQ(mode("session"), 0);
  EXPECT_EQ(mode("statement"), 0);
  EXPECT_FALSE(Find(out, kPgbDbPoolSize, {{"target", kTarget}, {"database", "pgbouncer"}}));
  ASSERT_TRUE(observed.backend_databases);
  EXPECT_EQ(*observed.backend_databases, std::vector<std::string>{"gitlabhq_production"});
}

TEST(PgBouncerRowsTest, ConfigSettingsAndPoolModeStateSet) {
  ProbeResult out;
  auto settings = InterpretConfig(kTarget, Config118(), out);
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->pool_mode, "transaction");
  EXPECT_EQ(settings->max_client_conn, 200);
  EXPECT_EQ(settings->default_pool_size, 15);
  EXPECT_EQ(settings->max_db_connections, 0);
  Labels target = {{"target", kTarget}};
  EXPECT_EQ(Find(out, kPgbConfigMaxClientConn, target), 200);
  EXPECT_EQ(Find(out, kPgbConfigDefaultPoolSize, target), 15);
  EXPECT_EQ(Find(out, kPgbConfigPoolMode, {{"target", kTarget}, {"pool_mode", "transaction"}}), 1);
  EXPECT_EQ(Find(out, kPgbConfigPoolMode, {{"target", kTarget}, {"pool_mode", "session"}}), 0);
}

TEST(PgBouncerRowsTest, ConfigMissingSettingIsProtocolNamingIt) {
  ProbeResult out;
  auto settings = InterpretConfig(
      kTarget, Table({"key", "value"}, {{"pool_mode", "session"}, {"max_client_conn", "10"}}), out);
  ASSERT_FALSE(settings);
  EXPECT_EQ(settings.error().code, ErrorCode::kProtocol);
  EXPECT_NE(settings.error().message.find("default_pool_size"), std::string::npos);
  EXPECT_TRUE(out.samples.empty());
}

TEST(PgBouncerRowsTest, VersionLabelDropsProductName) {
  ProbeResult out;
  ASSERT_TRUE(InterpretVersion(kTarget, Table({"version"}, {{"PgBouncer 1.18.0"}}), out));
  EXPECT_EQ(Find(out, kPgbVersionInfo, {{"target", kTarget}, {"version", "1.18.0"}}), 1);
}

TEST(PgBouncerRowsTest, DriftExpectationsNameTheField) {
  PgBouncerSettings settings{"transaction", 200, 15, 0};
  PgBouncerObserved observed;
  observed.max_wait_seconds = 3.25;
  observed.backend_databases = std::vector<std::string>{"gitlabhq_production"};
  PgBouncerExpect expect;
  expect.pool_mode = "session";
  expect.max_client_conn = 200;
  expect.default_pool_size = 20;
  expect.max_db_connections = 0;
  expect.database = "gitlabhq_production";
  expect.max_wait_seconds = 1;
  ProbeResult out;
  AppendPgBouncerExpectations(kTarget, expect, settings, observed, out);
  ASSERT_EQ(out.expectations.size(), 6u);
  EXPECT_FALSE(FindCheck(out, "pool_mode")->pass);
  EXPECT_EQ(FindCheck(out, "pool_mode")->observed_text, "transaction");
  EXPECT_TRUE(FindCheck(out, "max_client_conn")->pass);
  EXPECT_FALSE(FindCheck(out, "default_pool_size")->pass);
  EXPECT_EQ(FindCheck(out, "default_pool_size")->observed, 15);
  EXPECT_TRUE(FindCheck(out, "max_db_connections")->pass);
  EXPECT_TRUE(FindCheck(out, "pooler_database")->pass);
  EXPECT_FALSE(FindCheck(out, "max_wait_seconds")->pass);
  for (const auto& e : out.expectations) EXPECT_EQ(e.target, kTarget);
}

TEST(PgBouncerRowsTest, DriftOnlyForDeclaredAndObservedSettings) {
  PgBouncerObserved observed;
  observed.backend_databases = std::vector<std::string>{"registry", "other"};
  PgBouncerExpect expect;
  expect.pool_mode = "transaction";  // SHOW CONFIG failed: not observed, no expectation
  expect.database = "gitlabhq_production";
  ProbeResult out;
  AppendPgBouncerExpectations(kTarget, expect, std::nullopt, observed, out);
  ASSERT_EQ(out.expectations.size(), 1u);
  EXPECT_FALSE(out.expectations[0].pass);
  EXPECT_EQ(out.expectations[0].observed_text, "registry,other");
}

}  // namespace
}  // namespace dbcanary
