#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "drills/drill.h"

// Kind `dragonfly_benchmark`: a redis-benchmark-like SET/GET load (N connections, pipelining)
// against a Dragonfly master, keys under the target's key_prefix. See docs/drills/benchmark.md.

namespace dbcanary {

struct DragonflyBenchmarkParams {
  std::string dragonfly;  // configured dragonfly target
  RedisEndpoint master;
  std::string key_prefix;  // the target's key_prefix + "bench:"
  // The acceptance list's redis-benchmark -t set,get -n 100000 (-c 50, no pipelining).
  int connections = 50;
  int pipeline = 1;
  int threads = 1;            // like redis-benchmark without --threads
  int64_t requests = 100000;  // per operation, over all connections (-n); 0: `duration` only
  // Cap per operation: whichever of requests and duration comes first ends it.
  std::chrono::milliseconds duration{std::chrono::seconds(60)};
  int value_size = 3;
  int keyspace = 100000;                          // keys PREFIXbench:0 .. PREFIXbench:(keyspace-1)
  std::vector<std::string> ops = {"set", "get"};  // run one after the other, like -t set,get
  double min_ops_per_second = 50000;
  double max_regression = 0.2;
  int history = 5;
  std::optional<double> baseline_set;
  std::optional<double> baseline_get;
};

// Reads settings.params strictly; throws ConfigError (with the key path) on a bad value.
DragonflyBenchmarkParams ReadDragonflyBenchmarkParams(const DrillSettings& settings,
                                                      const Config& config);

Result<std::unique_ptr<Drill>> CreateDragonflyBenchmarkDrill(const DrillSettings& settings,
                                                             const Config& config);

// The pattern SCAN MATCH uses to find the drill's keys: glob characters of the prefix escaped.
std::string BenchKeyPattern(const std::string& key_prefix);

}  // namespace dbcanary
