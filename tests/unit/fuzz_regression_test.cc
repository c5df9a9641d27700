// Regression tests for inputs the libFuzzer targets (tests/fuzz) found crashing. Each test
// names the fuzzer and what the input was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "probes/kubernetes/k8s_cnpg_backups_probe.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

using nlohmann::json;

double SumOf(const ProbeResult& out, const std::string& name) {
  double sum = 0;
  for (const auto& sample : out.samples) {
    if (sample.name == name) sum += sample.value;
  }
  return sum;
}

// kube_json_fuzzer: a Backup or ScheduledBackup list answer without an "items" array (another
// kind of object, an array, items as an object) hit operator[] on a const json -- an assertion
// in debug builds, undefined behaviour in release ones. It now counts as an empty list.
TEST(FuzzRegressionTest, BackupListsWithoutItemsAreEmpty) {
  const json cluster = json::parse(R"({"kind": "Cluster", "status": {}})");
  const json answers[] = {
      json::parse(R"({"kind": "Pooler", "spec": {"cluster": {"name": "pgmain"}}})"),
      json::parse(R"([{"spec": {"cluster": {"name": "pgmain"}}, "status": {"phase": "failed"}}])"),
      json::parse(R"({"items": {"a": {"status": {"phase": "failed"}}}})"),
      json::parse(R"({"items": null})"),
      json::parse("42"),
  };
  for (const json& answer : answers) {
    SCOPED_TRACE(answer.dump());
    BackupInputs in{&cluster, &answer, &answer, nullptr, "pgmain"};
    ProbeResult out;
    EvaluateBackups(in, "t", "pgmain", {}, 1795600000, out);
    EXPECT_EQ(SumOf(out, "dbcanary_backup_objects"), 0);
    EXPECT_EQ(SumOf(out, "dbcanary_scheduled_backups"), 0);
  }
  // A real list still counts.
  const json list = json::parse(
      R"({"items": [{"spec": {"cluster": {"name": "pgmain"}}, "status": {"phase": "failed"}}]})");
  BackupInputs in{&cluster, &list, nullptr, nullptr, "pgmain"};
  ProbeResult out;
  EvaluateBackups(in, "t", "pgmain", {}, 1795600000, out);
  EXPECT_EQ(SumOf(out, "dbcanary_backup_objects"), 1);
}

}  // namespace
}  // namespace dbcanary
