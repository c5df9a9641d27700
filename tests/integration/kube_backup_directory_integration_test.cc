// backup_directory against REAL pg_basebackup output from the local stack's primary: plain
// (-Fp, backup_label + backup_manifest) and tar (-Ft, base.tar + backup_manifest) formats.

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <thread>

#include "config/config.h"
#include "probes/kubernetes/backup_directory_probe.h"
#include "probes/probe.h"
#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using testing::Stack;
using testing::TempDir;

// Runs pg_basebackup as the stack's replication role over TCP+TLS into `dir`.
void BaseBackup(const std::string& dir, const std::string& format) {
  const Stack& stack = Stack::Get();
  std::string command = "PGPASSWORD=\"$(cat '" + stack.dir() +
                        "/secrets/streaming_replica.password')\" "
                        "PGSSLMODE=require PGCONNECT_TIMEOUT=10 timeout 60 '" +
                        stack.Env("DBCANARY_STACK_PG_BIN") + "/pg_basebackup' -h 127.0.0.1 -p " +
                        stack.Env("DBCANARY_STACK_PG_PRIMARY_PORT") +
                        " -U streaming_replica -X fetch -c fast -F" + format + " -D '" + dir +
                        "' 2>&1";
  std::string output;
  ASSERT_EQ(testing::RunCommand(command, "", &output), 0) << output;
}

double FileMtime(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return static_cast<double>(info.st_mtim.tv_sec) + info.st_mtim.tv_nsec / 1e9;
}

double Value(const ProbeResult& result, const std::string& name) {
  for (const auto& sample : result.samples) {
    if (sample.name == name) return sample.value;
  }
  return std::nan("");
}

// Pins: the newest real pg_basebackup (by backup_manifest mtime) is found in either format, its
// size is summed, a directory with a truncated/foreign manifest is not counted as complete, and
// backup_max_age passes for a fresh backup and fails for a tight limit.
TEST(KubeBackupDirectoryIntegrationTest, RealPgBasebackupOutput) {
  DBCANARY_REQUIRE_STACK();
  TempDir root;
  BaseBackup(root.path() + "/20261126-plain", "p");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // distinct manifest mtimes
  BaseBackup(root.path() + "/20261126-tar", "t");
  std::filesystem::create_directory(root.path() + "/20261126-partial");
  root.Write("20261126-partial/backup_label", "START WAL LOCATION: 0/2000028\n");
  root.Write("20261126-partial/backup_manifest", "{ \"Files\": [");  // interrupted copy

  auto backups = FindDirectoryBackups(root.path());
  ASSERT_TRUE(backups) << backups.error().message;
  ASSERT_EQ(backups->size(), 2u);  // partial: an invalid manifest means not complete
  int with_manifest = 0;
  for (const auto& backup : *backups) {
    with_manifest += backup.has_manifest ? 1 : 0;
    if (backup.path.ends_with("-tar")) {
      EXPECT_TRUE(backup.tar_format);
      EXPECT_NEAR(backup.completed_at, FileMtime(backup.path + "/backup_manifest"), 1e-3);
      EXPECT_EQ(backup.size_bytes,
                static_cast<double>(std::filesystem::file_size(backup.path + "/base.tar") +
                                    std::filesystem::file_size(backup.path + "/backup_manifest")));
    }
    if (backup.path.ends_with("-plain")) {
      EXPECT_FALSE(backup.tar_format);
      EXPECT_GT(backup.size_bytes, 10e6);  // a real data directory
    }
  }
  EXPECT_EQ(with_manifest, 2);

  auto config = ParseConfig(R"(
postgres:
  clusters:
    - name: shared-postgres
      primary: { host: 127.0.0.1, user: dbcanary }
      probes:
        backup_directory: { path: ")" +
                                root.path() + R"(", expect: { backup_max_age: 1h } }
)",
                            "test.yaml");
  ASSERT_TRUE(config) << config.error().message;
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  auto probe = registry.Create(*(*config)->AllProbes().at(0), **config);
  ASSERT_TRUE(probe) << probe.error().message;
  spdlog::logger log("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::stop_source stop;
  auto wall_now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const double run_started = wall_now();
  ProbeResult result =
      (*probe)->Run(ProbeContext{Deadline::In(std::chrono::seconds(5)), stop.get_token(), log});
  const double run_ended = wall_now();
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(Value(result, "dbcanary_backup_directory_backups"), 2);
  EXPECT_NEAR(Value(result, "dbcanary_backup_last_completed_timestamp_seconds"),
              FileMtime(root.path() + "/20261126-tar/backup_manifest"), 1e-3);
  ASSERT_EQ(result.expectations.size(), 2u);  // backup_max_age, backup_min_count (default 1)
  EXPECT_TRUE(result.expectations[0].pass);
  EXPECT_EQ(result.expectations[1].check, "backup_min_count");
  EXPECT_EQ(result.expectations[1].observed, 2);
  EXPECT_TRUE(result.expectations[1].pass);
  // The age is the newest manifest's age at the run (however long the backups above took): between
  // its age when the run started and when it ended (1 ms for rounding).
  const double completed = FileMtime(root.path() + "/20261126-tar/backup_manifest");
  EXPECT_GE(result.expectations[0].observed, run_started - completed - 1e-3);
  EXPECT_LE(result.expectations[0].observed, run_ended - completed + 1e-3);

  // Fewer backups than declared, and a newest backup smaller than declared: both fail by name.
  auto demanding = ParseConfig(R"(
postgres:
  clusters:
    - name: shared-postgres
      primary: { host: 127.0.0.1, user: dbcanary }
      probes:
        backup_directory: { path: ")" +
                                   root.path() +
                                   R"(", expect: { min_backups: 3, min_size_bytes: 1e12 } }
)",
                               "demanding.yaml");
  ASSERT_TRUE(demanding) << demanding.error().message;
  auto strict = registry.Create(*(*demanding)->AllProbes().at(0), **demanding);
  ASSERT_TRUE(strict) << strict.error().message;
  ProbeResult unmet =
      (*strict)->Run(ProbeContext{Deadline::In(std::chrono::seconds(5)), stop.get_token(), log});
  ASSERT_TRUE(unmet.success);
  ASSERT_EQ(unmet.expectations.size(), 3u);
  EXPECT_TRUE(unmet.expectations[0].pass);  // backup_max_age: default 24 h
  EXPECT_EQ(unmet.expectations[1].check, "backup_min_count");
  EXPECT_FALSE(unmet.expectations[1].pass);
  EXPECT_EQ(unmet.expectations[2].check, "backup_min_size_bytes");
  EXPECT_FALSE(unmet.expectations[2].pass);
}

// Pins: a missing (unmounted) backup directory is a failed run, not an empty success.
TEST(KubeBackupDirectoryIntegrationTest, MissingDirectoryFailsTheRun) {
  auto backups = FindDirectoryBackups("/nonexistent/dbcanary-backups");
  ASSERT_FALSE(backups);
  EXPECT_EQ(backups.error().code, ErrorCode::kConnect);
}

}  // namespace
}  // namespace dbcanary
