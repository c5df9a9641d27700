#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/secret.h"

namespace dbcanary {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbcanary-config-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    secret_file_ = dir_ / "secret";
    std::ofstream(secret_file_) << "s3cr3t-from-file\n";
    ::setenv("DBCANARY_TEST_PASSWORD", "s3cr3t-from-env", 1);
    good_ = Replace(ReadFile(fs::path(DBCANARY_SOURCE_DIR) / "tests/testdata/config-good.yaml"),
                    "@SECRET_FILE@", secret_file_.string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Parses `text` and returns the error message (empty when it loaded).
  std::string ErrorOf(const std::string& text) {
    auto config = ParseConfig(text, "test.yaml");
    return config ? std::string() : config.error().message;
  }

  fs::path dir_;
  fs::path secret_file_;
  std::string good_;
};

TEST_F(ConfigTest, LoadsAGoodConfigWithDefaultsAndInheritance) {
  auto loaded = ParseConfig(good_, "good.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config& config = **loaded;
  EXPECT_EQ(config.exporter.listen_address, "127.0.0.1:9750");
  EXPECT_EQ(config.exporter.workers, 2);
  EXPECT_EQ(config.exporter.log_format, "json");
  ASSERT_EQ(config.postgres_clusters.size(), 1u);
  const auto& cluster = config.postgres_clusters[0];
  ASSERT_EQ(cluster.instances.size(), 2u);
  EXPECT_EQ(cluster.instances.at(0).name, "pg-1");
  EXPECT_EQ(cluster.instances.at(0).user, "dbcanary");
  EXPECT_EQ(cluster.instances.at(1).user, "dbcanary");  // inherited from defaults
  EXPECT_EQ(cluster.instances.at(1).sslmode, "require");
  EXPECT_EQ(cluster.instances.at(0).password.Reveal(), "s3cr3t-from-file");  // newline stripped
  EXPECT_FALSE(cluster.read_write);
  EXPECT_EQ(*cluster.expect.min_sync_standbys, 1);
  ASSERT_EQ(cluster.probes.size(), 1u);
  EXPECT_EQ(cluster.probes[0].interval, std::chrono::seconds(5));
  EXPECT_EQ(cluster.probes[0].timeout, std::chrono::seconds(1));
  const auto& pooler = config.poolers.at(0);
  EXPECT_EQ(pooler.type, PoolerType::kReadOnly);
  EXPECT_EQ(pooler.connection.password.Reveal(), "s3cr3t-from-env");
  EXPECT_EQ(pooler.probes.at(0).interval, std::chrono::seconds(10));  // exporter default
  const auto& dragonfly = config.dragonflies.at(0);
  EXPECT_EQ(dragonfly.replicas.at(0).password.Reveal(), "s3cr3t-from-file");  // from master
  EXPECT_EQ(dragonfly.probes.at(0).timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(config.AllProbes().size(), 3u);
}

// Each bad config is paired with the exact error: file, line, column, key path, problem.
TEST_F(ConfigTest, RejectsBadConfigsNamingFileLineAndKey) {
  struct Case {
    std::string from, to, error;
  };
  const std::vector<Case> cases = {
      {"  workers: 2", "  workers: 2\n  workers: 3",
       "test.yaml:4:3: exporter.workers: duplicate key"},
      {"  workers: 2", "  workers: 2\n  wrokers: 3",
       "test.yaml:4:3: exporter.wrokers: unknown key (known keys here: default_interval, "
       "default_timeout, listen_address, log, workers)"},
      {"workers: 2", "workers: many",
       "test.yaml:3:12: exporter.workers: expected an integer from 1 to 64, got \"many\""},
      {"pg_replication: { interval: 5s, timeout: 1s }",
       "pg_replication: { interval: 5s, timeout: 9s }",
       "test.yaml:16:50: postgres.clusters[0].probes.pg_replication.timeout: timeout (9s) must "
       "not be longer than interval (5s)"},
      {"interval: 5s,", "interval: fast,",
       "test.yaml:16:37: postgres.clusters[0].probes.pg_replication.interval: expected a "
       "duration such as \"500ms\", \"5s\" or \"2m\", got \"fast\""},
      {"- name: df", "- name: pg",
       "test.yaml:25:11: dragonfly[0].name: duplicate target name \"pg\""},
      {"{ name: pg-2,", "{ name: pg-1,",
       "test.yaml:13:19: postgres.clusters[0].instances[1].name: duplicate instance name "
       "\"pg-1\""},
      {"cluster: pg", "cluster: nope",
       "test.yaml:19:14: poolers[0].cluster: no postgres cluster named \"nope\""},
      {"type: ro", "type: rx",
       "test.yaml:20:11: poolers[0].type: expected one of rw, ro, got \"rx\""},
      {"password: \"${DBCANARY_TEST_PASSWORD}\"", "password: hunter2",
       "test.yaml:21:82: poolers[0].connection.password: must be an environment reference like "
       "\"${DB_PASSWORD}\"; put literal passwords in a file and use password_file"},
      {"password: \"${DBCANARY_TEST_PASSWORD}\"", "password: \"${DBCANARY_UNSET_VARIABLE}\"",
       "test.yaml:21:82: poolers[0].connection.password: environment variable "
       "DBCANARY_UNSET_VARIABLE is not set or empty"},
      {"max_sync_standbys: 1", "max_sync_standbys: 0",
       "test.yaml:14:72: postgres.clusters[0].expect.max_sync_standbys: must not be below "
       "min_sync_standbys"},
      {"port: 6380", "port: 70000",
       "test.yaml:28:46: dragonfly[0].replicas[0].port: expected an integer from 1 to 65535, got "
       "\"70000\""},
  };
  for (const auto& c : cases) {
    std::string text = Replace(good_, c.from, c.to);
    ASSERT_NE(text, good_) << "case did not apply: " << c.from;
    EXPECT_EQ(ErrorOf(text), c.error) << "replacing " << c.from;
  }
}

// 200000d would overflow a deadline (now + duration in nanoseconds): refused at load.
TEST_F(ConfigTest, DurationsAboveTenYearsAreRefusedNamingTheField) {
  std::string text = Replace(good_, "pg_replication: { interval: 5s, timeout: 1s }",
                             "pg_replication: { interval: 5s, timeout: 200000d }");
  ASSERT_NE(text, good_);
  EXPECT_EQ(ErrorOf(text),
            "test.yaml:16:50: postgres.clusters[0].probes.pg_replication.timeout: at most 87600h "
            "(3650d), got \"200000d\"");
  text = Replace(good_, "pg_replication: { interval: 5s, timeout: 1s }",
                 "pg_replication: { interval: 3650d, timeout: 1s }");
  EXPECT_EQ(ErrorOf(text), "");
}

TEST_F(ConfigTest, RejectsMissingAndUnreadableThings) {
  EXPECT_EQ(ErrorOf(""), "test.yaml: the file is empty");
  EXPECT_EQ(ErrorOf("exporter: [1, 2"),
            "test.yaml:1:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("postgres:\n  clusters:\n    - name: pg\n"),
            "test.yaml:3:7: postgres.clusters[0]: list the members in instances: [{ name, host, "
            "port }] (or discover: { kubernetes: ... })");
  std::string missing_file = Replace(good_, secret_file_.string(), "/nonexistent/secret");
  EXPECT_NE(ErrorOf(missing_file)
                .find("postgres.clusters[0].defaults.password_file: cannot "
                      "read \"/nonexistent/secret\""),
            std::string::npos)
      << ErrorOf(missing_file);
  // A directory, a FIFO or a device is refused before anything reads it.
  std::string directory = Replace(good_, secret_file_.string(), "/tmp");
  EXPECT_NE(ErrorOf(directory).find("password_file: \"/tmp\" is not a regular file"),
            std::string::npos)
      << ErrorOf(directory);
  std::string device = Replace(good_, secret_file_.string(), "/dev/zero");
  EXPECT_NE(ErrorOf(device).find("\"/dev/zero\" is not a regular file"), std::string::npos)
      << ErrorOf(device);
  auto absent = LoadConfigFile("/nonexistent/dbcanary.yaml");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().message, "/nonexistent/dbcanary.yaml: cannot open the config file");
}

TEST_F(ConfigTest, ErrorsNeverContainTheSecret) {
  // Once loaded, every secret value is registered and any text that echoes it is redacted,
  // e.g. a reload whose error quotes a value that happens to be a password.
  ASSERT_TRUE(ParseConfig(good_, "good.yaml"));
  EXPECT_EQ(RedactSecrets("pw=s3cr3t-from-env end"), "pw=<redacted> end");
  std::string bad = Replace(good_, "workers: 2", "workers: s3cr3t-from-file");
  std::string error = ErrorOf(bad);
  ASSERT_NE(error.find("exporter.workers"), std::string::npos) << error;
  EXPECT_EQ(RedactSecrets(error).find("s3cr3t-from-file"), std::string::npos);
}

TEST_F(ConfigTest, TheAnnotatedExampleConfigLoads) {
  // The example references mounted files and an env var: point them at temp files.
  std::string example = ReadFile(fs::path(DBCANARY_SOURCE_DIR) / "deploy/dbcanary.example.yaml");
  for (const char* name : {"dbcanary-password", "gitlab-password", "dragonfly-password"}) {
    example = Replace(example, std::string("/etc/dbcanary/secrets/") + name, secret_file_.string());
  }
  ::setenv("GITLAB_DB_PASSWORD", "example-env-password", 1);
  auto loaded = ParseConfig(example, "dbcanary.example.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ((*loaded)->poolers.size(), 2u);
  EXPECT_EQ((*loaded)->AllProbes().size(), 4u);
}

}  // namespace
}  // namespace dbcanary

namespace dbcanary {
namespace {

// validate.skip: acceptance groups left out of the verdict on purpose, each with a reason.
TEST(ValidateConfigTest, SkippedGroupsNeedAKnownGroupAndAReason) {
  auto parse = [](const std::string& skip) {
    return ParseConfig("validate:\n  skip:\n" + skip, "skip.yaml");
  };
  auto loaded = parse("    - group: operator\n      reason: no Kubernetes API here\n");
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ((*loaded)->validate.skip.size(), 1u);
  EXPECT_EQ((*loaded)->validate.skip[0].group, CheckGroup::kOperator);
  EXPECT_EQ((*loaded)->validate.skip[0].reason, "no Kubernetes API here");

  auto unknown = parse("    - group: operators\n      reason: x\n");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message,
              ::testing::HasSubstr("validate.skip[0].group: unknown group \"operators\" (groups: "
                                   "operator, cluster, tenants, poolers, backups, dragonfly, "
                                   "performance, monitoring)"));
  auto no_reason = parse("    - group: operator\n");
  ASSERT_FALSE(no_reason);
  EXPECT_THAT(no_reason.error().message, ::testing::HasSubstr("reason"));
  auto empty_reason = parse("    - group: operator\n      reason: \"\"\n");
  ASSERT_FALSE(empty_reason);
  EXPECT_THAT(empty_reason.error().message,
              ::testing::HasSubstr("validate.skip[0].reason: required but missing"));
  auto twice =
      parse("    - group: backups\n      reason: a\n    - group: backups\n      reason: b\n");
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, ::testing::HasSubstr("\"backups\" is skipped twice"));
  EXPECT_FALSE(parse("    - group: other\n      reason: x\n"));  // not a group a user names
}

}  // namespace
}  // namespace dbcanary
