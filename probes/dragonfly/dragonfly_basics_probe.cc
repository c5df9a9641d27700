#include "probes/dragonfly/dragonfly_basics_probe.h"

#include <fmt/format.h>

#include <array>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "clients/redis/redis_util.h"
#include "config/secret.h"
#include "core/duration.h"
#include "core/random.h"
#include "probes/dragonfly/dragonfly_ops.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kDefaultTtl{60};
constexpr std::chrono::hours kMaxTtl{24};
// Random bytes, any value: GET must hand back exactly what SET wrote, which also pins that
// arguments travel binary-safe.
constexpr size_t kValueBytes = 24;

// The ops of one run, in order: every one is exported each run.
constexpr std::array<std::string_view, 6> kOps = {"connect", "ping", "set", "get", "ttl", "del"};

Status Ping(RedisClient& client) {
  auto reply = client.Command({"PING"});
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kStatus) || reply->text() != "PONG") {
    return RedisProblem(client, ErrorCode::kProtocol, "PING",
                        "expected PONG, got " + ShowRedisReply(*reply));
  }
  return Ok{};
}

Status Set(RedisClient& client, const std::string& key, const std::string& value, seconds ttl) {
  std::string ttl_text = std::to_string(ttl.count());
  auto reply = client.Command({"SET", key, value, "EX", ttl_text});
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kStatus) || reply->text() != "OK") {
    return RedisProblem(client, ErrorCode::kProtocol, "SET",
                        "expected OK, got " + ShowRedisReply(*reply));
  }
  return Ok{};
}

Status Get(RedisClient& client, const std::string& key, const std::string& expected) {
  auto reply = client.Command({"GET", key});
  if (!reply) return reply.error();
  if (reply->Is(RedisType::kNil)) {
    return RedisProblem(client, ErrorCode::kUnexpected, "GET", "the key just written is missing");
  }
  if (!reply->Is(RedisType::kString)) {
    return RedisProblem(client, ErrorCode::kProtocol, "GET",
                        "expected a string, got " + ShowRedisReply(*reply));
  }
  if (reply->text() != expected) {
    return RedisProblem(client, ErrorCode::kUnexpected, "GET",
                        "read " + std::to_string(reply->text().size()) +
                            " bytes that differ from the " + std::to_string(expected.size()) +
                            " bytes written");
  }
  return Ok{};
}

Status Ttl(RedisClient& client, const std::string& key, seconds ttl) {
  auto reply = client.Command({"TTL", key});
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kInteger)) {
    return RedisProblem(client, ErrorCode::kProtocol, "TTL",
                        "expected an integer, got " + ShowRedisReply(*reply));
  }
  std::string problem = CheckBasicsTtl(reply->integer(), ttl);
  if (!problem.empty()) return RedisProblem(client, ErrorCode::kUnexpected, "TTL", problem);
  return Ok{};
}

Status Del(RedisClient& client, const std::string& key) {
  auto reply = client.Command({"DEL", key});
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kInteger)) {
    return RedisProblem(client, ErrorCode::kProtocol, "DEL",
                        "expected an integer, got " + ShowRedisReply(*reply));
  }
  if (reply->integer() != 1) {
    return RedisProblem(client, ErrorCode::kUnexpected, "DEL",
                        "removed " + std::to_string(reply->integer()) + " keys instead of 1");
  }
  return Ok{};
}

}  // namespace

std::string CheckBasicsTtl(long long observed, seconds ttl) {
  if (observed == -2) return "the key just written is missing";
  if (observed == -1) return "the key has no expiry although it was written with EX";
  if (observed <= 0 || observed > ttl.count()) {
    return "TTL " + std::to_string(observed) + "s is outside (0, " + std::to_string(ttl.count()) +
           "s]";
  }
  return "";
}

std::string MakeBasicsKey(std::string_view prefix) {
  return fmt::format("{}basics:{}", prefix, RandomHex64());
}

DragonflyBasicsProbe::DragonflyBasicsProbe(const Dragonfly& target, DragonflyMemberLister members,
                                           seconds ttl)
    : target_(target.name),
      members_(std::move(members)),
      key_prefix_(target.key_prefix),
      ttl_(ttl) {}

const std::vector<MetricDesc>& DragonflyBasicsProbe::Describe() const {
  return DragonflyOpMetricDescs();
}

void DragonflyBasicsProbe::OnKeyWritten(RedisClient& /*client*/, const std::string& /*key*/) {}

ProbeResult DragonflyBasicsProbe::Run(const ProbeContext& ctx) {
  ProbeResult result;
  // The member that is master now (INFO replication on every member), not a configured role.
  const DragonflyRoles roles =
      ResolveDragonflyRoles(members_, target_, Deadline::In(ctx.deadline.Remaining() / 3));
  const RedisEndpoint master = roles.Master();
  DragonflyOpRecorder ops(target_, kOps);
  auto fail = [&result](const Error& error) {
    if (!result.error) result.Fail(error);  // the first failure is the run's reason
  };
  const std::string key = MakeBasicsKey(key_prefix_);
  const std::string value = RandomBytes(kValueBytes);
  std::optional<RedisClient> client;
  bool key_written = false;

  Status connected = ops.Time("connect", [&]() -> Status {
    if (roles.error) return *roles.error;  // no member to connect to
    auto made = RedisClient::Connect(master, ctx.deadline);
    if (!made) return made.error();
    client.emplace(std::move(made).value());
    return Ok{};
  });

  if (!connected) {
    fail(connected.error());
  } else {
    // The steps after connect; later probes add theirs the same way.
    const std::array<std::pair<std::string_view, std::function<Status()>>, 5> steps = {{
        {"ping", [&] { return Ping(*client); }},
        {"set", [&] { return Set(*client, key, value, ttl_); }},
        {"get", [&] { return Get(*client, key, value); }},
        {"ttl", [&] { return Ttl(*client, key, ttl_); }},
        {"del", [&] { return Del(*client, key); }},
    }};
    for (const auto& [op, step] : steps) {
      if (ctx.stop.stop_requested()) {
        fail(RedisProblem(*client, ErrorCode::kStopped, op, "stopped (shutdown or reload)"));
        break;
      }
      Status status = ops.Time(op, step);
      if (!status) {
        fail(status.error());
        break;
      }
      if (op == "set") {
        key_written = true;
        OnKeyWritten(*client, key);
      }
    }
  }

  // A run that failed after SET still deletes its key while the connection allows; the
  // expiry covers every other case.
  if (key_written && !ops.Reached("del") && client && client->connected()) {
    Status cleanup = ops.Time("del", [&] { return Del(*client, key); });
    if (!cleanup) fail(cleanup.error());
  }
  client.reset();

  ops.AppendTo(result);
  result.success = !result.error.has_value();
  ctx.log.debug("dragonfly_basics {}: {}", target_, ops.Summary());
  return result;
}

Result<std::unique_ptr<Probe>> CreateDragonflyBasicsProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target =
        RequireTarget(settings, config.FindDragonfly(settings.target), "no dragonfly target");
    milliseconds ttl = kDefaultTtl;
    if (settings.params) {
      YamlMap& params = *settings.params;
      if (auto value = params.Duration("ttl")) ttl = *value;
      if (ttl < seconds(1) || ttl > kMaxTtl) {
        params.Fail("ttl", "must be from 1s to 24h, got " + FormatDuration(ttl));
      }
      if (ttl % seconds(1) != milliseconds(0)) {
        params.Fail("ttl", "must be a whole number of seconds (SET ... EX takes seconds), got " +
                               FormatDuration(ttl));
      }
      if (ttl < settings.timeout) {
        params.Fail("ttl", "(" + FormatDuration(ttl) + ") must not be shorter than the probe " +
                               "timeout (" + FormatDuration(settings.timeout) +
                               "): the key could expire in the middle of a run");
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(
        std::make_unique<DragonflyBasicsProbe>(*target, MakeDragonflyMemberLister(*target, config),
                                               std::chrono::duration_cast<seconds>(ttl)));
  });
}

}  // namespace dbcanary
