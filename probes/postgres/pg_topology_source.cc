#include "probes/postgres/pg_topology_source.h"

#include <cmath>
#include <map>
#include <utility>

#include "probes/kubernetes/cnpg_members.h"

namespace dbcanary {
namespace {

// Short enough that every run of every probe sees the roles of its own moment (intervals are at
// least 100 ms, and a failover takes seconds); long enough that probes started together share
// one resolution.
constexpr std::chrono::milliseconds kMaxAge{1000};

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Everything that shapes a source: probes built from equal settings share one.
std::string SourceKey(const PostgresCluster& cluster) {
  std::string key = cluster.name;
  auto add = [&key](const PgEndpoint& endpoint) {
    key += "|" + endpoint.name + "=" + endpoint.Describe() + "/" + endpoint.hostaddr + "/" +
           endpoint.sslmode + "/" + endpoint.sslrootcert + "/" + endpoint.password.source();
  };
  for (const auto& member : cluster.instances) add(member);
  if (cluster.read_write) add(*cluster.read_write);
  if (cluster.discover) {
    const PgDiscovery& d = *cluster.discover;
    key += "|discover=" + d.namespace_ + "/" + d.cnpg_cluster + "/" + d.tls_server_name + ":" +
           std::to_string(d.port.value_or(0));
    add(cluster.member_defaults);
  }
  return key;
}

}  // namespace

PgTopologySource::PgTopologySource(std::string cluster, PgMemberLister members,
                                   std::optional<PgEndpoint> read_write,
                                   std::chrono::milliseconds max_age)
    : cluster_(std::move(cluster)),
      members_(std::move(members)),
      read_write_(std::move(read_write)),
      max_age_(max_age) {}

std::shared_ptr<PgTopologySource> PgTopologySource::For(const PostgresCluster& cluster,
                                                        const Config& config) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<PgTopologySource>> registry;
  const std::string key = SourceKey(cluster);
  std::lock_guard lock(registry_mutex);
  if (auto existing = registry[key].lock()) return existing;
  PgMemberLister lister;
  if (cluster.discover) {
    lister = MakeCnpgMemberLister(*cluster.discover, cluster.member_defaults, config);
  } else {
    lister = [members = cluster.instances](Deadline, std::stop_token) {
      return Result<std::vector<PgEndpoint>>(members);
    };
  }
  auto source = std::make_shared<PgTopologySource>(cluster.name, std::move(lister),
                                                   cluster.read_write, kMaxAge);
  registry[key] = source;
  // Entries of sources nobody holds any more (reloads with other settings) are dropped here.
  std::erase_if(registry, [](const auto& entry) { return entry.second.expired(); });
  return source;
}

Result<std::shared_ptr<const PgTopology>> PgTopologySource::Current(const ProbeContext& ctx) {
  auto fresh = [this]() -> std::shared_ptr<const PgTopology> {
    std::lock_guard lock(mutex_);
    if (current_ && SteadyClock::now() - current_->resolved_at < max_age_) return current_;
    return nullptr;
  };
  if (auto topology = fresh()) return topology;
  std::unique_lock resolving(resolving_, std::defer_lock);
  if (!resolving.try_lock_until(ctx.deadline.at())) {
    return MakeError(ErrorCode::kTimeout, "cluster " + cluster_ + ": roles not resolved in time");
  }
  if (auto topology = fresh()) return topology;  // resolved while this run waited
  const Deadline deadline(SteadyClock::now() + ctx.deadline.Remaining() / 2);
  auto members = members_(deadline, ctx.stop);
  if (!members) return members.error();
  auto topology = std::make_shared<const PgTopology>(
      ResolveTopology(cluster_, *members, read_write_, deadline, ctx.stop));
  if (ctx.stop.stop_requested()) {
    return MakeError(ErrorCode::kStopped, "cluster " + cluster_ + ": stopped while resolving");
  }
  Observe(*topology, ctx.log);
  return topology;
}

void PgTopologySource::Observe(const PgTopology& topology, spdlog::logger& log) {
  const PgMember* primary = topology.Primaries() == 1 ? topology.Primary() : nullptr;
  std::lock_guard lock(mutex_);
  // A resolution where nothing answered may only mean that this run's budget was too short:
  // the next probe asks again rather than inherit it.
  if (topology.Answering() > 0) current_ = std::make_shared<const PgTopology>(topology);
  if (primary == nullptr) return;  // no primary, or a split brain: no single one to follow
  const std::string& name = primary->endpoint.name;
  if (!history_.primary.empty() && history_.primary != name) {
    ++history_.primary_changes;
    history_.last_change_unix = UnixNow();
    log.warn("cluster {}: the primary is now {} (was {})", cluster_, name, history_.primary);
  }
  history_.primary = name;
}

void PgTopologySource::Invalidate() {
  std::lock_guard lock(mutex_);
  current_.reset();
}

PgRoleHistory PgTopologySource::History() const {
  std::lock_guard lock(mutex_);
  return history_;
}

const std::vector<MetricDesc>& RoleMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgIsPrimary),
       "Whether the member answers as the primary (1) or is in recovery (0); roles are derived "
       "from the servers on every run, never from the config.",
       MetricType::kGauge},
      {std::string(kPgPrimaries),
       "Members answering as primary: 1 is healthy, 0 is no primary, 2 or more a split brain.",
       MetricType::kGauge},
      {std::string(kPgPrimaryChanges),
       "Times the single primary of the cluster became another member (failover, switchover), "
       "as seen by this exporter.",
       MetricType::kCounter},
      {std::string(kPgLastPrimaryChange),
       "When this exporter last saw the primary become another member, Unix seconds.",
       MetricType::kGauge},
  };
  return descs;
}

void ReportRoles(const PgTopology& topology, const PgRoleHistory& history, ProbeResult& result) {
  const std::string& cluster = topology.cluster;
  if (topology.Answering() == 0) {
    // Nothing answered: the roles are unknown, not "no primary" (no sample claims either). The
    // writes have nowhere to go all the same, so has_primary fails (observed unknown).
    auto unknown = ExpectNumber("has_primary", cluster, std::nan(""), ">=", 1);
    unknown.observed_text = "no member answers";
    result.expectations.push_back(std::move(unknown));
    return;
  }
  for (const auto& member : topology.members) {
    if (!member.facts.up) continue;  // no answer, no role
    result.Add(std::string(kPgIsPrimary), {{"target", cluster}, {"server", member.endpoint.name}},
               member.facts.in_recovery ? 0 : 1);
  }
  const int primaries = topology.Primaries();
  result.Add(std::string(kPgPrimaries), {{"target", cluster}}, primaries);
  result.Add(std::string(kPgPrimaryChanges), {{"target", cluster}},
             static_cast<double>(history.primary_changes));
  if (history.last_change_unix) {
    result.Add(std::string(kPgLastPrimaryChange), {{"target", cluster}}, *history.last_change_unix);
  }
  auto has_primary = ExpectNumber("has_primary", cluster, primaries, ">=", 1);
  if (primaries == 0) {
    has_primary.observed_text = "no primary: " + std::to_string(topology.Answering()) + " of " +
                                std::to_string(topology.members.size()) +
                                " members answer, all in recovery";
  }
  result.expectations.push_back(std::move(has_primary));
  auto single = ExpectNumber("no_split_brain", cluster, primaries, "<=", 1);
  if (primaries > 1) {
    single.observed_text = "split brain: " + std::to_string(primaries) + " primaries:";
    for (const auto& member : topology.members) {
      if (member.facts.up && !member.facts.in_recovery) {
        single.observed_text += " " + member.endpoint.name;
      }
    }
  }
  result.expectations.push_back(std::move(single));
}

}  // namespace dbcanary
