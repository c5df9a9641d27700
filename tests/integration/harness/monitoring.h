#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {

// The stack's monitoring pipeline (deploy/local/stack-monitoring.sh): victoria-metrics, vmagent
// scraping dbcanary on DBCANARY_LISTEN_PORT, vmalert and alertmanager.

// A dbcanary exporter serving `config` on the port the stack's vmagent scrapes.
std::unique_ptr<ExporterProcess> StartScrapedExporter(const std::string& config);

// The value of the PromQL `query` at victoria-metrics now (the first series); NaN when the
// answer holds no series or victoria-metrics does not answer.
double QueryVictoriaMetrics(const std::string& query);

// Polls `query` until `accept(value)` or `timeout`; returns whether it was accepted.
bool WaitForQuery(const std::string& query, bool (*accept)(double), std::chrono::seconds timeout);

}  // namespace dbcanary::testing
