#include "drills/persistence/dragonfly_persistence_drill.h"

#include <fmt/format.h>

#include <algorithm>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "clients/redis/redis_util.h"
#include "core/random.h"
#include "drills/command.h"
#include "drills/health.h"
#include "drills/runtime/ownership.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

constexpr char kRecoverySeconds[] = "dbcanary_drill_dragonfly_persistence_recovery_seconds";
constexpr char kSaveSeconds[] = "dbcanary_drill_dragonfly_persistence_save_seconds";
constexpr char kKeysWritten[] = "dbcanary_drill_dragonfly_persistence_keys_written";
constexpr char kKeysVerified[] = "dbcanary_drill_dragonfly_persistence_keys_verified";
constexpr char kReplicaLinkSeconds[] = "dbcanary_drill_dragonfly_persistence_replica_link_seconds";

constexpr int kHashFields = 10;
constexpr int kSetMembers = 10;
constexpr int kBatch = 500;

const std::vector<MetricDesc>& PersistenceFamilies() {
  static const std::vector<MetricDesc> families = {
      {kRecoverySeconds,
       "Time from triggering the master's restart until it answered PING with its dataset loaded.",
       MetricType::kGauge},
      {kSaveSeconds, "Time the SAVE before the restart took, until LASTSAVE advanced.",
       MetricType::kGauge},
      {kKeysWritten, "Keys (plus one hash and one set) the drill wrote before the restart.",
       MetricType::kGauge},
      {kKeysVerified, "Of those, the ones read back intact after the restart.", MetricType::kGauge},
      {kReplicaLinkSeconds,
       "Time from the master serving again until the replica reported master_link_status:up.",
       MetricType::kGauge},
  };
  return families;
}

std::string HashValue(const std::string& token, int field) {
  return fmt::format("h:{}:{}", token, field);
}
std::string SetMember(const std::string& token, int member) {
  return fmt::format("s:{}:{}", token, member);
}

struct ServerState {
  bool loading = true;
  std::string run_id;
  std::optional<double> uptime;
};

// Whether INFO reports a save of the server's own running; nullopt when INFO fails.
std::optional<bool> SaveRunning(RedisClient& client) {
  auto text = RedisInfoText(client, "all");
  if (!text) return std::nullopt;
  return ExtractInfoFacts(RedisInfo::Parse(*text)).save_in_progress;
}

// PING, then INFO: loading flag, run_id, uptime.
Result<ServerState> Inspect(RedisClient& client) {
  auto pong = client.Command({"PING"});
  if (!pong) return pong.error();
  auto text = RedisInfoText(client, "all");
  if (!text) return text.error();
  RedisInfo info = RedisInfo::Parse(*text);
  ServerState state;
  state.loading = info.Number("loading").value_or(0) != 0;
  state.run_id = std::string(info.Text("run_id").value_or(""));
  state.uptime = info.Number("uptime_in_seconds");
  return state;
}

// The state of one run, shared by its phases (DragonflyPersistenceDrill::Run).
struct PersistenceRun {
  explicit PersistenceRun(const DrillContext& context, const std::string& target)
      : ctx(context), labels{{"target", target}} {}

  const DrillContext& ctx;
  const Labels labels;
  const std::string token = RandomHex64();  // in every value: tells this run's data apart
  DrillResult result;
  std::optional<RedisClient> client;  // to the master until the restart
  ServerState state_before;           // the master as the restart found it
  SteadyClock::time_point restart_start;
  std::optional<RedisClient> fresh;  // to the restarted master
};

class DragonflyPersistenceDrill : public Drill {
 public:
  DragonflyPersistenceDrill(DragonflyPersistenceParams params, Dragonfly dragonfly)
      : params_(std::move(params)), dragonfly_(std::move(dragonfly)) {}

  const std::vector<MetricDesc>& Describe() const override { return PersistenceFamilies(); }

  Status CleanUp(const DrillContext& ctx) override {
    auto client = RedisClient::Connect(dragonfly_.master, ctx.deadline);
    if (!client) return client.error();
    // The prefix is configured: escaped, its glob specials match only themselves, so the
    // pattern covers the drill's keys and nothing else.
    const std::string pattern = PersistenceScanPattern(dragonfly_.key_prefix);
    std::string cursor = "0";
    do {
      auto reply = client->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!reply) return reply.error();
      if (!reply->Is(RedisType::kArray) || reply->size() != 2) {
        return RedisProblem(*client, ErrorCode::kProtocol, "scan", "unexpected SCAN reply");
      }
      cursor = std::string((*reply)[0].text());
      RedisValue keys = (*reply)[1];
      if (keys.size() > 0) {
        std::vector<std::string> argv{"UNLINK"};
        for (size_t i = 0; i < keys.size(); ++i) argv.emplace_back(keys[i].text());
        if (auto deleted = Send(*client, argv); !deleted) return deleted.error();
      }
    } while (cursor != "0");
    return Ok{};
  }

  Status CheckPreconditions(const DrillContext& ctx) override {
    return CheckDragonflyHealthy(dragonfly_, ctx);
  }

  // The phases in order; a phase that returns false has recorded why the run ends there.
  DrillResult Run(const DrillContext& ctx) override {
    PersistenceRun run(ctx, dragonfly_.name);
    if (WriteKeys(run) && Save(run) && Restart(run) && Recover(run) && Verify(run) &&
        params_.check_replicas) {
      for (const auto& replica : dragonfly_.replicas) WaitReplica(run, replica);
    }
    return std::move(run.result);
  }

 private:
  static Result<RedisReply> Send(RedisClient& client, const std::vector<std::string>& argv) {
    std::vector<std::string_view> views(argv.begin(), argv.end());
    return client.Command(std::span<const std::string_view>(views));
  }

  // Records `phase` as failed with `error` and makes it the run's error; false for the caller.
  bool Failed(PersistenceRun& run, const char* phase, SteadyClock::time_point start,
              const Error& error) const {
    std::string message = dragonfly_.name + ": " + phase + ": " + error.message;
    run.result.AddPhase(phase, SecondsSince(start), false, message);
    run.result.Fail(error.code, message);
    return false;
  }

  bool WriteKeys(PersistenceRun& run) const;
  bool Save(PersistenceRun& run) const;
  static Status SaveWaitingOutOthers(RedisClient& client, const DrillContext& ctx);
  bool Restart(PersistenceRun& run) const;
  bool Recover(PersistenceRun& run) const;
  Result<RedisClient> ConnectRestarted(PersistenceRun& run) const;
  bool Verify(PersistenceRun& run) const;
  Result<int> CountIntactKeys(RedisClient& client, const std::string& token) const;
  Result<bool> HashIntact(RedisClient& client, const std::string& token) const;
  Result<bool> SetIntact(RedisClient& client, const std::string& token) const;
  void WaitReplica(PersistenceRun& run, const RedisEndpoint& replica) const;

  DragonflyPersistenceParams params_;
  Dragonfly dragonfly_;
};

// ---- write_keys: the keys (in MSET batches), a hash and a set
bool DragonflyPersistenceDrill::WriteKeys(PersistenceRun& run) const {
  const auto start = SteadyClock::now();
  run.ctx.progress(
      fmt::format("writing {} keys, a hash and a set on {}", params_.keys, dragonfly_.master.name));
  auto client = RedisClient::Connect(dragonfly_.master, run.ctx.deadline);
  if (!client) return Failed(run, "write_keys", start, client.error());
  run.client.emplace(std::move(*client));
  for (int first = 0; first < params_.keys; first += kBatch) {
    std::vector<std::string> argv{"MSET"};
    for (int i = first; i < std::min(params_.keys, first + kBatch); ++i) {
      argv.push_back(PersistenceKey(dragonfly_.key_prefix, i));
      argv.push_back(PersistenceValue(run.token, i));
    }
    if (auto sent = Send(*run.client, argv); !sent) {
      return Failed(run, "write_keys", start, sent.error());
    }
  }
  std::vector<std::string> hset{"HSET", PersistenceHashKey(dragonfly_.key_prefix)};
  for (int f = 0; f < kHashFields; ++f) {
    hset.push_back("f" + std::to_string(f));
    hset.push_back(HashValue(run.token, f));
  }
  std::vector<std::string> sadd{"SADD", PersistenceSetKey(dragonfly_.key_prefix)};
  for (int m = 0; m < kSetMembers; ++m) sadd.push_back(SetMember(run.token, m));
  for (const auto* argv : {&hset, &sadd}) {
    if (auto sent = Send(*run.client, *argv); !sent) {
      return Failed(run, "write_keys", start, sent.error());
    }
  }
  run.result.Add(kKeysWritten, run.labels, params_.keys);
  run.result.AddPhase("write_keys", SecondsSince(start), true,
                      fmt::format("{} keys, hash of {} fields, set of {} members", params_.keys,
                                  kHashFields, kSetMembers));
  return true;
}

// ---- save: SAVE, and LASTSAVE must advance; then the server's identity before the restart
bool DragonflyPersistenceDrill::Save(PersistenceRun& run) const {
  const DrillContext& ctx = run.ctx;
  RedisClient& client = *run.client;
  const auto start = SteadyClock::now();
  ctx.progress("SAVE on " + dragonfly_.master.name);
  auto before = client.Command({"LASTSAVE"});
  if (!before) return Failed(run, "save", start, before.error());
  // LASTSAVE has whole seconds: a save within the same second would not show.
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (static_cast<long long>(now) <= before->integer()) {
    PauseDrill(ctx, milliseconds(
                        static_cast<int>((1.0 - (now - static_cast<long long>(now))) * 1000) + 20));
  }
  if (auto saved = SaveWaitingOutOthers(client, ctx); !saved) {
    return Failed(run, "save", start, saved.error());
  }
  long long lastsave = 0;
  for (;;) {
    auto after = client.Command({"LASTSAVE"});
    if (!after) return Failed(run, "save", start, after.error());
    lastsave = after->integer();
    if (lastsave > before->integer()) break;
    if (!PauseDrill(ctx, milliseconds(100))) {
      return Failed(run, "save", start,
                    Error{ErrorCode::kTimeout, "LASTSAVE did not advance after SAVE"});
    }
  }
  run.result.Add(kSaveSeconds, run.labels, SecondsSince(start));
  run.result.AddPhase("save", SecondsSince(start), true,
                      fmt::format("LASTSAVE {} -> {}", before->integer(), lastsave));
  auto state_before = Inspect(client);
  if (!state_before) return Failed(run, "save", start, state_before.error());
  run.state_before = std::move(*state_before);
  run.client.reset();  // closed before the restart
  return true;
}

// SAVE, sent again while a save of the server's own (save rules, a replica's full sync) makes
// it refuse: such a save is waited out (see ShouldRetrySave). The error of the last SAVE when
// it is not retried.
Status DragonflyPersistenceDrill::SaveWaitingOutOthers(RedisClient& client,
                                                       const DrillContext& ctx) {
  for (bool refused_before = false;;) {
    auto saved = client.Command({"SAVE"});
    if (saved) return Ok{};
    const std::optional<bool> running =
        saved.error().cause.redis_error.empty() ? std::nullopt : SaveRunning(client);
    if (!ShouldRetrySave(saved.error(), running, refused_before) ||
        !PauseDrill(ctx, milliseconds(running.value_or(false) ? 200 : 0))) {
      return saved.error();
    }
    if (!running.value_or(false)) refused_before = true;
  }
}

// ---- restart: the configured command restarts the master
bool DragonflyPersistenceDrill::Restart(PersistenceRun& run) const {
  const DrillContext& ctx = run.ctx;
  run.restart_start = SteadyClock::now();
  const auto start = run.restart_start;
  ctx.progress("restarting " + dragonfly_.master.name + ": " +
               DescribeCommand(params_.restart_command));
  auto outcome = RunDrillCommand(params_.restart_command, ctx.command_env, ctx.deadline, ctx.stop);
  if (!outcome) return Failed(run, "restart", start, outcome.error());
  run.result.AddEvidence("restart command output", outcome->output);
  if (outcome->exit_code != 0) {
    return Failed(run, "restart", start,
                  Error{ErrorCode::kUnexpected, "restart command exited with " +
                                                    std::to_string(outcome->exit_code) + ": " +
                                                    LastLines(outcome->output, 3)});
  }
  run.result.AddPhase("restart", SecondsSince(start), true, "restart command done");
  return true;
}

// ---- recover: serving again, dataset loaded, and really a new process
bool DragonflyPersistenceDrill::Recover(PersistenceRun& run) const {
  const auto recover_start = SteadyClock::now();
  for (;;) {
    auto fresh = ConnectRestarted(run);
    if (fresh) {
      run.fresh.emplace(std::move(*fresh));
      break;
    }
    if (!PauseDrill(run.ctx, milliseconds(100))) {
      return Failed(run, "recover", recover_start, fresh.error());
    }
  }
  const double recovery = SecondsSince(run.restart_start);
  run.result.Add(kRecoverySeconds, run.labels, recovery);
  run.result.AddPhase(
      "recover", SecondsSince(recover_start), true,
      fmt::format("serving with its dataset {:.3f} s after the restart began", recovery));
  if (params_.max_recovery_seconds) {
    run.result.expectations.push_back(ExpectNumber("max_recovery_seconds", dragonfly_.name,
                                                   recovery, "<=", *params_.max_recovery_seconds));
  }
  return true;
}

// One attempt: a connection to the master once it serves with its dataset loaded and is not the
// process from before the restart; else why not yet.
Result<RedisClient> DragonflyPersistenceDrill::ConnectRestarted(PersistenceRun& run) const {
  auto attempt = RedisClient::Connect(dragonfly_.master, Deadline::In(milliseconds(1000)));
  if (!attempt) return attempt.error();
  auto state = Inspect(*attempt);
  if (!state) return state.error();
  if (!state->loading && RestartedSince(run.state_before.run_id, state->run_id, state->uptime,
                                        SecondsSince(run.restart_start) + 1)) {
    return std::move(*attempt);
  }
  return Error{ErrorCode::kUnexpected, state->loading ? "still loading" : "not restarted yet"};
}

// ---- verify: every key, the hash and the set hold this run's values
bool DragonflyPersistenceDrill::Verify(PersistenceRun& run) const {
  const auto start = SteadyClock::now();
  RedisClient& fresh = *run.fresh;
  fresh.set_deadline(run.ctx.deadline);
  auto verified = CountIntactKeys(fresh, run.token);
  if (!verified) return Failed(run, "verify", start, verified.error());
  auto hash_ok = HashIntact(fresh, run.token);
  if (!hash_ok) return Failed(run, "verify", start, hash_ok.error());
  auto set_ok = SetIntact(fresh, run.token);
  if (!set_ok) return Failed(run, "verify", start, set_ok.error());
  const int total = *verified + (*hash_ok ? 1 : 0) + (*set_ok ? 1 : 0);
  run.result.Add(kKeysVerified, run.labels, *verified);
  run.result.expectations.push_back(
      ExpectNumber("keys_verified", dragonfly_.name, total, "==", params_.keys + 2));
  std::string detail = fmt::format("{}/{} keys intact, hash {}, set {}", *verified, params_.keys,
                                   *hash_ok ? "intact" : "damaged", *set_ok ? "intact" : "damaged");
  run.result.AddPhase("verify", SecondsSince(start), true, detail);
  run.result.AddEvidence("verification", detail);
  auto after_info = RedisInfoText(fresh, "persistence");
  if (after_info) run.result.AddEvidence("INFO persistence after the restart", *after_info);
  return true;
}

// How many of the keys hold this run's value (MGET in batches).
Result<int> DragonflyPersistenceDrill::CountIntactKeys(RedisClient& client,
                                                       const std::string& token) const {
  int verified = 0;
  for (int first = 0; first < params_.keys; first += kBatch) {
    std::vector<std::string> argv{"MGET"};
    for (int i = first; i < std::min(params_.keys, first + kBatch); ++i) {
      argv.push_back(PersistenceKey(dragonfly_.key_prefix, i));
    }
    auto reply = Send(client, argv);
    if (!reply) return reply.error();
    std::vector<std::optional<std::string>> values;
    for (size_t i = 0; i < reply->size(); ++i) {
      RedisValue value = (*reply)[i];
      if (value.Is(RedisType::kString)) {
        values.emplace_back(std::string(value.text()));
      } else {
        values.emplace_back(std::nullopt);
      }
    }
    verified += CountVerified(values, token, first);
  }
  return verified;
}

// Every field of the hash holds this run's value (stops at the first that does not).
Result<bool> DragonflyPersistenceDrill::HashIntact(RedisClient& client,
                                                   const std::string& token) const {
  for (int f = 0; f < kHashFields; ++f) {
    const std::string field = "f" + std::to_string(f);
    auto value = client.Command({"HGET", PersistenceHashKey(dragonfly_.key_prefix), field});
    if (!value) return value.error();
    if (!value->Is(RedisType::kString) || value->text() != HashValue(token, f)) return false;
  }
  return true;
}

// The set has exactly this run's members.
Result<bool> DragonflyPersistenceDrill::SetIntact(RedisClient& client,
                                                  const std::string& token) const {
  auto card = client.Command({"SCARD", PersistenceSetKey(dragonfly_.key_prefix)});
  if (!card) return card.error();
  if (card->integer() != kSetMembers) return false;
  for (int m = 0; m < kSetMembers; ++m) {
    const std::string wanted = SetMember(token, m);
    auto member = client.Command({"SISMEMBER", PersistenceSetKey(dragonfly_.key_prefix), wanted});
    if (!member) return member.error();
    if (member->integer() != 1) return false;
  }
  return true;
}

// ---- replica_link: the replica reports master_link_status:up again. Not a run error when it
// does not: the replica_linked expectation fails instead.
void DragonflyPersistenceDrill::WaitReplica(PersistenceRun& run,
                                            const RedisEndpoint& replica) const {
  DrillResult& result = run.result;
  auto start = SteadyClock::now();
  run.ctx.progress("waiting for " + replica.name + " to re-attach");
  std::string last = "not asked";
  for (;;) {
    auto client = RedisClient::Connect(replica, Deadline::In(milliseconds(1000)));
    if (client) {
      auto text = RedisInfoText(*client, "replication");
      if (text) {
        RedisInfo info = RedisInfo::Parse(*text);
        std::string status(info.Text("master_link_status").value_or("absent"));
        if (status == "up") break;
        last = "master_link_status:" + status;
      } else {
        last = text.error().message;
      }
    } else {
      last = client.error().message;
    }
    if (!PauseDrill(run.ctx, milliseconds(200))) {
      result.AddPhase("replica_link", SecondsSince(start), false, replica.name + ": " + last);
      result.expectations.push_back(ExpectNumber("replica_linked", replica.name, 0, "==", 1));
      return;
    }
  }
  double seconds = SecondsSince(start);
  Labels replica_labels = run.labels;
  replica_labels.emplace_back("replica", replica.name);
  result.Add(kReplicaLinkSeconds, replica_labels, seconds);
  result.AddPhase("replica_link", seconds, true, replica.name + ": master_link_status:up");
  result.expectations.push_back(ExpectNumber("replica_linked", replica.name, 1, "==", 1));
}

}  // namespace

std::string PersistenceKey(const std::string& prefix, int index) {
  return prefix + "drill:persistence:k:" + std::to_string(index);
}
std::string PersistenceScanPattern(const std::string& prefix) {
  return EscapeGlob(prefix + "drill:persistence:") + "*";
}
std::string PersistenceHashKey(const std::string& prefix) {
  return prefix + "drill:persistence:hash";
}
std::string PersistenceSetKey(const std::string& prefix) {
  return prefix + "drill:persistence:set";
}
std::string PersistenceValue(const std::string& token, int index) {
  return fmt::format("v:{}:{}", token, index);
}

int CountVerified(const std::vector<std::optional<std::string>>& values, const std::string& token,
                  int first) {
  int verified = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] && *values[i] == PersistenceValue(token, first + static_cast<int>(i))) ++verified;
  }
  return verified;
}

bool RestartedSince(const std::string& run_id_before, const std::string& run_id_now,
                    std::optional<double> uptime_seconds, double seconds_since_trigger) {
  if (!run_id_before.empty() && !run_id_now.empty()) return run_id_before != run_id_now;
  return uptime_seconds && *uptime_seconds <= seconds_since_trigger;
}

bool ShouldRetrySave(const Error& error, std::optional<bool> save_running, bool refused_before) {
  if (error.cause.redis_error.empty()) return false;  // not an answer of the server
  if (save_running.value_or(false)) return true;
  return !refused_before;
}

DragonflyPersistenceParams ReadDragonflyPersistenceParams(YamlMap& params, const Config& config) {
  DragonflyPersistenceParams p;
  p.dragonfly = params.RequiredString("dragonfly");
  const Dragonfly* dragonfly = config.FindDragonfly(p.dragonfly);
  if (dragonfly == nullptr) {
    params.Fail("dragonfly", "no dragonfly target named \"" + p.dragonfly + "\"");
  }
  if (dragonfly->discover) {
    params.Fail(
        "dragonfly",
        "\"" + p.dragonfly + "\" discovers its members: this drill needs master: and replicas:");
  }
  p.keys = static_cast<int>(params.Int("keys", 1, 100000).value_or(p.keys));
  auto restart = params.Map("restart");
  if (!restart) params.Fail("restart", "is required: { command: [argv] }");
  p.restart_command = restart->ListOfStrings("command");
  if (p.restart_command.empty() || p.restart_command[0].empty()) {
    restart->Fail("command", "must be a non-empty list (argv, no shell)");
  }
  restart->Finish();
  p.check_replicas = params.Bool("check_replicas").value_or(true);
  if (auto expect = params.Map("expect")) {
    p.max_recovery_seconds = expect->Number("max_recovery_seconds", 0, 1e9);
    expect->Finish();
  }
  params.Finish();
  return p;
}

Result<std::unique_ptr<Drill>> MakeDragonflyPersistenceDrill(const DrillSettings& settings,
                                                             const Config& config) {
  try {
    DragonflyPersistenceParams params = ReadDragonflyPersistenceParams(*settings.params, config);
    Dragonfly dragonfly = *config.FindDragonfly(params.dragonfly);
    return std::unique_ptr<Drill>(
        std::make_unique<DragonflyPersistenceDrill>(std::move(params), std::move(dragonfly)));
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

}  // namespace dbcanary
