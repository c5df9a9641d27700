#include "config/config.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/duration.h"

namespace dbcanary {
namespace {

constexpr int64_t kMaxCount = 1000;

std::vector<ProbeSettings> ReadProbes(YamlMap& owner, const std::string& target,
                                      const ExporterSettings& exporter) {
  std::vector<ProbeSettings> probes;
  for (auto& [kind, map] : owner.MapOfMaps("probes")) {
    ProbeSettings settings;
    settings.kind = kind;
    settings.target = target;
    settings.interval = map.Duration("interval").value_or(exporter.default_interval);
    settings.timeout = map.Duration("timeout").value_or(exporter.default_timeout);
    if (settings.interval < std::chrono::milliseconds(100)) {
      map.Fail("interval", "must be at least 100ms");
    }
    if (settings.timeout <= std::chrono::milliseconds(0)) map.Fail("timeout", "must be positive");
    if (settings.timeout > settings.interval) {
      map.Fail("timeout", "timeout (" + FormatDuration(settings.timeout) +
                              ") must not be longer than interval (" +
                              FormatDuration(settings.interval) + ")");
    }
    settings.params = std::make_shared<YamlMap>(std::move(map));
    probes.push_back(std::move(settings));
  }
  return probes;
}

void CheckUnique(std::set<std::string>& names, YamlMap& map, const std::string& name,
                 const std::string& what) {
  if (!names.insert(name).second) map.Fail("name", "duplicate " + what + " name \"" + name + "\"");
}

ExporterSettings ReadExporter(YamlMap& root) {
  ExporterSettings settings;
  auto map = root.Map("exporter");
  if (!map) return settings;
  if (auto value = map->String("listen_address")) settings.listen_address = *value;
  if (auto value = map->Int("workers", 1, 64)) settings.workers = static_cast<int>(*value);
  if (auto value = map->Duration("default_interval")) settings.default_interval = *value;
  if (auto value = map->Duration("default_timeout")) settings.default_timeout = *value;
  if (settings.default_timeout > settings.default_interval) {
    map->Fail("default_timeout", "must not be longer than default_interval");
  }
  if (auto log = map->Map("log")) {
    if (auto value = log->Enum("format", {"text", "json"})) settings.log_format = *value;
    if (auto value = log->Enum("level", {"trace", "debug", "info", "warn", "error"})) {
      settings.log_level = *value;
    }
    log->Finish();
  }
  map->Finish();
  return settings;
}

// "shared-postgres-rw", "shared-postgres-rw.db.svc": CNPG's read-write service.
bool IsReadWriteService(const std::string& host) {
  const std::string first_label = host.substr(0, host.find('.'));
  return first_label.size() > 3 && first_label.ends_with("-rw");
}

// One member: a name (the application_name it streams with), a host and the shared defaults.
PgEndpoint ReadMember(YamlMap& member_map, const PgEndpoint& defaults) {
  PgEndpoint member = ReadPgEndpoint(member_map, defaults);
  if (member.name.empty())
    member_map.Fail("name", "required (the application_name it streams with)");
  if (member.host.empty()) member_map.Fail("host", "required but missing");
  if (member.user.empty()) member_map.Fail("user", "required (here or in defaults)");
  member_map.Finish();
  return member;
}

bool IsDnsLabel(const std::string& text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

PgDiscovery ReadPgDiscovery(YamlMap& map) {
  auto kube = map.Map("kubernetes");
  if (!kube) map.FailHere("set kubernetes: { cluster: NAME, namespace: NAMESPACE }");
  PgDiscovery discovery;
  discovery.cnpg_cluster = kube->RequiredString("cluster");
  discovery.namespace_ = kube->RequiredString("namespace");
  if (!IsDnsLabel(discovery.namespace_)) {
    kube->Fail("namespace", "not a valid namespace name (lower-case DNS label)");
  }
  discovery.tls_server_name =
      kube->String("tls_server_name")
          .value_or(discovery.cnpg_cluster + "-rw." + discovery.namespace_ + ".svc");
  if (auto port = kube->Int("port", 1, 65535)) discovery.port = static_cast<int>(*port);
  if (auto refresh = kube->Duration("refresh")) {
    if (*refresh < std::chrono::seconds(1)) kube->Fail("refresh", "must be at least 1s");
    discovery.refresh = *refresh;
  }
  kube->Finish();
  map.Finish();
  return discovery;
}

// Members come from `instances:` (the role-neutral form), or from the legacy `primary:` +
// `standbys:`, read as members in that order: the roles are derived from the servers either way.
PostgresCluster ReadCluster(YamlMap& map, const ExporterSettings& exporter) {
  PostgresCluster cluster;
  cluster.name = map.RequiredString("name");
  PgEndpoint defaults;
  if (auto defaults_map = map.Map("defaults")) {
    defaults = ReadPgEndpoint(*defaults_map, defaults);
    defaults_map->Finish();
  }
  cluster.member_defaults = defaults;
  const bool legacy = map.Has("primary") || map.Has("standbys");
  if (map.Has("instances") && legacy) {
    map.Fail("instances",
             "set either instances: (every member; roles are derived) or the older "
             "primary:/standbys:, not both");
  }
  std::vector<YamlMap> member_maps;
  if (legacy) {
    auto primary = map.Map("primary");
    if (!primary)
      map.Fail("primary", "required with standbys: (or list every member in instances:)");
    // A member must be one instance: the read-write service follows the primary, so as a member
    // it would answer as a second primary after every switchover.
    if (auto host = primary->String("host"); host && IsReadWriteService(*host)) {
      primary->Fail("host",
                    "\"" + *host +
                        "\" is the cluster's read-write service, not an instance: list every "
                        "instance by its own address in instances: and put the service in "
                        "read_write: { host: " +
                        *host + " }");
    }
    // The legacy primary had a default name; members need the one they stream with.
    if (!primary->Has("name")) {
      PgEndpoint named = defaults;
      named.name = cluster.name + "-primary";
      cluster.instances.push_back(ReadMember(*primary, named));
    } else {
      member_maps.push_back(std::move(*primary));
    }
    for (auto& standby : map.ListOfMaps("standbys")) member_maps.push_back(std::move(standby));
  } else {
    member_maps = map.ListOfMaps("instances");
  }
  std::set<std::string> instance_names;
  for (const auto& member : cluster.instances) instance_names.insert(member.name);
  for (auto& member_map : member_maps) {
    PgEndpoint member = ReadMember(member_map, defaults);
    CheckUnique(instance_names, member_map, member.name, "instance");
    cluster.instances.push_back(std::move(member));
  }
  if (auto read_write = map.Map("read_write")) {
    PgEndpoint endpoint = defaults;
    endpoint.name = cluster.name + "-rw";
    endpoint = ReadPgEndpoint(*read_write, endpoint);
    if (endpoint.host.empty()) read_write->Fail("host", "required but missing");
    if (endpoint.user.empty()) read_write->Fail("user", "required (here or in defaults)");
    read_write->Finish();
    cluster.read_write = std::move(endpoint);
  }
  if (auto discover = map.Map("discover")) {
    if (!cluster.instances.empty()) {
      discover->FailHere("set either discover: or instances:, not both");
    }
    if (defaults.user.empty()) map.Fail("defaults", "user: is required with discover:");
    cluster.discover = ReadPgDiscovery(*discover);
  }
  if (cluster.instances.empty() && !cluster.discover) {
    map.FailHere(
        "list the members in instances: [{ name, host, port }] (or discover: { kubernetes: "
        "... })");
  }
  if (auto expect = map.Map("expect")) {
    auto& e = cluster.expect;
    e.instances = expect->Int("instances", 1, kMaxCount);
    e.min_streaming_standbys = expect->Int("min_streaming_standbys", 0, kMaxCount);
    e.min_sync_standbys = expect->Int("min_sync_standbys", 0, kMaxCount);
    e.max_sync_standbys = expect->Int("max_sync_standbys", 0, kMaxCount);
    e.max_replay_lag_bytes = expect->Number("max_replay_lag_bytes", 0, 1e18);
    if (e.min_sync_standbys && e.max_sync_standbys && *e.min_sync_standbys > *e.max_sync_standbys) {
      expect->Fail("max_sync_standbys", "must not be below min_sync_standbys");
    }
    expect->Finish();
  }
  cluster.probes = ReadProbes(map, cluster.name, exporter);
  map.Finish();
  return cluster;
}

Pooler ReadPooler(YamlMap& map, const ExporterSettings& exporter) {
  Pooler pooler;
  pooler.name = map.RequiredString("name");
  pooler.cluster = map.String("cluster").value_or("");
  if (auto type = map.Enum("type", {"rw", "ro"})) {
    pooler.type = *type == "ro" ? PoolerType::kReadOnly : PoolerType::kReadWrite;
  }
  auto connection = map.Map("connection");
  if (!connection) map.Fail("connection", "required but missing");
  PgEndpoint defaults;
  defaults.name = pooler.name;
  pooler.connection = ReadPgEndpoint(*connection, defaults);
  if (pooler.connection.host.empty()) connection->Fail("host", "required but missing");
  if (pooler.connection.user.empty()) connection->Fail("user", "required but missing");
  connection->Finish();
  pooler.probes = ReadProbes(map, pooler.name, exporter);
  map.Finish();
  return pooler;
}

// `discover: { kubernetes: { name, namespace, port, refresh } }` of a dragonfly[] target.
DragonflyDiscovery ReadDragonflyDiscovery(YamlMap& map, const std::string& target) {
  auto kube = map.Map("kubernetes");
  if (!kube) map.FailHere("set kubernetes: { name: DRAGONFLY, namespace: NAMESPACE }");
  DragonflyDiscovery discovery;
  discovery.dragonfly = kube->String("name").value_or(target);
  discovery.namespace_ = kube->RequiredString("namespace");
  if (!IsDnsLabel(discovery.namespace_)) {
    kube->Fail("namespace", "not a valid namespace name (lower-case DNS label)");
  }
  if (auto port = kube->Int("port", 1, 65535)) discovery.port = static_cast<int>(*port);
  if (auto refresh = kube->Duration("refresh")) {
    if (*refresh < std::chrono::seconds(1)) kube->Fail("refresh", "must be at least 1s");
    discovery.refresh = *refresh;
  }
  kube->Finish();
  map.Finish();
  return discovery;
}

Dragonfly ReadDragonfly(YamlMap& map, const ExporterSettings& exporter) {
  Dragonfly dragonfly;
  dragonfly.name = map.RequiredString("name");
  if (auto discover = map.Map("discover")) {
    // The members are the operator's pods; `defaults:` holds what they share (credentials).
    if (map.Has("master") || map.Has("replicas")) {
      discover->FailHere("set either discover: or master:/replicas:, not both");
    }
    dragonfly.discover = ReadDragonflyDiscovery(*discover, dragonfly.name);
    dragonfly.master.name = dragonfly.name;
    if (auto defaults = map.Map("defaults")) {
      dragonfly.master = ReadRedisEndpoint(*defaults, dragonfly.master);
      if (!dragonfly.master.host.empty()) {
        defaults->Fail("host", "not with discover: (each member is reached by its pod IP)");
      }
      defaults->Finish();
    }
  }
  std::optional<YamlMap> master;
  if (!dragonfly.discover) master = map.Map("master");
  if (!master && !dragonfly.discover) {
    map.Fail("master", "required but missing (or discover: { kubernetes: ... })");
  }
  if (master) {
    RedisEndpoint defaults;
    defaults.name = dragonfly.name;
    dragonfly.master = ReadRedisEndpoint(*master, defaults);
    if (dragonfly.master.host.empty()) master->Fail("host", "required but missing");
    master->Finish();
  }
  // Replicas inherit the master's credentials unless they set their own.
  RedisEndpoint replica_defaults = dragonfly.master;
  replica_defaults.name.clear();
  replica_defaults.host.clear();
  std::set<std::string> names{dragonfly.master.name};
  for (auto& replica_map : map.ListOfMaps("replicas")) {
    RedisEndpoint replica = ReadRedisEndpoint(replica_map, replica_defaults);
    if (replica.name.empty()) replica_map.Fail("name", "required but missing");
    if (replica.host.empty()) replica_map.Fail("host", "required but missing");
    CheckUnique(names, replica_map, replica.name, "replica");
    replica_map.Finish();
    dragonfly.replicas.push_back(std::move(replica));
  }
  if (auto prefix = map.String("key_prefix")) {
    if (prefix->empty()) map.Fail("key_prefix", "must not be empty");
    dragonfly.key_prefix = *prefix;
  }
  dragonfly.probes = ReadProbes(map, dragonfly.name, exporter);
  map.Finish();
  return dragonfly;
}

KubernetesSettings ReadKubernetes(YamlMap& map, const ExporterSettings& exporter,
                                  std::set<std::string>& target_names) {
  KubernetesSettings settings;
  settings.in_cluster = map.Bool("in_cluster").value_or(false);
  settings.kubeconfig = map.String("kubeconfig").value_or("");
  settings.context = map.String("context").value_or("");
  settings.api_server = map.String("api_server").value_or("");
  if (auto timeout = map.Duration("timeout")) settings.timeout = *timeout;
  if (settings.timeout <= std::chrono::milliseconds(0)) map.Fail("timeout", "must be positive");
  if (settings.in_cluster && !settings.kubeconfig.empty()) {
    map.Fail("kubeconfig", "set either in_cluster: true or kubeconfig, not both");
  }
  if (!settings.in_cluster && settings.kubeconfig.empty()) {
    map.FailHere("set in_cluster: true or kubeconfig: PATH");
  }
  if (settings.in_cluster && !settings.context.empty()) {
    map.Fail("context", "only meaningful with kubeconfig");
  }
  if (!settings.api_server.empty() && settings.api_server.rfind("https://", 0) != 0 &&
      settings.api_server.rfind("http://", 0) != 0) {
    map.Fail("api_server", "must start with https:// (or http:// for a local test server)");
  }
  for (auto& cluster_map : map.ListOfMaps("clusters")) {
    KubeCluster cluster;
    cluster.name = cluster_map.RequiredString("name");
    cluster.namespace_ = cluster_map.RequiredString("namespace");
    if (!IsDnsLabel(cluster.namespace_)) {
      cluster_map.Fail("namespace", "not a valid namespace name (lower-case DNS label)");
    }
    cluster.cnpg_cluster = cluster_map.String("cnpg_cluster").value_or(cluster.name);
    cluster.probes = ReadProbes(cluster_map, cluster.name, exporter);
    CheckUnique(target_names, cluster_map, cluster.name, "target");
    cluster_map.Finish();
    settings.clusters.push_back(std::move(cluster));
  }
  map.Finish();
  return settings;
}

DrillsSettings ReadDrills(YamlMap& map, const Config& config) {
  DrillsSettings drills;
  drills.reports_dir = map.RequiredString("reports_dir");
  if (drills.reports_dir.empty()) map.Fail("reports_dir", "must not be empty");
  if (auto value = map.Int("keep_reports", 1, 10000))
    drills.keep_reports = static_cast<int>(*value);
  for (const auto& name : map.ListOfStrings("command_env")) {
    static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
    if (!std::regex_match(name, kEnvName)) {
      map.Fail("command_env", "\"" + name + "\" is not an environment variable name");
    }
    drills.command_env.push_back(name);
  }
  if (auto lock = map.Map("lock")) {
    drills.lock_cluster = lock->RequiredString("cluster");
    if (config.FindCluster(drills.lock_cluster) == nullptr) {
      lock->Fail("cluster", "no postgres cluster named \"" + drills.lock_cluster + "\"");
    }
    if (auto value = lock->Duration("timeout")) {
      if (*value <= std::chrono::milliseconds(0)) lock->Fail("timeout", "must be positive");
      drills.lock_timeout = *value;
    }
    if (auto value = lock->Duration("ttl")) {
      if (*value < std::chrono::seconds(2)) lock->Fail("ttl", "must be at least 2s");
      drills.lock_ttl = *value;
    }
    lock->Finish();
  } else if (config.postgres_clusters.size() == 1) {
    drills.lock_cluster = config.postgres_clusters.front().name;
  } else {
    map.Fail("lock",
             "required: name the postgres cluster that holds the drill lease "
             "(lock: { cluster: NAME })");
  }
  for (auto& [kind, job] : map.MapOfMaps("jobs")) {
    DrillSettings settings;
    settings.kind = kind;
    settings.enabled = job.Bool("enabled").value_or(false);
    settings.schedule = job.String("schedule").value_or("");
    settings.window = job.String("window").value_or("");
    if (settings.enabled && settings.schedule.empty()) {
      job.Fail("schedule", "required when the drill is enabled (5-field cron, UTC)");
    }
    if (auto value = job.Duration("timeout")) {
      if (*value < std::chrono::seconds(1)) job.Fail("timeout", "must be at least 1s");
      settings.timeout = *value;
    }
    settings.params = std::make_shared<YamlMap>(std::move(job));
    drills.jobs.push_back(std::move(settings));
  }
  map.Finish();
  return drills;
}

// `url` plus optional `bearer_token_file`, `basic_auth: {username, password_file}`, `ca_file`,
// `timeout` (monitoring targets).
HttpEndpoint ReadHttpEndpoint(YamlMap& map) {
  HttpEndpoint endpoint;
  endpoint.url = map.RequiredString("url");
  if (endpoint.url.rfind("http://", 0) != 0 && endpoint.url.rfind("https://", 0) != 0) {
    map.Fail("url", "must start with http:// or https://");
  }
  const size_t authority = endpoint.url.find("://") + 3;
  const size_t authority_end = endpoint.url.find_first_of("/?#", authority);
  if (endpoint.url.substr(authority, authority_end - authority).find('@') != std::string::npos) {
    map.Fail("url", "must not contain credentials; use basic_auth or bearer_token_file");
  }
  if (endpoint.url.find_first_of("?#") != std::string::npos) {
    map.Fail("url", "must not contain a query string or fragment");
  }
  while (endpoint.url.size() > authority && endpoint.url.back() == '/') endpoint.url.pop_back();
  if (endpoint.url.size() <= authority) map.Fail("url", "has no host");
  if (auto file = map.String("bearer_token_file")) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) map.Fail("bearer_token_file", "cannot read \"" + *file + "\"");
    endpoint.bearer_token_file = *file;
  }
  if (auto basic = map.Map("basic_auth")) {
    endpoint.username = basic->RequiredString("username");
    if (endpoint.username.empty()) basic->Fail("username", "must not be empty");
    auto password = ReadPassword(*basic);
    if (!password) basic->FailHere("password_file (or password: \"${ENV}\") is required");
    endpoint.password = *password;
    basic->Finish();
    if (!endpoint.bearer_token_file.empty()) {
      map.Fail("basic_auth", "set either basic_auth or bearer_token_file, not both");
    }
  }
  endpoint.ca_file = map.String("ca_file").value_or("");
  if (auto timeout = map.Duration("timeout")) {
    if (*timeout < std::chrono::milliseconds(10)) map.Fail("timeout", "must be at least 10ms");
    endpoint.timeout = *timeout;
  }
  map.Finish();
  return endpoint;
}

MonitoringTarget ReadMonitoringTarget(YamlMap& map, const ExporterSettings& exporter) {
  MonitoringTarget target;
  target.name = map.RequiredString("name");
  if (auto prometheus = map.Map("prometheus")) target.prometheus = ReadHttpEndpoint(*prometheus);
  if (auto logs = map.Map("victorialogs")) target.victorialogs = ReadHttpEndpoint(*logs);
  if (auto rules = map.Map("rules")) target.rules = ReadHttpEndpoint(*rules);
  if (!target.prometheus && !target.victorialogs && !target.rules) {
    map.FailHere("set prometheus: {url: ...}, victorialogs: {url: ...} and/or rules: {url: ...}");
  }
  target.probes = ReadProbes(map, target.name, exporter);
  map.Finish();
  return target;
}

ValidateSettings ReadValidate(YamlMap& map) {
  ValidateSettings settings;
  std::set<CheckGroup> seen;
  for (auto& entry : map.ListOfMaps("skip")) {
    SkippedGroup skipped;
    const std::string slug = entry.RequiredString("group");
    auto group = FindGroupBySlug(slug);
    if (!group) {
      entry.Fail("group", "unknown group \"" + slug + "\" (groups: " + GroupSlugList() + ")");
    }
    if (!seen.insert(*group).second) entry.Fail("group", "\"" + slug + "\" is skipped twice");
    skipped.group = *group;
    skipped.reason =
        entry.RequiredString("reason");  // a skip without a reason reads as an oversight
    entry.Finish();
    settings.skip.push_back(std::move(skipped));
  }
  map.Finish();
  return settings;
}

std::shared_ptr<const Config> ReadConfig(const YAML::Node& document, const std::string& source) {
  auto file = std::make_shared<const std::string>(source);
  YamlMap root(document, "", file);
  auto config = std::make_shared<Config>();
  config->source = source;
  config->exporter = ReadExporter(root);

  std::set<std::string> target_names;
  if (auto postgres = root.Map("postgres")) {
    for (auto& cluster_map : postgres->ListOfMaps("clusters")) {
      auto cluster = ReadCluster(cluster_map, config->exporter);
      CheckUnique(target_names, cluster_map, cluster.name, "target");
      config->postgres_clusters.push_back(std::move(cluster));
    }
    postgres->Finish();
  }
  for (auto& pooler_map : root.ListOfMaps("poolers")) {
    auto pooler = ReadPooler(pooler_map, config->exporter);
    CheckUnique(target_names, pooler_map, pooler.name, "target");
    if (!pooler.cluster.empty() && config->FindCluster(pooler.cluster) == nullptr) {
      pooler_map.Fail("cluster", "no postgres cluster named \"" + pooler.cluster + "\"");
    }
    config->poolers.push_back(std::move(pooler));
  }
  for (auto& dragonfly_map : root.ListOfMaps("dragonfly")) {
    auto dragonfly = ReadDragonfly(dragonfly_map, config->exporter);
    CheckUnique(target_names, dragonfly_map, dragonfly.name, "target");
    config->dragonflies.push_back(std::move(dragonfly));
  }
  if (auto kubernetes = root.Map("kubernetes")) {
    config->kubernetes = ReadKubernetes(*kubernetes, config->exporter, target_names);
  }
  for (const auto& cluster : config->postgres_clusters) {
    if (cluster.discover && !config->kubernetes) {
      root.Fail("kubernetes", "required: postgres cluster \"" + cluster.name +
                                  "\" discovers its members (discover: kubernetes:)");
    }
  }
  for (const auto& dragonfly : config->dragonflies) {
    if (dragonfly.discover && !config->kubernetes) {
      root.Fail("kubernetes", "required: dragonfly \"" + dragonfly.name +
                                  "\" discovers its members (discover: kubernetes:)");
    }
  }
  for (auto& monitoring_map : root.ListOfMaps("monitoring")) {
    auto target = ReadMonitoringTarget(monitoring_map, config->exporter);
    CheckUnique(target_names, monitoring_map, target.name, "target");
    config->monitoring.push_back(std::move(target));
  }
  if (auto drills = root.Map("drills")) config->drills = ReadDrills(*drills, *config);
  if (auto validate = root.Map("validate")) config->validate = ReadValidate(*validate);
  root.Finish();
  return config;
}

}  // namespace

const PgEndpoint& PostgresCluster::BaseEndpoint() const {
  if (read_write) return *read_write;
  if (!instances.empty()) return instances.front();
  return member_defaults;
}

const DrillSettings* DrillsSettings::Find(const std::string& kind) const {
  for (const auto& job : jobs) {
    if (job.kind == kind) return &job;
  }
  return nullptr;
}

std::vector<const ProbeSettings*> Config::AllProbes() const {
  std::vector<const ProbeSettings*> probes;
  for (const auto& cluster : postgres_clusters) {
    for (const auto& probe : cluster.probes) probes.push_back(&probe);
  }
  for (const auto& pooler : poolers) {
    for (const auto& probe : pooler.probes) probes.push_back(&probe);
  }
  for (const auto& dragonfly : dragonflies) {
    for (const auto& probe : dragonfly.probes) probes.push_back(&probe);
  }
  if (kubernetes) {
    for (const auto& cluster : kubernetes->clusters) {
      for (const auto& probe : cluster.probes) probes.push_back(&probe);
    }
  }
  for (const auto& target : monitoring) {
    for (const auto& probe : target.probes) probes.push_back(&probe);
  }
  return probes;
}

const PostgresCluster* Config::FindCluster(const std::string& name) const {
  for (const auto& cluster : postgres_clusters) {
    if (cluster.name == name) return &cluster;
  }
  return nullptr;
}

const Pooler* Config::FindPooler(const std::string& name) const {
  for (const auto& pooler : poolers) {
    if (pooler.name == name) return &pooler;
  }
  return nullptr;
}

const Dragonfly* Config::FindDragonfly(const std::string& name) const {
  for (const auto& dragonfly : dragonflies) {
    if (dragonfly.name == name) return &dragonfly;
  }
  return nullptr;
}

const MonitoringTarget* Config::FindMonitoring(const std::string& name) const {
  for (const auto& target : monitoring) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

const KubeCluster* Config::FindKubeCluster(const std::string& name) const {
  if (!kubernetes) return nullptr;
  for (const auto& cluster : kubernetes->clusters) {
    if (cluster.name == name) return &cluster;
  }
  return nullptr;
}

Result<std::shared_ptr<const Config>> ParseConfig(const std::string& text,
                                                  const std::string& source) {
  try {
    YAML::Node document = YAML::Load(text);
    if (document.IsNull()) return MakeError(ErrorCode::kConfig, source + ": the file is empty");
    return ReadConfig(document, source);
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kConfig, source + ":" + std::to_string(error.mark.line + 1) + ":" +
                                             std::to_string(error.mark.column + 1) +
                                             ": invalid YAML: " + error.msg);
  }
}

Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kConfig, path + ": cannot open the config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), path);
}

}  // namespace dbcanary
