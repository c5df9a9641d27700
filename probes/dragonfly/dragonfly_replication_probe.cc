#include "probes/dragonfly/dragonfly_replication_probe.h"

#include <algorithm>
#include <future>
#include <limits>
#include <thread>
#include <utility>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "clients/redis/redis_util.h"
#include "core/duration.h"
#include "core/random.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kMaster[] = "dbcanary_dragonfly_master";
constexpr char kConnectedReplicas[] = "dbcanary_dragonfly_connected_replicas";
constexpr char kVisibility[] = "dbcanary_dragonfly_replica_visibility_seconds";
constexpr char kVisible[] = "dbcanary_dragonfly_replica_visible";
constexpr char kLinkUp[] = "dbcanary_dragonfly_replica_link_up";
constexpr char kLastIo[] = "dbcanary_dragonfly_replica_master_last_io_seconds";
constexpr char kLabelMismatch[] = "dbcanary_dragonfly_role_label_mismatch";

// What one replica's thread found.
struct ReplicaOutcome {
  std::optional<bool> link_up;
  std::optional<double> last_io_seconds;
  std::optional<double> visibility_seconds;
  std::optional<Error> error;  // logged only: replica trouble is data, not a run failure
};

// When the write became visible on the master (its SET reply), or nullopt if it never did.
using WriteTime = std::optional<SteadyClock::time_point>;

ReplicaOutcome WatchReplica(const RedisEndpoint& replica, const Deadline& deadline,
                            std::shared_future<WriteTime> written, const std::string& key,
                            const std::string& value, milliseconds poll_interval,
                            std::stop_token stop) {
  ReplicaOutcome out;
  auto client = RedisClient::Connect(replica, deadline);
  if (!client) {
    out.error = client.error();
    return out;
  }
  auto text = RedisInfoText(*client, "replication");
  if (!text) {
    out.error = text.error();
    return out;
  }
  RedisInfoFacts facts = ExtractInfoFacts(RedisInfo::Parse(*text));
  out.link_up = facts.master_link_up;
  // Redis reports -1 while the link is down: not a time.
  if (facts.master_last_io_seconds && *facts.master_last_io_seconds >= 0) {
    out.last_io_seconds = facts.master_last_io_seconds;
  }
  if (written.wait_until(deadline.at()) != std::future_status::ready) return out;
  WriteTime at = written.get();
  if (!at) return out;
  while (!stop.stop_requested()) {
    auto reply = client->Command({"GET", key});
    if (!reply) {
      out.error = reply.error();
      return out;
    }
    if (reply->Is(RedisType::kString) && reply->text() == value) {
      out.visibility_seconds = SecondsSince(*at);
      return out;
    }
    if (deadline.Remaining() <= poll_interval) {
      out.error = RedisProblem(*client, ErrorCode::kTimeout, "GET",
                               "the value written on the master did not appear before the "
                               "deadline");
      return out;
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return out;
}

// What the operator's labels say against what the servers say, per discovered member that has
// both: a disagreement (the operator has not caught up with a failover, or a pod was promoted
// behind its back) is data, never a run failure; the probes use the servers' own roles.
void ReportLabelDisagreements(const std::string& target, const DragonflyRoles& roles,
                              const ProbeContext& ctx, ProbeResult& result) {
  for (size_t i = 0; i < roles.members.size() && i < roles.labelled_roles.size(); ++i) {
    if (roles.labelled_roles[i].empty() || roles.roles[i].empty()) continue;
    result.Add(kLabelMismatch, {{"target", target}, {"server", roles.members[i].name}},
               roles.labelled_roles[i] == roles.roles[i] ? 0 : 1);
  }
  for (const auto& disagreement : roles.LabelDisagreements()) {
    ctx.log.debug("dragonfly_replication {}: role label disagrees: {}", target, disagreement);
  }
}

}  // namespace

DragonflyReplicationProbe::DragonflyReplicationProbe(const Dragonfly& target,
                                                     DragonflyMemberLister members, Options options)
    : target_(target.name),
      members_(std::move(members)),
      discovered_(target.discover.has_value()),
      key_prefix_(target.key_prefix),
      options_(options) {}

const std::vector<MetricDesc>& DragonflyReplicationProbe::Describe() const {
  static const std::vector<MetricDesc> descs = {
      {kMaster,
       "Whether the member found master (role:master in INFO replication; the first member when "
       "none is) reports role:master (1) or not (0).",
       MetricType::kGauge},
      {kConnectedReplicas, "Replicas connected to the master (INFO connected_slaves).",
       MetricType::kGauge},
      {kVisibility,
       "Seconds from the master acknowledging a write to the replica returning it, last run "
       "(absent when it never appeared).",
       MetricType::kGauge},
      {kVisible, "Whether the last run's write appeared on the replica before the deadline.",
       MetricType::kGauge},
      {kLinkUp, "Whether the replica reports master_link_status:up.", MetricType::kGauge},
      {kLastIo,
       "Seconds since the replica last heard from its master "
       "(master_last_io_seconds_ago), where reported.",
       MetricType::kGauge},
      {kLabelMismatch,
       "Whether the Dragonfly operator's role label (master/replica) of a discovered member "
       "differs from the role the server reports in INFO replication (1) or not (0).",
       MetricType::kGauge},
  };
  return descs;
}

ProbeResult DragonflyReplicationProbe::Run(const ProbeContext& ctx) {
  ProbeResult result;
  // Written on the member that is master now, watched on every other member: a replica
  // promoted and the master demoted (REPLICAOF, the operator's failover) need no config change.
  const DragonflyRoles roles =
      ResolveDragonflyRoles(members_, target_, Deadline::In(ctx.deadline.Remaining() / 3));
  const RedisEndpoint master_endpoint = roles.Master();
  const std::vector<RedisEndpoint> replicas = roles.Replicas();
  const std::string key = key_prefix_ + "repl:" + RandomHex64();
  const std::string value = RandomHex64() + RandomHex64();
  std::promise<WriteTime> write_promise;
  std::shared_future<WriteTime> written = write_promise.get_future().share();
  bool promised = false;
  auto announce = [&](WriteTime at) {
    if (!promised) {
      write_promise.set_value(at);
      promised = true;
    }
  };

  // Replicas first, so their INFO and connect overlap the master's.
  std::vector<ReplicaOutcome> outcomes(replicas.size());
  // Replicas stop a little before the run's deadline, leaving the master time to DEL the key
  // even when a replica hangs until then.
  const milliseconds reserve = std::min(milliseconds(50), ctx.deadline.Remaining() / 10);
  const Deadline replica_deadline(ctx.deadline.at() - reserve);
  std::vector<std::jthread> watchers;
  watchers.reserve(replicas.size());
  for (size_t i = 0; i < replicas.size(); ++i) {
    watchers.emplace_back([&, i](std::stop_token stop) {
      outcomes[i] = WatchReplica(replicas[i], replica_deadline, written, key, value,
                                 options_.poll_interval, stop);
    });
  }

  std::optional<RedisClient> master;
  std::optional<RedisInfoFacts> master_facts;
  bool key_written = false;
  [&] {
    if (roles.error) return result.Fail(*roles.error);  // no member to write on
    auto client = RedisClient::Connect(master_endpoint, ctx.deadline);
    if (!client) return result.Fail(client.error());
    master.emplace(std::move(client).value());
    auto text = RedisInfoText(*master, "replication");
    if (!text) return result.Fail(text.error());
    master_facts = ExtractInfoFacts(RedisInfo::Parse(*text));
    if (master_facts->role.empty()) {
      return result.Fail(RedisProblem(*master, ErrorCode::kProtocol, "INFO replication",
                                      "the reply has no role field"));
    }
    std::string ttl = std::to_string(options_.ttl.count());
    auto reply = master->Command({"SET", key, value, "EX", ttl});
    if (!reply) return result.Fail(reply.error());
    if (!reply->Is(RedisType::kStatus) || reply->text() != "OK") {
      return result.Fail(RedisProblem(*master, ErrorCode::kProtocol, "SET",
                                      "expected OK, got " + ShowRedisReply(*reply)));
    }
    key_written = true;
    announce(SteadyClock::now());
  }();
  announce(std::nullopt);
  for (auto& watcher : watchers) {
    if (ctx.stop.stop_requested()) watcher.request_stop();
    watcher.join();
  }
  if (key_written && master && master->connected()) {
    auto deleted = master->Command({"DEL", key});
    if (!deleted && !result.error) result.Fail(deleted.error());
  }

  Labels target_labels{{"target", target_}};
  // An unreachable master fails the declared checks (observed "unknown") instead of hiding them.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (master_facts) {
    result.Add(kMaster, target_labels, master_facts->role == "master" ? 1 : 0);
    if (master_facts->connected_replicas) {
      result.Add(kConnectedReplicas, target_labels, *master_facts->connected_replicas);
    }
  }
  if (discovered_ && !roles.error) ReportLabelDisagreements(target_, roles, ctx, result);
  if (options_.expect_master_role) {
    result.expectations.push_back(ExpectText("master_role", master_endpoint.name,
                                             master_facts ? master_facts->role : "unknown",
                                             "master"));
  }
  if (options_.min_connected_replicas) {
    double observed = master_facts ? master_facts->connected_replicas.value_or(nan) : nan;
    result.expectations.push_back(
        ExpectNumber("min_connected_replicas", target_, observed,
                     ">=", static_cast<double>(*options_.min_connected_replicas)));
  }
  for (size_t i = 0; i < replicas.size(); ++i) {
    const ReplicaOutcome& outcome = outcomes[i];
    Labels labels{{"target", target_}, {"replica", replicas[i].name}};
    if (outcome.visibility_seconds) result.Add(kVisibility, labels, *outcome.visibility_seconds);
    result.Add(kVisible, labels, outcome.visibility_seconds ? 1 : 0);
    if (outcome.link_up) result.Add(kLinkUp, labels, *outcome.link_up ? 1 : 0);
    if (outcome.last_io_seconds) result.Add(kLastIo, labels, *outcome.last_io_seconds);
    if (options_.max_replica_visibility_seconds) {
      result.expectations.push_back(ExpectNumber(
          "max_replica_visibility_seconds", replicas[i].name,
          outcome.visibility_seconds.value_or(std::numeric_limits<double>::quiet_NaN()),
          "<=", *options_.max_replica_visibility_seconds));
    }
    if (outcome.error) {
      ctx.log.debug("dragonfly_replication {}: replica {}: {}", target_, replicas[i].name,
                    outcome.error->message);
    }
  }
  result.success = !result.error.has_value();
  return result;
}

Result<std::unique_ptr<Probe>> CreateDragonflyReplicationProbe(const ProbeSettings& settings,
                                                               const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target =
        RequireTarget(settings, config.FindDragonfly(settings.target), "no dragonfly target");
    DragonflyReplicationProbe::Options options;
    if (settings.params) {
      YamlMap& params = *settings.params;
      if (auto ttl = params.Duration("ttl")) {
        if (*ttl < seconds(1) || *ttl > std::chrono::hours(24) ||
            *ttl % seconds(1) != milliseconds(0)) {
          params.Fail("ttl", "must be whole seconds from 1s to 24h, got " + FormatDuration(*ttl));
        }
        if (*ttl < settings.timeout) {
          params.Fail("ttl", "must not be shorter than the probe timeout (" +
                                 FormatDuration(settings.timeout) + ")");
        }
        options.ttl = std::chrono::duration_cast<seconds>(*ttl);
      }
      if (auto poll = params.Duration("poll_interval")) {
        if (*poll < milliseconds(1) || *poll > seconds(1)) {
          params.Fail("poll_interval", "must be from 1ms to 1s, got " + FormatDuration(*poll));
        }
        options.poll_interval = *poll;
      }
      if (auto expect = params.Map("expect")) {
        options.expect_master_role = expect->Bool("master_role").value_or(false);
        options.min_connected_replicas = expect->Int("min_connected_replicas", 0, 1000);
        options.max_replica_visibility_seconds =
            expect->Number("max_replica_visibility_seconds", 0.000001, 3600);
        expect->Finish();
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(std::make_unique<DragonflyReplicationProbe>(
        *target, MakeDragonflyMemberLister(*target, config), options));
  });
}

}  // namespace dbcanary
