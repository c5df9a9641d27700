#include "probes/dragonfly/dragonfly_pubsub_probe.h"

#include <array>
#include <optional>
#include <utility>

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_util.h"
#include "core/random.h"
#include "probes/dragonfly/dragonfly_ops.h"

namespace dbcanary {
namespace {

constexpr char kDelivery[] = "dbcanary_dragonfly_pubsub_delivery_seconds";
constexpr char kReceivers[] = "dbcanary_dragonfly_pubsub_receivers";
constexpr std::array<std::string_view, 4> kOps = {"pubsub_connect", "subscribe", "publish",
                                                  "deliver"};

}  // namespace

DragonflyPubsubProbe::DragonflyPubsubProbe(const Dragonfly& target, DragonflyMemberLister members)
    : target_(target.name), members_(std::move(members)), key_prefix_(target.key_prefix) {}

const std::vector<MetricDesc>& DragonflyPubsubProbe::Describe() const {
  static const std::vector<MetricDesc> descs = [] {
    std::vector<MetricDesc> out = DragonflyOpMetricDescs();
    out.push_back({kDelivery,
                   "Seconds from sending PUBLISH to the subscriber reading the message, last "
                   "successful run.",
                   MetricType::kGauge});
    out.push_back({kReceivers, "Receivers PUBLISH reported in the last run.", MetricType::kGauge});
    return out;
  }();
  return descs;
}

ProbeResult DragonflyPubsubProbe::Run(const ProbeContext& ctx) {
  ProbeResult result;
  // The member that is master now (INFO replication on every member), not a configured role.
  const DragonflyRoles roles =
      ResolveDragonflyRoles(members_, target_, Deadline::In(ctx.deadline.Remaining() / 3));
  const RedisEndpoint master = roles.Master();
  DragonflyOpRecorder ops(target_, kOps);
  const std::string channel = key_prefix_ + "pubsub:" + RandomHex64();
  const std::string payload = RandomHex64() + RandomHex64();
  std::optional<RedisClient> subscriber;
  std::optional<RedisClient> publisher;
  std::optional<double> delivery;
  std::optional<long long> receivers;

  [&] {
    Status connected = ops.Time("pubsub_connect", [&]() -> Status {
      if (roles.error) return *roles.error;  // no member to connect to
      auto sub = RedisClient::Connect(master, ctx.deadline);
      if (!sub) return sub.error();
      subscriber.emplace(std::move(sub).value());
      auto pub = RedisClient::Connect(master, ctx.deadline);
      if (!pub) return pub.error();
      publisher.emplace(std::move(pub).value());
      return Ok{};
    });
    if (!connected) return result.Fail(connected.error());

    Status subscribed = ops.Time("subscribe", [&]() -> Status {
      auto reply = subscriber->Command({"SUBSCRIBE", channel});
      if (!reply) return reply.error();
      if (!reply->Is(RedisType::kArray) || reply->size() != 3 ||
          (*reply)[0].text() != "subscribe" || (*reply)[1].text() != channel) {
        return RedisProblem(*subscriber, ErrorCode::kProtocol, "SUBSCRIBE",
                            "unexpected confirmation: " + ShowRedisReply(*reply));
      }
      return Ok{};
    });
    if (!subscribed) return result.Fail(subscribed.error());

    auto sent = SteadyClock::now();
    Status published = ops.Time("publish", [&]() -> Status {
      auto reply = publisher->Command({"PUBLISH", channel, payload});
      if (!reply) return reply.error();
      if (!reply->Is(RedisType::kInteger)) {
        return RedisProblem(*publisher, ErrorCode::kProtocol, "PUBLISH",
                            "expected an integer, got " + ShowRedisReply(*reply));
      }
      receivers = reply->integer();
      if (*receivers < 1) {
        return RedisProblem(*publisher, ErrorCode::kUnexpected, "PUBLISH",
                            "reached " + std::to_string(*receivers) + " receivers, expected >= 1");
      }
      return Ok{};
    });
    if (!published) return result.Fail(published.error());

    Status delivered = ops.Time("deliver", [&]() -> Status {
      auto reply = subscriber->ReadReply();
      if (!reply) return reply.error();
      if (!reply->Is(RedisType::kArray) || reply->size() != 3 || (*reply)[0].text() != "message" ||
          (*reply)[1].text() != channel) {
        return RedisProblem(*subscriber, ErrorCode::kProtocol, "deliver",
                            "expected a message on the channel, got " + ShowRedisReply(*reply));
      }
      if ((*reply)[2].text() != payload) {
        return RedisProblem(*subscriber, ErrorCode::kUnexpected, "deliver",
                            "the payload received differs from the one published");
      }
      delivery = SecondsSince(sent);
      return Ok{};
    });
    if (!delivered) return result.Fail(delivered.error());
  }();
  // Closing the subscriber's connection ends the subscription; no UNSUBSCRIBE round trip.
  subscriber.reset();
  publisher.reset();

  ops.AppendTo(result);
  Labels labels{{"target", target_}};
  if (delivery) result.Add(kDelivery, labels, *delivery);
  if (receivers) result.Add(kReceivers, labels, static_cast<double>(*receivers));
  result.success = !result.error.has_value();
  ctx.log.debug("dragonfly_pubsub {}: {}", target_, ops.Summary());
  return result;
}

Result<std::unique_ptr<Probe>> CreateDragonflyPubsubProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target =
        RequireTarget(settings, config.FindDragonfly(settings.target), "no dragonfly target");
    if (settings.params) settings.params->Finish();
    return std::unique_ptr<Probe>(std::make_unique<DragonflyPubsubProbe>(
        *target, MakeDragonflyMemberLister(*target, config)));
  });
}

}  // namespace dbcanary
