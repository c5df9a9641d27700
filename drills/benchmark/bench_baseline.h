#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/metric.h"
#include "drills/drill.h"
#include "drills/runtime/record.h"

// The parameters a benchmark ran with, recorded next to its figures, and the regression
// baseline read back from earlier runs' reports (so it survives reloads and restarts).

namespace dbcanary::bench {

// (name, value) in a fixed order, e.g. {"scale", 10}, {"clients", 10}.
using BenchParameters = std::vector<std::pair<std::string, double>>;

// One sample family{target, parameter} per parameter: the figures' context in the report,
// the metrics and the key that makes earlier runs comparable.
void AddParameters(DrillResult& result, const std::string& family, const std::string& target,
                   const BenchParameters& parameters);

// "scale 10, clients 10, threads 2": for progress lines, phase details and evidence.
std::string ParametersText(const BenchParameters& parameters);

// Which figure of the earlier runs makes the baseline of one leg.
struct BaselineQuery {
  std::string rate_family;  // e.g. dbcanary_drill_pg_benchmark_tps
  Labels leg_labels;        // e.g. {target=pg, path=direct}: all must be on the sample
  std::string parameter_family;
  std::string target;  // of the parameter samples
};

// The leg's rate in earlier completed runs (pass or fail) measured with exactly these
// parameters, oldest first, at most `keep` of them. Runs that recorded other (or no)
// parameters are not comparable and are left out. `newest_first` as LoadRecentRecords gives.
std::vector<double> PreviousRates(const std::vector<DrillRecord>& newest_first,
                                  const BaselineQuery& query, const BenchParameters& parameters,
                                  size_t keep);

// How many report files the baseline reads back for `keep` values: bounded, with room for
// errored or refused runs between the completed ones.
size_t BaselineFilesToRead(size_t keep);

}  // namespace dbcanary::bench
