#include "probes/dragonfly/dragonfly_structures_probe.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_util.h"
#include "core/duration.h"
#include "core/random.h"
#include "probes/dragonfly/dragonfly_ops.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::array<std::string_view, 8> kOps = {
    "structures_connect", "list",     "set",          "hash",
    "sorted_set",         "ttl_pttl", "short_expiry", "cleanup"};

// MULTI; <write>; EXPIRE key ttl; EXEC. The EXEC reply must be an array of two replies, the
// second being EXPIRE's 1. A write refused inside the transaction (OOM, WRONGTYPE) arrives
// as an error element of EXEC's array or as EXECABORT.
Status WriteWithExpiry(RedisClient& client, std::string_view op,
                       std::initializer_list<std::string_view> write, const std::string& key,
                       seconds ttl) {
  auto multi = client.Command({"MULTI"});
  if (!multi) return multi.error();
  auto queued = client.Command(write);
  if (!queued) {
    (void)client.Command({"DISCARD"});
    return queued.error();
  }
  std::string ttl_text = std::to_string(ttl.count());
  auto expire_queued = client.Command({"EXPIRE", key, ttl_text});
  if (!expire_queued) {
    (void)client.Command({"DISCARD"});
    return expire_queued.error();
  }
  auto exec = client.Command({"EXEC"});
  if (!exec) return exec.error();
  if (!exec->Is(RedisType::kArray) || exec->size() != 2) {
    return RedisProblem(client, ErrorCode::kProtocol, op,
                        "EXEC: expected 2 replies, got " + ShowRedisReply(*exec));
  }
  for (size_t i = 0; i < 2; ++i) {
    if ((*exec)[i].Is(RedisType::kError)) {
      std::string_view text = (*exec)[i].text();
      return RedisProblem(client, ClassifyRedisErrorReply(i == 0 ? op : "EXPIRE", text), op,
                          "in EXEC: " + std::string(RedisErrorPrefix(text)), RedisErrorCause(text));
    }
  }
  if (!(*exec)[1].Is(RedisType::kInteger) || (*exec)[1].integer() != 1) {
    return RedisProblem(client, ErrorCode::kUnexpected, op, "EXPIRE did not set the expiry");
  }
  return Ok{};
}

std::vector<std::string> Strings(const RedisReply& reply) {
  std::vector<std::string> out;
  for (size_t i = 0; i < reply.size(); ++i) out.emplace_back(reply[i].text());
  return out;
}

Status ReadBack(RedisClient& client, std::string_view op,
                std::initializer_list<std::string_view> read,
                const std::function<bool(const std::vector<std::string>&)>& matches) {
  auto reply = client.Command(read);
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kArray)) {
    return RedisProblem(client, ErrorCode::kProtocol, op,
                        "expected an array, got " + ShowRedisReply(*reply));
  }
  for (size_t i = 0; i < reply->size(); ++i) {
    if (!(*reply)[i].Is(RedisType::kString)) {
      return RedisProblem(client, ErrorCode::kProtocol, op, "an element is not a string");
    }
  }
  if (!matches(Strings(*reply))) {
    return RedisProblem(client, ErrorCode::kUnexpected, op,
                        "read back " + std::to_string(reply->size()) +
                            " elements that differ from what was written");
  }
  return Ok{};
}

Result<long long> IntegerReply(RedisClient& client, std::string_view op,
                               std::initializer_list<std::string_view> argv) {
  auto reply = client.Command(argv);
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kInteger)) {
    return RedisProblem(client, ErrorCode::kProtocol, op,
                        "expected an integer, got " + ShowRedisReply(*reply));
  }
  return reply->integer();
}

Status ExpectOk(RedisClient& client, std::string_view op,
                std::initializer_list<std::string_view> argv) {
  auto reply = client.Command(argv);
  if (!reply) return reply.error();
  if (!reply->Is(RedisType::kStatus) || reply->text() != "OK") {
    return RedisProblem(client, ErrorCode::kProtocol, op,
                        "expected OK, got " + ShowRedisReply(*reply));
  }
  return Ok{};
}

}  // namespace

DragonflyStructuresProbe::DragonflyStructuresProbe(const Dragonfly& target,
                                                   DragonflyMemberLister members, seconds ttl,
                                                   milliseconds short_ttl)
    : target_(target.name),
      members_(std::move(members)),
      key_prefix_(target.key_prefix),
      ttl_(ttl),
      short_ttl_(short_ttl) {}

const std::vector<MetricDesc>& DragonflyStructuresProbe::Describe() const {
  return DragonflyOpMetricDescs();
}

ProbeResult DragonflyStructuresProbe::Run(const ProbeContext& ctx) {
  ProbeResult result;
  // The member that is master now (INFO replication on every member), not a configured role.
  const DragonflyRoles roles =
      ResolveDragonflyRoles(members_, target_, Deadline::In(ctx.deadline.Remaining() / 3));
  const RedisEndpoint master = roles.Master();
  DragonflyOpRecorder ops(target_, kOps);
  const std::string base = key_prefix_ + "structures:" + RandomHex64() + ":";
  const std::string list_key = base + "list";
  const std::string set_key = base + "set";
  const std::string hash_key = base + "hash";
  const std::string zset_key = base + "zset";
  const std::string ttl_key = base + "ttl";
  const std::string short_key = base + "short";
  const std::string token = RandomHex64();  // element values differ per run
  const std::string a = "a" + token, b = "b" + token, c = "c" + token;
  const std::string ttl_text = std::to_string(ttl_.count());
  const std::string short_text = std::to_string(short_ttl_.count());
  std::optional<RedisClient> client;

  Status connected = ops.Time("structures_connect", [&]() -> Status {
    if (roles.error) return *roles.error;  // no member to connect to
    auto made = RedisClient::Connect(master, ctx.deadline);
    if (!made) return made.error();
    client.emplace(std::move(made).value());
    return Ok{};
  });
  if (!connected) result.Fail(connected.error());

  bool wrote_any = false;
  if (client) {
    RedisClient& r = *client;
    const std::array<std::pair<std::string_view, std::function<Status()>>, 6> steps = {{
        {"list",
         [&]() -> Status {
           Status s = WriteWithExpiry(r, "list", {"RPUSH", list_key, a, b, c}, list_key, ttl_);
           wrote_any = true;
           if (!s) return s;
           return ReadBack(r, "list", {"LRANGE", list_key, "0", "-1"}, [&](const auto& got) {
             return got == std::vector<std::string>{a, b, c};
           });
         }},
        {"set",
         [&]() -> Status {
           Status s = WriteWithExpiry(r, "set", {"SADD", set_key, a, b, c}, set_key, ttl_);
           if (!s) return s;
           return ReadBack(r, "set", {"SMEMBERS", set_key}, [&](const auto& got) {
             return std::set<std::string>(got.begin(), got.end()) ==
                        std::set<std::string>{a, b, c} &&
                    got.size() == 3;
           });
         }},
        {"hash",
         [&]() -> Status {
           Status s =
               WriteWithExpiry(r, "hash", {"HSET", hash_key, "f1", a, "f2", b}, hash_key, ttl_);
           if (!s) return s;
           return ReadBack(r, "hash", {"HGETALL", hash_key}, [&](const auto& got) {
             if (got.size() != 4) return false;
             std::map<std::string, std::string> fields;
             for (size_t i = 0; i + 1 < got.size(); i += 2) fields[got[i]] = got[i + 1];
             return fields == std::map<std::string, std::string>{{"f1", a}, {"f2", b}};
           });
         }},
        {"sorted_set",
         [&]() -> Status {
           Status s = WriteWithExpiry(r, "sorted_set", {"ZADD", zset_key, "2.5", b, "1", a},
                                      zset_key, ttl_);
           if (!s) return s;
           return ReadBack(r, "sorted_set", {"ZRANGE", zset_key, "0", "-1", "WITHSCORES"},
                           [&](const auto& got) {
                             return got.size() == 4 && got[0] == a && got[1] == "1" &&
                                    got[2] == b && got[3] == "2.5";
                           });
         }},
        {"ttl_pttl",
         [&]() -> Status {
           Status s = ExpectOk(r, "ttl_pttl", {"SET", ttl_key, a, "EX", ttl_text});
           if (!s) return s;
           auto ttl = IntegerReply(r, "ttl_pttl", {"TTL", ttl_key});
           if (!ttl) return ttl.error();
           if (*ttl <= 0 || *ttl > ttl_.count()) {
             return RedisProblem(r, ErrorCode::kUnexpected, "ttl_pttl",
                                 "TTL " + std::to_string(*ttl) + " outside (0, " + ttl_text + "]");
           }
           auto pttl = IntegerReply(r, "ttl_pttl", {"PTTL", ttl_key});
           if (!pttl) return pttl.error();
           if (*pttl <= 0 || *pttl > ttl_.count() * 1000) {
             return RedisProblem(r, ErrorCode::kUnexpected, "ttl_pttl",
                                 "PTTL " + std::to_string(*pttl) + " outside (0, " +
                                     std::to_string(ttl_.count() * 1000) + "]");
           }
           return Ok{};
         }},
        {"short_expiry",
         [&]() -> Status {
           Status s = ExpectOk(r, "short_expiry", {"SET", short_key, a, "PX", short_text});
           if (!s) return s;
           auto wait = short_ttl_ + milliseconds(5);
           if (ctx.deadline.Remaining() <= wait) {
             return RedisProblem(r, ErrorCode::kTimeout, "short_expiry",
                                 "no time left to wait for the key's expiry");
           }
           std::this_thread::sleep_for(wait);
           auto reply = r.Command({"GET", short_key});
           if (!reply) return reply.error();
           if (!reply->Is(RedisType::kNil)) {
             return RedisProblem(r, ErrorCode::kUnexpected, "short_expiry",
                                 "the key is still there " + std::to_string(wait.count()) +
                                     "ms after SET PX " + short_text + " (got " +
                                     ShowRedisReply(*reply) + ")");
           }
           return Ok{};
         }},
    }};
    for (const auto& [op, step] : steps) {
      if (ctx.stop.stop_requested()) {
        result.Fail(RedisProblem(r, ErrorCode::kStopped, op, "stopped (shutdown or reload)"));
        break;
      }
      Status status = ops.Time(op, step);
      if (!status) {
        result.Fail(status.error());
        break;
      }
    }
    if (wrote_any && r.connected()) {
      Status cleanup = ops.Time("cleanup", [&]() -> Status {
        auto deleted = IntegerReply(
            r, "cleanup", {"DEL", list_key, set_key, hash_key, zset_key, ttl_key, short_key});
        if (!deleted) return deleted.error();
        // Only keys of steps that ran exist; a complete run wrote 5 that are still there.
        if (!result.error && *deleted != 5) {
          return RedisProblem(r, ErrorCode::kUnexpected, "cleanup",
                              "removed " + std::to_string(*deleted) + " keys instead of 5");
        }
        return Ok{};
      });
      if (!cleanup && !result.error) result.Fail(cleanup.error());
    }
  }
  client.reset();
  ops.AppendTo(result);
  result.success = !result.error.has_value();
  ctx.log.debug("dragonfly_structures {}: {}", target_, ops.Summary());
  return result;
}

Result<std::unique_ptr<Probe>> CreateDragonflyStructuresProbe(const ProbeSettings& settings,
                                                              const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target =
        RequireTarget(settings, config.FindDragonfly(settings.target), "no dragonfly target");
    milliseconds ttl = seconds(60);
    milliseconds short_ttl{100};
    if (settings.params) {
      YamlMap& params = *settings.params;
      if (auto value = params.Duration("ttl")) {
        ttl = *value;
        if (ttl < seconds(1) || ttl > std::chrono::hours(24) ||
            ttl % seconds(1) != milliseconds(0)) {
          params.Fail("ttl", "must be whole seconds from 1s to 24h, got " + FormatDuration(ttl));
        }
        if (ttl < settings.timeout) {
          params.Fail("ttl", "must not be shorter than the probe timeout (" +
                                 FormatDuration(settings.timeout) + ")");
        }
      }
      if (auto value = params.Duration("short_ttl")) {
        short_ttl = *value;
        if (short_ttl < milliseconds(10) || short_ttl > seconds(1)) {
          params.Fail("short_ttl", "must be from 10ms to 1s, got " + FormatDuration(short_ttl));
        }
        if (short_ttl * 2 >= settings.timeout) {
          params.Fail("short_ttl", "must be less than half the probe timeout (" +
                                       FormatDuration(settings.timeout) + ")");
        }
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(std::make_unique<DragonflyStructuresProbe>(
        *target, MakeDragonflyMemberLister(*target, config),
        std::chrono::duration_cast<seconds>(ttl), short_ttl));
  });
}

}  // namespace dbcanary
