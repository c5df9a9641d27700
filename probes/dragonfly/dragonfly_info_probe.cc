#include "probes/dragonfly/dragonfly_info_probe.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_util.h"

namespace dbcanary {
namespace {

constexpr char kServerInfo[] = "dbcanary_dragonfly_server_info";
constexpr char kUp[] = "dbcanary_dragonfly_server_up";
constexpr char kStartTime[] = "dbcanary_dragonfly_start_time_seconds";
constexpr char kMemoryUsed[] = "dbcanary_dragonfly_memory_used_bytes";
constexpr char kMemoryMax[] = "dbcanary_dragonfly_memory_max_bytes";
constexpr char kConnectedClients[] = "dbcanary_dragonfly_connected_clients";
constexpr char kBlockedClients[] = "dbcanary_dragonfly_blocked_clients";
constexpr char kHits[] = "dbcanary_dragonfly_keyspace_hits_total";
constexpr char kMisses[] = "dbcanary_dragonfly_keyspace_misses_total";
constexpr char kExpired[] = "dbcanary_dragonfly_expired_keys_total";
constexpr char kEvicted[] = "dbcanary_dragonfly_evicted_keys_total";
constexpr char kLastSave[] = "dbcanary_dragonfly_last_save_timestamp_seconds";
constexpr char kLastSaveOk[] = "dbcanary_dragonfly_last_save_ok";
constexpr char kChanges[] = "dbcanary_dragonfly_changes_since_last_save";
constexpr char kAof[] = "dbcanary_dragonfly_aof_enabled";
constexpr char kRdb[] = "dbcanary_dragonfly_rdb_enabled";
constexpr char kSaving[] = "dbcanary_dragonfly_save_in_progress";

constexpr char kLastSaveAgeCheck[] = "max_last_save_age_seconds";
constexpr char kLastSaveCheck[] = "last_save_succeeded";

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// CONFIG GET <name> -> [name, value]: whether the value is non-empty. nullopt when the server
// refuses (NOPERM for a restricted ACL user, or a renamed/disabled CONFIG) or lacks the field.
std::optional<bool> SnapshotScheduleConfigured(RedisClient& client, const std::string& mode,
                                               std::optional<Error>* io_error) {
  const char* name = mode == "dragonfly" ? "snapshot_cron" : "save";
  auto reply = client.Command({"CONFIG", "GET", name});
  if (!reply) {
    if (!client.connected()) *io_error = reply.error();
    return std::nullopt;
  }
  if (!reply->Is(RedisType::kArray) || reply->size() != 2) return std::nullopt;
  return !(*reply)[1].text().empty();
}

}  // namespace

ExpectationResult LastSaveSucceeded(const std::string& server, const RedisInfoFacts& facts) {
  const bool ok = facts.last_save_ok.value_or(false);
  ExpectationResult check = ExpectNumber(kLastSaveCheck, server, ok ? 1 : 0, "==", 1);
  if (ok) {
    check.observed_text = "ok";
  } else if (!facts.last_save_error.empty()) {
    check.observed_text = "failed: " + facts.last_save_error;
  } else {
    check.observed_text = "failed (the server's log says why)";
  }
  check.expected_text = "last save succeeded";
  return check;
}

const std::vector<MetricDesc>& DragonflyInfoMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kServerInfo,
       "Always 1 for a server that answered INFO; labels carry its version and mode "
       "(redis|dragonfly).",
       MetricType::kGauge},
      {kUp, "Whether the server answered INFO in the last run (1) or not (0).", MetricType::kGauge},
      {kStartTime, "Unix time the server started (now minus uptime_in_seconds).",
       MetricType::kGauge},
      {kMemoryUsed, "Memory used by the server's data (INFO used_memory), in bytes.",
       MetricType::kGauge},
      {kMemoryMax, "The server's memory limit (INFO maxmemory; 0 = no limit), in bytes.",
       MetricType::kGauge},
      {kConnectedClients, "Client connections open on the server.", MetricType::kGauge},
      {kBlockedClients, "Clients blocked in a blocking command.", MetricType::kGauge},
      {kHits, "Successful key lookups since the server started.", MetricType::kCounter},
      {kMisses, "Failed key lookups since the server started.", MetricType::kCounter},
      {kExpired, "Keys removed because their expiry passed, since the server started.",
       MetricType::kCounter},
      {kEvicted, "Keys evicted under the memory limit, since the server started.",
       MetricType::kCounter},
      {kLastSave,
       "Unix time of the last successful snapshot (rdb_last_save_time / "
       "last_success_save).",
       MetricType::kGauge},
      {kLastSaveOk, "Whether the last snapshot attempt succeeded (1) or failed (0).",
       MetricType::kGauge},
      {kChanges, "Writes since the last successful snapshot.", MetricType::kGauge},
      {kAof, "Whether the append-only file is enabled (Redis only; Dragonfly has none).",
       MetricType::kGauge},
      {kRdb, "Whether a snapshot schedule is configured (CONFIG GET save / snapshot_cron).",
       MetricType::kGauge},
      {kSaving, "Whether a snapshot is being written right now.", MetricType::kGauge},
  };
  return descs;
}

void AppendInfoSamples(const std::string& target, const std::string& server,
                       const RedisInfoFacts& facts, std::optional<bool> rdb_enabled,
                       double now_unix, ProbeResult& result) {
  Labels labels{{"target", target}, {"server", server}};
  auto add = [&](const char* name, std::optional<double> value) {
    if (value) result.Add(name, labels, *value);
  };
  auto flag = [](std::optional<bool> value) -> std::optional<double> {
    if (!value) return std::nullopt;
    return *value ? 1.0 : 0.0;
  };
  result.Add(
      kServerInfo,
      {{"target", target}, {"server", server}, {"version", facts.version}, {"mode", facts.mode}},
      1);
  if (facts.uptime_seconds)
    result.Add(kStartTime, labels, std::floor(now_unix - *facts.uptime_seconds));
  add(kMemoryUsed, facts.used_memory_bytes);
  add(kMemoryMax, facts.max_memory_bytes);
  add(kConnectedClients, facts.connected_clients);
  add(kBlockedClients, facts.blocked_clients);
  add(kHits, facts.keyspace_hits);
  add(kMisses, facts.keyspace_misses);
  add(kExpired, facts.expired_keys);
  add(kEvicted, facts.evicted_keys);
  // 0 means "never saved" on both servers: no timestamp then.
  if (facts.last_save_time && *facts.last_save_time > 0) {
    result.Add(kLastSave, labels, *facts.last_save_time);
  }
  add(kLastSaveOk, flag(facts.last_save_ok));
  add(kChanges, facts.changes_since_last_save);
  add(kAof, flag(facts.aof_enabled));
  add(kRdb, flag(rdb_enabled));
  add(kSaving, flag(facts.save_in_progress));
}

DragonflyInfoProbe::DragonflyInfoProbe(const Dragonfly& target, DragonflyMemberLister members,
                                       Options options)
    : target_(target.name), members_(std::move(members)), options_(options) {}

const std::vector<MetricDesc>& DragonflyInfoProbe::Describe() const {
  return DragonflyInfoMetricDescs();
}

ProbeResult DragonflyInfoProbe::Run(const ProbeContext& ctx) {
  ProbeResult result;
  auto fail = [&result](const Error& error) {
    if (!result.error) result.Fail(error);
  };
  auto unknown_save_age = [&](const std::string& server) {
    // A server that could not be asked fails its declared check (observed "unknown").
    if (options_.max_last_save_age_seconds) {
      result.expectations.push_back(ExpectNumber(kLastSaveAgeCheck, server,
                                                 std::numeric_limits<double>::quiet_NaN(),
                                                 "<=", *options_.max_last_save_age_seconds));
    }
  };
  // Every member of the moment (configured, or the pods discovered now), master or not.
  auto listed = members_(Deadline::In(ctx.deadline.Remaining() / 3));
  if (!listed) {
    result.Fail(Error{listed.error().code, "dragonfly " + target_ + ": members not discovered: " +
                                               listed.error().message});
    return result;
  }
  for (const auto& server : listed->members) {
    Labels labels{{"target", target_}, {"server", server.name}};
    if (ctx.stop.stop_requested()) {
      fail(MakeError(ErrorCode::kStopped, target_ + ": stopped (shutdown or reload)"));
      result.Add(kUp, labels, 0);
      unknown_save_age(server.name);
      continue;
    }
    auto client = RedisClient::Connect(server, ctx.deadline);
    if (!client) {
      fail(client.error());
      result.Add(kUp, labels, 0);
      unknown_save_age(server.name);
      continue;
    }
    auto text = RedisInfoText(*client, "ALL");
    if (!text) {
      fail(text.error());
      result.Add(kUp, labels, 0);
      unknown_save_age(server.name);
      continue;
    }
    RedisInfo info = RedisInfo::Parse(*text);
    RedisInfoFacts facts = ExtractInfoFacts(info);
    if (info.size() == 0 || facts.version.empty()) {
      fail(RedisProblem(*client, ErrorCode::kProtocol, "INFO",
                        "the reply has no redis_version or dragonfly_version field"));
      result.Add(kUp, labels, 0);
      unknown_save_age(server.name);
      continue;
    }
    std::optional<bool> rdb_enabled;
    if (options_.config_get) {
      std::optional<Error> io_error;
      rdb_enabled = SnapshotScheduleConfigured(*client, facts.mode, &io_error);
      if (io_error) fail(*io_error);
    }
    result.Add(kUp, labels, 1);
    double now = UnixNow();
    AppendInfoSamples(target_, server.name, facts, rdb_enabled, now, result);
    if (facts.last_save_ok) result.expectations.push_back(LastSaveSucceeded(server.name, facts));
    if (options_.max_last_save_age_seconds) {
      double age = std::numeric_limits<double>::quiet_NaN();
      if (facts.last_save_time && *facts.last_save_time > 0) {
        age = std::max(0.0, now - *facts.last_save_time);
      }
      ExpectationResult expectation = ExpectNumber(kLastSaveAgeCheck, server.name, age,
                                                   "<=", *options_.max_last_save_age_seconds);
      // A failed last save fails the check too: its age is that of an older snapshot.
      if (facts.last_save_ok && !*facts.last_save_ok) {
        expectation.pass = false;
        expectation.observed_text += " (last save failed)";
      }
      result.expectations.push_back(std::move(expectation));
    }
  }
  result.success = !result.error.has_value();
  return result;
}

Result<std::unique_ptr<Probe>> CreateDragonflyInfoProbe(const ProbeSettings& settings,
                                                        const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target =
        RequireTarget(settings, config.FindDragonfly(settings.target), "no dragonfly target");
    DragonflyInfoProbe::Options options;
    if (settings.params) {
      YamlMap& params = *settings.params;
      if (auto value = params.Bool("config_get")) options.config_get = *value;
      if (auto expect = params.Map("expect")) {
        options.max_last_save_age_seconds =
            expect->Number("max_last_save_age_seconds", 1, 365.0 * 86400);
        expect->Finish();
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(std::make_unique<DragonflyInfoProbe>(
        *target, MakeDragonflyMemberLister(*target, config), options));
  });
}

}  // namespace dbcanary
