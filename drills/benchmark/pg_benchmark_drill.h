#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "drills/drill.h"

// Kind `pg_benchmark`: pgbench's TPC-B (sort of) workload against a scratch database, direct to
// the current primary and through a pooler. See docs/drills/benchmark.md.

namespace dbcanary {

struct PgBenchmarkParams {
  std::string cluster;  // configured postgres cluster (the expectation target of "direct")
  std::string pooler;   // configured pooler; empty: no pooler leg
  PgEndpoint admin;     // creates/drops the database and runs the workload; needs CREATEDB
  std::optional<PgEndpoint> pooler_connection;  // the pooler's host/TLS with admin's login
  std::string database = "dbcanary_bench";
  // The acceptance list's pgbench -i -s 10, then -c 10 -j 2 -t 1000 on each path.
  int clients = 10;
  int threads = 2;
  int transactions = 1000;  // per client (pgbench -t); 0: run for `duration` only
  // Cap on each path's run (pgbench -T when transactions is 0): whichever comes first ends it.
  std::chrono::milliseconds duration{std::chrono::seconds(120)};
  int scale = 10;
  double min_tps = 1000;
  double max_regression = 0.2;            // fraction below the median of the previous runs' TPS
  int history = 5;                        // previous runs kept for that median
  std::optional<double> baseline_direct;  // seeds the history (e.g. from an earlier report)
  std::optional<double> baseline_pooler;
};

// Reads settings.params strictly; throws ConfigError (with the key path) on a bad value.
PgBenchmarkParams ReadPgBenchmarkParams(const DrillSettings& settings, const Config& config);

Result<std::unique_ptr<Drill>> CreatePgBenchmarkDrill(const DrillSettings& settings,
                                                      const Config& config);

// One pgbench TPC-B transaction's random values, as pgbench draws them: aid in
// [1, 100000*scale], bid in [1, scale], tid in [1, 10*scale], delta in [-5000, 5000].
struct TpcbTransaction {
  int64_t aid = 0;
  int64_t bid = 0;
  int64_t tid = 0;
  int64_t delta = 0;
};
TpcbTransaction DrawTpcbTransaction(std::mt19937_64& rng, int scale);

// The 7 statements pgbench sends for it with the simple protocol (-M simple, the default):
// BEGIN, the 5 statements of "TPC-B (sort of)", END.
std::vector<std::string> TpcbStatements(const TpcbTransaction& tx);

// pgbench -i: the 4 tables (dropped first), data generated server-side, primary keys. Each
// entry is one simple-protocol query; VACUUM ANALYZE comes separately (not in a transaction).
std::vector<std::string> TpcbInitStatements(int scale);

// Whether `name` is a plain lower-case identifier the drill may create and drop.
bool IsBenchDatabaseName(const std::string& name);

}  // namespace dbcanary
