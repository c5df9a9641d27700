// dragonfly_structures, dragonfly_pubsub, dragonfly_replication and dragonfly_info against the
// local stack's redis (dragonfly-0 master, dragonfly-1 replica, standing in for Dragonfly), and
// against fake servers on loopback that answer with errors, wrong types or stall mid-reply.

#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "config/config.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace harness = ::dbcanary::testing;

constexpr char kMasterName[] = "dragonfly-0";
constexpr char kReplicaName[] = "dragonfly-1";
constexpr char kPrefix[] = "dbcanary:";

std::string ErrorText(const ProbeResult& result) {
  return result.error
             ? std::string(ErrorCodeName(result.error->code)) + ": " + result.error->message
             : "no error";
}

std::string PasswordFile() { return harness::Stack::Get().dir() + "/secrets/dragonfly.password"; }

// A config with one dragonfly target "df" on the stack's redis; `auth` is the YAML of the
// master's credentials, `probes` the YAML body of `probes:`.
std::shared_ptr<const Config> StackConfig(const std::string& probes, std::string auth = "") {
  const auto& stack = harness::Stack::Get();
  if (auth.empty()) auth = "password_file: " + PasswordFile();
  std::string text = fmt::format(
      "dragonfly:\n"
      "  - name: df\n"
      "    master: {{ name: {}, host: 127.0.0.1, port: {}, {} }}\n"
      "    replicas:\n"
      "      - {{ name: {}, host: 127.0.0.1, port: {} }}\n"
      "    key_prefix: \"{}\"\n"
      "    probes:\n{}",
      kMasterName, stack.Port(kMasterName), auth, kReplicaName, stack.Port(kReplicaName), kPrefix,
      probes);
  auto config = ParseConfig(text, "df.yaml");
  EXPECT_TRUE(config) << config.error().message << "\n" << text;
  return config ? *config : std::make_shared<const Config>();
}

std::unique_ptr<Probe> Build(const Config& config, std::string_view kind) {
  auto probe = harness::MakeProbe(config, kind, "df");
  EXPECT_TRUE(probe) << probe.error().message;
  return probe ? std::move(probe).value() : nullptr;
}

const RedisEndpoint& Master(const Config& config) { return config.dragonflies[0].master; }

double Sample(const ProbeResult& result, std::string_view name, Labels labels) {
  auto value = harness::FindSample(result, name, labels);
  if (!value) {
    ADD_FAILURE() << name << " missing";
    return std::nan("");
  }
  return *value;
}

// Runs a command on a fresh connection to `server`; fails the test on error.
std::optional<RedisReply> Admin(const RedisEndpoint& server,
                                std::initializer_list<std::string_view> argv) {
  auto client = RedisClient::Connect(server, Deadline::In(seconds(5)));
  EXPECT_TRUE(client) << client.error().message;
  if (!client) return std::nullopt;
  auto reply = client->Command(argv);
  EXPECT_TRUE(reply) << reply.error().message;
  if (!reply) return std::nullopt;
  return std::move(reply).value();
}

RedisInfoFacts Facts(const RedisEndpoint& server) {
  auto reply = Admin(server, {"INFO", "ALL"});
  return reply ? ExtractInfoFacts(RedisInfo::Parse(reply->text())) : RedisInfoFacts{};
}

// Every key under `pattern` with its TTL in ms (-1 = no expiry).
std::map<std::string, long long> KeysMatching(const RedisEndpoint& server,
                                              const std::string& pattern) {
  std::map<std::string, long long> keys;
  auto client = RedisClient::Connect(server, Deadline::In(seconds(10)));
  if (!client) return keys;
  std::string cursor = "0";
  do {
    auto reply = client->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!reply || reply->size() != 2) break;
    cursor = std::string((*reply)[0].text());
    for (size_t i = 0; i < (*reply)[1].size(); ++i) {
      std::string key((*reply)[1][i].text());
      auto ttl = client->Command({"PTTL", key});
      if (ttl) keys[key] = ttl->integer();
    }
  } while (cursor != "0");
  return keys;
}

void DeleteMatching(const RedisEndpoint& server, const std::string& pattern) {
  auto client = RedisClient::Connect(server, Deadline::In(seconds(20)));
  if (!client) return;
  for (const auto& [key, ttl] : KeysMatching(server, pattern)) (void)client->Command({"DEL", key});
}

int OpenFds() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++count;
  }
  return count;
}

#define REQUIRE_REDIS() DBCANARY_REQUIRE_STACK()

// max_replica_visibility_seconds is the run's 3 s timeout: the expectation passes when the write
// shows on the replica within the run at all (how soon depends on the host, not on dbcanary) and
// fails when it never does, which is what the tests below pin.
constexpr char kAllProbes[] =
    "      dragonfly_structures: { timeout: 3s }\n"
    "      dragonfly_pubsub: { timeout: 3s }\n"
    "      dragonfly_replication:\n"
    "        timeout: 3s\n"
    "        expect: { master_role: true, min_connected_replicas: 1, "
    "max_replica_visibility_seconds: 3 }\n"
    "      dragonfly_info: { timeout: 3s, expect: { max_last_save_age_seconds: 86400 } }\n";

// ------------------------------------------------------------------------------------------

// Pins: each probe measures real values on a healthy master + replica (no zeros, no NaNs).
TEST(DragonflyValidationTest, AllProbesSucceedWithRealValues) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  for (const char* kind :
       {"dragonfly_structures", "dragonfly_pubsub", "dragonfly_replication", "dragonfly_info"}) {
    auto probe = Build(*config, kind);
    ASSERT_NE(probe, nullptr);
    auto run = harness::RunProbeOnce(*probe, seconds(3));
    EXPECT_TRUE(run.result.success) << kind << ": " << ErrorText(run.result);
    std::printf("%s: %.1f ms\n", kind, run.seconds * 1000);
    for (const auto& expectation : run.result.expectations) {
      EXPECT_TRUE(expectation.pass) << kind << " " << expectation.check << " " << expectation.target
                                    << ": " << expectation.observed_text;
    }
    const ProbeResult& r = run.result;
    if (std::string_view(kind) == "dragonfly_structures") {
      for (const char* op : {"structures_connect", "list", "set", "hash", "sorted_set", "ttl_pttl",
                             "short_expiry", "cleanup"}) {
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_op_success", {{"target", "df"}, {"op", op}}), 1)
            << op;
        EXPECT_GT(
            Sample(r, "dbcanary_dragonfly_op_duration_seconds", {{"target", "df"}, {"op", op}}), 0)
            << op;
      }
      // The short-lived key was waited for: the op slept out its 100 ms expiry (and 5 ms more).
      EXPECT_GE(Sample(r, "dbcanary_dragonfly_op_duration_seconds",
                       {{"target", "df"}, {"op", "short_expiry"}}),
                0.1);
    } else if (std::string_view(kind) == "dragonfly_pubsub") {
      double delivery = Sample(r, "dbcanary_dragonfly_pubsub_delivery_seconds", {{"target", "df"}});
      EXPECT_GT(delivery, 0);
      EXPECT_LE(delivery, run.seconds);  // in seconds, and timed inside the run
      EXPECT_EQ(Sample(r, "dbcanary_dragonfly_pubsub_receivers", {{"target", "df"}}), 1);
    } else if (std::string_view(kind) == "dragonfly_replication") {
      Labels replica{{"target", "df"}, {"replica", kReplicaName}};
      EXPECT_EQ(Sample(r, "dbcanary_dragonfly_master", {{"target", "df"}}), 1);
      EXPECT_EQ(Sample(r, "dbcanary_dragonfly_connected_replicas", {{"target", "df"}}), 1);
      EXPECT_EQ(Sample(r, "dbcanary_dragonfly_replica_visible", replica), 1);
      double visibility = Sample(r, "dbcanary_dragonfly_replica_visibility_seconds", replica);
      EXPECT_GT(visibility, 0);
      EXPECT_LE(visibility, run.seconds);  // in seconds, and timed inside the run
      EXPECT_EQ(Sample(r, "dbcanary_dragonfly_replica_link_up", replica), 1);
      EXPECT_GE(Sample(r, "dbcanary_dragonfly_replica_master_last_io_seconds", replica), 0);
      EXPECT_EQ(r.expectations.size(), 3u);
    } else {
      for (const char* server : {kMasterName, kReplicaName}) {
        Labels labels{{"target", "df"}, {"server", server}};
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_server_up", labels), 1) << server;
        EXPECT_GT(Sample(r, "dbcanary_dragonfly_memory_used_bytes", labels), 100000) << server;
        EXPECT_GE(Sample(r, "dbcanary_dragonfly_connected_clients", labels), 1) << server;
        double started = Sample(r, "dbcanary_dragonfly_start_time_seconds", labels);
        double now =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        EXPECT_GT(started, now - 7 * 86400) << server;
        EXPECT_LE(started, now + 1) << server;
        EXPECT_GT(Sample(r, "dbcanary_dragonfly_last_save_timestamp_seconds", labels), 1.6e9);
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_last_save_ok", labels), 1) << server;
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_aof_enabled", labels), 1)
            << server;  // appendonly yes
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_rdb_enabled", labels), 1) << server;  // save 60 1
        EXPECT_EQ(Sample(r, "dbcanary_dragonfly_server_info",
                         {{"target", "df"},
                          {"server", server},
                          {"version", Facts(Master(*config)).version},
                          {"mode", "redis"}}),
                  1);
      }
    }
  }
}

// Pins: no probe key outlives the run (structures/replication delete theirs, short keys expire)
// and every probe key that exists at all carries an expiry.
TEST(DragonflyValidationTest, NoProbeKeySurvives) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  for (const char* kind : {"dragonfly_structures", "dragonfly_replication", "dragonfly_pubsub"}) {
    auto probe = Build(*config, kind);
    ASSERT_NE(probe, nullptr);
    auto run = harness::RunProbeOnce(*probe, seconds(3));
    EXPECT_TRUE(run.result.success) << ErrorText(run.result);
  }
  for (const auto& [key, ttl] : KeysMatching(Master(*config), std::string(kPrefix) + "*")) {
    EXPECT_NE(ttl, -1) << key << " has no expiry";
    EXPECT_EQ(key.find("structures:"), std::string::npos) << key << " survived its run";
    EXPECT_EQ(key.find("repl:"), std::string::npos) << key << " survived its run";
  }
}

// Pins: a stopped replica shows as not visible, fails its visibility expectation and drops
// connected_replicas, without failing the run; after a restart it recovers.
TEST(DragonflyValidationTest, StoppedReplicaFailsVisibilityAndRecovers) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  auto probe = Build(*config, "dragonfly_replication");
  ASSERT_NE(probe, nullptr);
  Labels replica{{"target", "df"}, {"replica", kReplicaName}};
  {
    harness::StoppedComponents stopped;
    ASSERT_TRUE(stopped.Stop(kReplicaName));
    // A budget far above "at once", so a run that waited for its deadline would show.
    auto run = harness::RunProbeOnce(*probe, seconds(10));
    EXPECT_TRUE(run.result.success) << ErrorText(run.result);
    EXPECT_EQ(Sample(run.result, "dbcanary_dragonfly_replica_visible", replica), 0);
    EXPECT_FALSE(
        harness::FindSample(run.result, "dbcanary_dragonfly_replica_visibility_seconds", replica));
    EXPECT_EQ(Sample(run.result, "dbcanary_dragonfly_connected_replicas", {{"target", "df"}}), 0);
    const auto* visibility =
        harness::FindExpectation(run.result, "max_replica_visibility_seconds", kReplicaName);
    ASSERT_NE(visibility, nullptr);
    EXPECT_FALSE(visibility->pass);
    const auto* connected = harness::FindExpectation(run.result, "min_connected_replicas", "df");
    ASSERT_NE(connected, nullptr);
    EXPECT_FALSE(connected->pass);
    // A stopped replica is refused at once: the run does not wait for the 10 s deadline.
    EXPECT_LT(run.seconds, harness::kPromptSeconds);

    // dragonfly_info: the replica is down (a connect failure), the master is still reported,
    // and the replica's declared persistence check fails instead of vanishing.
    auto info = Build(*config, "dragonfly_info");
    ASSERT_NE(info, nullptr);
    auto info_run = harness::RunProbeOnce(*info, seconds(2));
    EXPECT_FALSE(info_run.result.success);
    ASSERT_TRUE(info_run.result.error);
    EXPECT_EQ(info_run.result.error->code, ErrorCode::kConnect) << ErrorText(info_run.result);
    EXPECT_EQ(Sample(info_run.result, "dbcanary_dragonfly_server_up",
                     {{"target", "df"}, {"server", kReplicaName}}),
              0);
    EXPECT_EQ(Sample(info_run.result, "dbcanary_dragonfly_server_up",
                     {{"target", "df"}, {"server", kMasterName}}),
              1);
    const auto* save_age =
        harness::FindExpectation(info_run.result, "max_last_save_age_seconds", kReplicaName);
    ASSERT_NE(save_age, nullptr);
    EXPECT_FALSE(save_age->pass);
  }
  // Restarted (stack.sh start waits for master_link_status:up): visible again.
  bool recovered = false;
  for (int attempt = 0; attempt < 120 && !recovered; ++attempt) {  // ends once recovered
    auto run = harness::RunProbeOnce(*probe, seconds(3));
    recovered =
        run.result.success &&
        harness::FindSample(run.result, "dbcanary_dragonfly_replica_visible", replica) == 1.0 &&
        harness::FindSample(run.result, "dbcanary_dragonfly_connected_replicas",
                            {{"target", "df"}}) == 1.0;
    if (!recovered) std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_TRUE(recovered);
}

// Pins: a replica that hangs (SIGSTOP, sockets open) fails visibility at the run's deadline,
// not later, and the master part still succeeds.
TEST(DragonflyValidationTest, FrozenReplicaFailsVisibilityAtTheDeadline) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  auto probe = Build(*config, "dragonfly_replication");
  ASSERT_NE(probe, nullptr);
  Labels replica{{"target", "df"}, {"replica", kReplicaName}};
  harness::FrozenComponent frozen(kReplicaName);
  ASSERT_TRUE(frozen.frozen()) << frozen.error();
  constexpr milliseconds kBudget{800};
  auto run = harness::RunProbeOnce(*probe, kBudget);
  EXPECT_TRUE(run.result.success) << ErrorText(run.result);
  EXPECT_EQ(Sample(run.result, "dbcanary_dragonfly_replica_visible", replica), 0);
  EXPECT_EQ(Sample(run.result, "dbcanary_dragonfly_master", {{"target", "df"}}), 1);
  const auto* visibility =
      harness::FindExpectation(run.result, "max_replica_visibility_seconds", kReplicaName);
  ASSERT_NE(visibility, nullptr);
  EXPECT_FALSE(visibility->pass);
  // The replica is watched until 50 ms (the probe's reserve for the master's DEL) before the
  // 800 ms deadline: not less, and not much more (room for a loaded host, far below the 5 s
  // connect_timeout and the frozen replica's silence, which never ends).
  EXPECT_GE(run.seconds, 0.8 - 0.05 - harness::kClockEpsilonSeconds);
  EXPECT_LE(run.seconds, 0.8 + harness::kDeadlineSlackSeconds);
}

// Restores maxmemory/maxmemory-policy and removes the junk keys, pass or fail.
class MemoryLimit {
 public:
  explicit MemoryLimit(RedisEndpoint master) : master_(std::move(master)) {
    if (auto policy = Admin(master_, {"CONFIG", "GET", "maxmemory-policy"});
        policy && policy->size() == 2)
      policy_ = std::string((*policy)[1].text());
  }
  ~MemoryLimit() {
    (void)Admin(master_, {"CONFIG", "SET", "maxmemory", "0"});
    (void)Admin(master_, {"CONFIG", "SET", "maxmemory-policy", policy_});
    DeleteMatching(master_, std::string(kPrefix) + "junk:*");
  }

 private:
  RedisEndpoint master_;
  std::string policy_ = "noeviction";
};

// Pins: evictions under maxmemory + allkeys-lru show in evicted_keys_total; with noeviction a
// structures write fails with the server's OOM reason (kQuery), not a crash or a hang.
TEST(DragonflyValidationTest, MaxmemoryEvictsAndNoevictionRefusesWrites) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  const RedisEndpoint& master = Master(*config);
  auto info = Build(*config, "dragonfly_info");
  auto structures = Build(*config, "dragonfly_structures");
  ASSERT_TRUE(info && structures);
  Labels labels{{"target", "df"}, {"server", kMasterName}};
  auto before = harness::RunProbeOnce(*info, seconds(3));
  ASSERT_TRUE(before.result.success) << ErrorText(before.result);
  double evicted_before = Sample(before.result, "dbcanary_dragonfly_evicted_keys_total", labels);

  MemoryLimit limit(master);
  double used = Sample(before.result, "dbcanary_dragonfly_memory_used_bytes", labels);
  std::string max = std::to_string(static_cast<long long>(used) + 2 * 1024 * 1024);
  ASSERT_TRUE(Admin(master, {"CONFIG", "SET", "maxmemory", max}));
  ASSERT_TRUE(Admin(master, {"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}));
  {
    auto client = RedisClient::Connect(master, Deadline::In(seconds(30)));
    ASSERT_TRUE(client) << client.error().message;
    std::string junk(4096, 'x');
    for (int i = 0; i < 1200; ++i) {
      auto reply =
          client->Command({"SET", fmt::format("{}junk:{}", kPrefix, i), junk, "EX", "120"});
      ASSERT_TRUE(reply) << reply.error().message;
    }
  }
  auto after = harness::RunProbeOnce(*info, seconds(3));
  ASSERT_TRUE(after.result.success) << ErrorText(after.result);
  EXPECT_GT(Sample(after.result, "dbcanary_dragonfly_evicted_keys_total", labels), evicted_before);
  EXPECT_EQ(Sample(after.result, "dbcanary_dragonfly_memory_max_bytes", labels), std::stod(max));

  ASSERT_TRUE(Admin(master, {"CONFIG", "SET", "maxmemory-policy", "noeviction"}));
  ASSERT_TRUE(Admin(
      master, {"CONFIG", "SET", "maxmemory", std::to_string(static_cast<long long>(used / 2))}));
  auto refused = harness::RunProbeOnce(*structures, seconds(3));
  EXPECT_FALSE(refused.result.success);
  ASSERT_TRUE(refused.result.error);
  EXPECT_EQ(refused.result.error->code, ErrorCode::kQuery);
  EXPECT_NE(refused.result.error->message.find("OOM"), std::string::npos)
      << refused.result.error->message;
  EXPECT_EQ(
      Sample(refused.result, "dbcanary_dragonfly_op_success", {{"target", "df"}, {"op", "list"}}),
      0);
}

// Makes the master's snapshots fail (a non-empty directory where dump.rdb goes: the final
// rename fails, even for root), and restores a good snapshot at the end, pass or fail.
class BrokenSnapshots {
 public:
  explicit BrokenSnapshots(RedisEndpoint master) : master_(std::move(master)) {
    auto dir = Admin(master_, {"CONFIG", "GET", "dir"});
    auto file = Admin(master_, {"CONFIG", "GET", "dbfilename"});
    if (!dir || !file || dir->size() != 2 || file->size() != 2) return;
    path_ = std::string((*dir)[1].text()) + "/" + std::string((*file)[1].text());
    std::error_code error;
    if (std::filesystem::exists(path_))
      std::filesystem::rename(path_, path_ + ".dbcanary-saved", error);
    std::filesystem::create_directories(path_ + "/blocker", error);
  }
  ~BrokenSnapshots() {
    if (path_.empty()) return;
    std::error_code error;
    std::filesystem::remove_all(path_, error);
    if (std::filesystem::exists(path_ + ".dbcanary-saved")) {
      std::filesystem::rename(path_ + ".dbcanary-saved", path_, error);
    }
    EXPECT_TRUE(Save(true)) << "could not restore a successful snapshot";
  }
  bool ok() const { return !path_.empty(); }

  // BGSAVE (scheduled after a running one) and waits for it; true if it ended with `want_ok`.
  bool Save(bool want_ok) {
    (void)Admin(master_, {"BGSAVE", "SCHEDULE"});
    for (int i = 0; i < 600; ++i) {  // ends as soon as the BGSAVE has
      std::this_thread::sleep_for(milliseconds(50));
      RedisInfoFacts facts = Facts(master_);
      if (facts.save_in_progress == false && facts.last_save_ok == want_ok) return true;
    }
    return false;
  }

 private:
  RedisEndpoint master_;
  std::string path_;
};

// Pins: a failing snapshot shows as last_save_ok 0 and fails max_last_save_age_seconds and, at
// once, last_save_succeeded on that server only; a good save afterwards clears both.
TEST(DragonflyValidationTest, FailedSnapshotFailsLastSave) {
  REQUIRE_REDIS();
  auto config = StackConfig(kAllProbes);
  auto info = Build(*config, "dragonfly_info");
  ASSERT_NE(info, nullptr);
  {
    BrokenSnapshots broken(Master(*config));
    ASSERT_TRUE(broken.ok());
    ASSERT_TRUE(broken.Save(false)) << "BGSAVE did not fail";
    auto run = harness::RunProbeOnce(*info, seconds(3));
    const auto* failed_save =
        harness::FindExpectation(run.result, "last_save_succeeded", kMasterName);
    ASSERT_NE(failed_save, nullptr);
    EXPECT_FALSE(failed_save->pass);
    EXPECT_NE(failed_save->observed_text.find("failed"), std::string::npos);
    const auto* replica_save =
        harness::FindExpectation(run.result, "last_save_succeeded", kReplicaName);
    ASSERT_NE(replica_save, nullptr);
    EXPECT_TRUE(replica_save->pass);
    EXPECT_TRUE(run.result.success) << ErrorText(run.result);
    EXPECT_EQ(Sample(run.result, "dbcanary_dragonfly_last_save_ok",
                     {{"target", "df"}, {"server", kMasterName}}),
              0);
    const auto* master_check =
        harness::FindExpectation(run.result, "max_last_save_age_seconds", kMasterName);
    ASSERT_NE(master_check, nullptr);
    EXPECT_FALSE(master_check->pass);
    const auto* replica_check =
        harness::FindExpectation(run.result, "max_last_save_age_seconds", kReplicaName);
    ASSERT_NE(replica_check, nullptr);
    EXPECT_TRUE(replica_check->pass);
  }
  auto after = harness::RunProbeOnce(*info, seconds(3));
  const auto* saved = harness::FindExpectation(after.result, "last_save_succeeded", kMasterName);
  ASSERT_NE(saved, nullptr);
  EXPECT_TRUE(saved->pass) << saved->observed_text;
}

// Pins: a wrong password is kAuth and the message never carries the password.
TEST(DragonflyValidationTest, WrongPasswordIsAuthWithoutTheSecret) {
  REQUIRE_REDIS();
  constexpr char kWrong[] = "wrong-dragonfly-secret-7f3a";
  setenv("DBCANARY_TEST_DF_WRONG", kWrong, 1);
  auto config = StackConfig(kAllProbes, "password: \"${DBCANARY_TEST_DF_WRONG}\"");
  for (const char* kind :
       {"dragonfly_structures", "dragonfly_pubsub", "dragonfly_replication", "dragonfly_info"}) {
    auto probe = Build(*config, kind);
    ASSERT_NE(probe, nullptr);
    auto run = harness::RunProbeOnce(*probe, seconds(3));
    EXPECT_FALSE(run.result.success) << kind;
    ASSERT_TRUE(run.result.error) << kind;
    EXPECT_EQ(run.result.error->code, ErrorCode::kAuth) << kind << ": " << ErrorText(run.result);
    EXPECT_EQ(run.result.error->message.find(kWrong), std::string::npos);
  }
}

// Creates an ACL user limited to the probe prefix for one test; deletes it at the end.
class AclUser {
 public:
  AclUser(RedisEndpoint master, std::string name, std::string password)
      : master_(std::move(master)), name_(std::move(name)) {
    ok_ = Admin(master_,
                {"ACL", "SETUSER", name_, "reset", "on", ">" + password,
                 std::string("~") + kPrefix + "*", std::string("&") + kPrefix + "*", "+@all"})
              .has_value();
  }
  ~AclUser() { (void)Admin(master_, {"ACL", "DELUSER", name_}); }
  bool ok() const { return ok_; }

 private:
  RedisEndpoint master_;
  std::string name_;
  bool ok_ = false;
};

// Pins: an ACL user (AUTH username password) limited to the prefix's keys and channels runs
// structures and pubsub; its password is never in an error.
TEST(DragonflyValidationTest, AclUserRunsStructuresAndPubsub) {
  REQUIRE_REDIS();
  constexpr char kAclPassword[] = "acl-probe-secret-91c2";
  auto admin_config = StackConfig(kAllProbes);
  AclUser user(Master(*admin_config), "dbcanary_probe", kAclPassword);
  ASSERT_TRUE(user.ok());
  setenv("DBCANARY_TEST_DF_ACL", kAclPassword, 1);
  auto config =
      StackConfig(kAllProbes, "username: dbcanary_probe, password: \"${DBCANARY_TEST_DF_ACL}\"");
  for (const char* kind : {"dragonfly_structures", "dragonfly_pubsub"}) {
    auto probe = Build(*config, kind);
    ASSERT_NE(probe, nullptr);
    auto run = harness::RunProbeOnce(*probe, seconds(3));
    EXPECT_TRUE(run.result.success) << kind << ": " << ErrorText(run.result);
  }
  // The same user with a wrong password: WRONGPASS -> kAuth, no secret in the message.
  setenv("DBCANARY_TEST_DF_ACL", "not-the-acl-password", 1);
  auto wrong =
      StackConfig(kAllProbes, "username: dbcanary_probe, password: \"${DBCANARY_TEST_DF_ACL}\"");
  auto probe = Build(*wrong, "dragonfly_structures");
  ASSERT_NE(probe, nullptr);
  auto run = harness::RunProbeOnce(*probe, seconds(3));
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::kAuth);
  EXPECT_EQ(run.result.error->message.find("not-the-acl-password"), std::string::npos);
  EXPECT_EQ(run.result.error->message.find(kAclPassword), std::string::npos);
}

// ------------------------------------------------------------------------------------------
// Fake servers: answer every read with one scripted reply (or a partial one, then nothing).

class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply) : reply_(std::move(reply)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "scripted server: cannot listen";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : clients_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;
  int port() const { return port_; }
  // Clients still connected (the probe must have closed its connections).
  int open_clients() const { return open_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (int fd : clients_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) clients_.push_back(fd);
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buffer[4096];
        ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
        if (got <= 0) {
          close(fds[i].fd);
          clients_.erase(std::find(clients_.begin(), clients_.end(), fds[i].fd));
        } else {
          (void)!write(fds[i].fd, reply_.data(), reply_.size());
        }
      }
      open_ = static_cast<int>(clients_.size());
    }
  }

  std::string reply_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::thread thread_;
  std::vector<int> clients_;
};

std::shared_ptr<const Config> FakeConfig(int port) {
  std::string text = fmt::format(
      "dragonfly:\n"
      "  - name: df\n"
      "    master: {{ name: fake-0, host: 127.0.0.1, port: {} }}\n"
      "    replicas: [ {{ name: fake-1, host: 127.0.0.1, port: {} }} ]\n"
      "    probes:\n"
      "      dragonfly_structures: {{ timeout: 1s }}\n"
      "      dragonfly_pubsub: {{ timeout: 1s }}\n"
      "      dragonfly_replication: {{ timeout: 1s }}\n"
      "      dragonfly_info: {{ timeout: 1s }}\n",
      port, port);
  auto config = ParseConfig(text, "fake.yaml");
  EXPECT_TRUE(config) << config.error().message;
  return config ? *config : std::make_shared<const Config>();
}

// Pins: MOVED/READONLY/LOADING/OOM error replies, replies of the wrong type and a server that
// stalls mid-reply fail every probe with a bounded reason, without a crash or a leaked socket.
TEST(DragonflyValidationTest, FaultyServersFailWithBoundedReasons) {
  struct Case {
    const char* name;
    std::string reply;
    ErrorCode code;
    const char* needle;  // expected in the message
  };
  const std::vector<Case> cases = {
      {"moved", "-MOVED 3999 127.0.0.1:6381\r\n", ErrorCode::kQuery, "MOVED"},
      {"readonly", "-READONLY You can't write against a read only replica.\r\n", ErrorCode::kQuery,
       "READONLY"},
      {"loading", "-LOADING Redis is loading the dataset in memory\r\n", ErrorCode::kQuery,
       "LOADING"},
      {"oom", "-OOM command not allowed when used memory > 'maxmemory'.\r\n", ErrorCode::kQuery,
       "OOM"},
      {"integer", ":42\r\n", ErrorCode::kProtocol, "integer"},
      {"stall", "$100\r\nabc", ErrorCode::kTimeout, "deadline"},
  };
  constexpr milliseconds kBudget{1000};
  int fds_before = OpenFds();
  for (const auto& c : cases) {
    ScriptedServer server(c.reply);
    auto config = FakeConfig(server.port());
    for (const char* kind :
         {"dragonfly_structures", "dragonfly_pubsub", "dragonfly_replication", "dragonfly_info"}) {
      auto probe = Build(*config, kind);
      ASSERT_NE(probe, nullptr);
      // 1 s: ample for the first (error) reply on a loaded host, so an error case is never
      // mistaken for a timeout; the stalled case runs into it.
      auto run = harness::RunProbeOnce(*probe, kBudget);
      EXPECT_FALSE(run.result.success) << c.name << " " << kind;
      ASSERT_TRUE(run.result.error) << c.name << " " << kind;
      EXPECT_EQ(run.result.error->code, c.code)
          << c.name << " " << kind << ": " << ErrorText(run.result);
      EXPECT_NE(run.result.error->message.find(c.needle), std::string::npos)
          << c.name << " " << kind << ": " << run.result.error->message;
      // Bounded by the deadline (room for a loaded host, far below the 5 s connect_timeout and
      // the stalled reply, which never completes).
      EXPECT_LE(run.seconds, 1.0 + harness::kDeadlineSlackSeconds) << c.name << " " << kind;
    }
  }
  EXPECT_EQ(OpenFds(), fds_before) << "a probe leaked a socket";
}

}  // namespace
}  // namespace dbcanary
