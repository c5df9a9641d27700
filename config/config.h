#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/endpoint.h"
#include "core/acceptance_groups.h"
#include "core/result.h"

namespace dbcanary {

// One probe enabled on a target: `probes: { KIND: { interval, timeout, ...params } }`.
struct ProbeSettings {
  std::string kind;    // e.g. "pg_replication"; validated against the probe registry
  std::string target;  // the target's configured name
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  // Kind-specific keys (everything but interval/timeout), read strictly by the probe's factory.
  std::shared_ptr<YamlMap> params;
};

// Declared targets for a PostgreSQL cluster; each set field becomes an expectation.
struct PgClusterExpect {
  std::optional<int64_t> instances;
  std::optional<int64_t> min_streaming_standbys;
  std::optional<int64_t> min_sync_standbys;
  std::optional<int64_t> max_sync_standbys;
  std::optional<double> max_replay_lag_bytes;
};

// Members of a CNPG cluster found through the Kubernetes API (`discover: { kubernetes: ... }`):
// the Cluster's status and its pods. Each pod is reached by its IP (libpq hostaddr) while its
// certificate is verified against `tls_server_name`.
struct PgDiscovery {
  std::string cnpg_cluster;     // name of the CNPG Cluster object
  std::string namespace_;       // its namespace
  std::string tls_server_name;  // default <cnpg_cluster>-rw.<namespace>.svc
  std::optional<int> port;      // absent: the pod's container port named "postgresql", else 5432
  std::chrono::milliseconds refresh{std::chrono::seconds(5)};  // how long a member list is reused
};

// A cluster declares its members, never their roles: every run derives who is primary from the
// servers (probes/postgres/pg_topology.h), so a failover or switchover needs no config change.
struct PostgresCluster {
  std::string name;
  std::vector<PgEndpoint> instances;     // `instances:` (or the legacy primary + standbys)
  std::optional<PgEndpoint> read_write;  // `read_write:` (<cluster>-rw); absent: the primary found
  std::optional<PgDiscovery> discover;   // members from Kubernetes instead of `instances:`
  PgEndpoint member_defaults;            // `defaults:`: settings of discovered members
  PgClusterExpect expect;
  std::vector<ProbeSettings> probes;

  // Settings every member shares (user, password, TLS), for connections that are no member
  // (a drill's scratch database): read_write, else the first member, else the defaults. Its
  // host says nothing about roles.
  const PgEndpoint& BaseEndpoint() const;
};

enum class PoolerType { kReadWrite, kReadOnly };

struct Pooler {
  std::string name;
  std::string cluster;  // name of a postgres cluster in this config
  PoolerType type = PoolerType::kReadWrite;
  PgEndpoint connection;
  std::vector<ProbeSettings> probes;
};

// Members of a Dragonfly found through the Kubernetes API (`discover: { kubernetes: ... }`): the
// pods the Dragonfly operator creates for it (label app=<name>), each reached by its pod IP.
struct DragonflyDiscovery {
  std::string dragonfly;    // name of the Dragonfly object (dragonflydb.io/v1alpha1)
  std::string namespace_;   // its namespace
  std::optional<int> port;  // absent: the pod's container port named "redis", else 6379
  std::chrono::milliseconds refresh{std::chrono::seconds(5)};  // how long a member list is reused
};

struct Dragonfly {
  std::string name;
  RedisEndpoint master;  // with discover: the credentials of every member (`defaults:`), no host
  std::vector<RedisEndpoint> replicas;
  std::optional<DragonflyDiscovery> discover;  // members from Kubernetes instead of master/replicas
  std::string key_prefix = "dbcanary:";
  std::vector<ProbeSettings> probes;
};

// How to reach one HTTP query API (Prometheus-compatible, VictoriaLogs): a base URL (with any
// path prefix, e.g. http://vmselect:8481/select/0/prometheus), optional auth and TLS trust.
struct HttpEndpoint {
  std::string url;                // http:// or https://; never contains credentials
  std::string bearer_token_file;  // re-read on every request, so rotated tokens just work
  std::string username;           // basic auth when non-empty
  Secret password;                // basic auth password (password_file or ${ENV})
  std::string ca_file;            // PEM bundle for https; empty: the system trust store
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // cap per request

  // The URL, which is what logs and errors may say about the endpoint.
  const std::string& Describe() const { return url; }
};

// A monitoring stack checked from the outside: `monitoring[]`. Its probe
// (monitoring_pipeline) queries `prometheus` (PromQL) and `victorialogs` (LogsQL).
struct MonitoringTarget {
  std::string name;  // target name; unique among all targets
  std::optional<HttpEndpoint> prometheus;
  std::optional<HttpEndpoint> victorialogs;
  // The rule engine's /api/v1/rules (vmalert; Prometheus serves it beside its queries, so the
  // prometheus endpoint is used when this is absent).
  std::optional<HttpEndpoint> rules;
  std::vector<ProbeSettings> probes;
};

// A CNPG cluster (and the objects around it) watched through the Kubernetes API:
// `kubernetes.clusters[]`. Its probes (k8s_*) read objects in `namespace_`.
struct KubeCluster {
  std::string name;          // target name; unique among all targets
  std::string namespace_;    // Kubernetes namespace of the Cluster object
  std::string cnpg_cluster;  // name of the CNPG Cluster object; defaults to `name`
  std::vector<ProbeSettings> probes;
};

// The top-level `kubernetes:` section: how to reach the API server, and the clusters.
struct KubernetesSettings {
  bool in_cluster = false;  // service-account token + CA mounted in the pod
  std::string kubeconfig;   // path; used when in_cluster is false
  std::string context;      // kubeconfig context; empty = current-context
  std::string api_server;   // overrides the server URL from the environment or kubeconfig
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // cap per API call
  std::vector<KubeCluster> clusters;
};

// One drill: `drills: { jobs: { KIND: { enabled, schedule, window, timeout, ...params } } }`.
struct DrillSettings {
  std::string kind;      // e.g. "failover"; validated against the drill registry
  bool enabled = false;  // scheduled only when true; `dbcanary drill KIND` runs it regardless
  std::string schedule;  // 5-field cron in UTC; empty: never scheduled
  std::string window;    // optional "HH:MM-HH:MM" (UTC) in which a scheduled run may start
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  // Kind-specific keys (everything above excepted), read strictly by the drill's factory.
  std::shared_ptr<YamlMap> params;
};

// The top-level `drills:` section.
struct DrillsSettings {
  std::string reports_dir;  // where evidence reports are written; required
  int keep_reports = 20;    // reports kept per drill; older ones are deleted
  // Names of the daemon's environment variables passed to drill commands, which otherwise get
  // only PATH, LANG, HOME and what the drill sets (drills/command.h).
  std::vector<std::string> command_env;
  // The postgres cluster whose primary holds the drill lease (a row written with
  // synchronous commit, so it survives a failover and is seen by every exporter).
  std::string lock_cluster;
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(5)};  // cap per lease query
  // How long a lease outlives its last renewal: a drill killed midway (exporter restart)
  // blocks the next one for at most this long. Renewed every ttl/4 while a drill runs.
  std::chrono::milliseconds lock_ttl{std::chrono::minutes(2)};
  std::vector<DrillSettings> jobs;

  const DrillSettings* Find(const std::string& kind) const;
};

// An acceptance group left out of the verdict on purpose: `validate.skip[]`. Its checks are
// still run and shown; the verdict names it with the reason instead of counting it.
struct SkippedGroup {
  CheckGroup group = CheckGroup::kOther;
  std::string reason;  // required: a skipped group without a reason reads as an oversight
};

// The top-level `validate:` section, read by `dbcanary validate` and the status page.
struct ValidateSettings {
  std::vector<SkippedGroup> skip;
};

struct ExporterSettings {
  std::string listen_address = "0.0.0.0:9750";
  int workers = 4;
  std::chrono::milliseconds default_interval{std::chrono::seconds(15)};
  std::chrono::milliseconds default_timeout{std::chrono::seconds(5)};
  std::string log_format = "text";  // text | json
  std::string log_level = "info";
};

struct Config {
  std::string source;  // file path it was read from
  ExporterSettings exporter;
  std::vector<PostgresCluster> postgres_clusters;
  std::vector<Pooler> poolers;
  std::vector<Dragonfly> dragonflies;
  std::optional<KubernetesSettings> kubernetes;  // absent when the section is absent
  std::optional<DrillsSettings> drills;          // absent when the section is absent
  std::vector<MonitoringTarget> monitoring;      // `monitoring:` targets
  ValidateSettings validate;

  // Every probe of every target, in config order.
  std::vector<const ProbeSettings*> AllProbes() const;
  const PostgresCluster* FindCluster(const std::string& name) const;
  const Pooler* FindPooler(const std::string& name) const;
  const Dragonfly* FindDragonfly(const std::string& name) const;
  const KubeCluster* FindKubeCluster(const std::string& name) const;
  const MonitoringTarget* FindMonitoring(const std::string& name) const;
};

// Reads and validates a config file. Errors read "FILE:LINE:COL: key.path: problem".
Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path);
// The same from text; `source` names it in errors.
Result<std::shared_ptr<const Config>> ParseConfig(const std::string& text,
                                                  const std::string& source);

}  // namespace dbcanary
