#pragma once

#include <optional>
#include <string>
#include <vector>

#include "clients/redis/redis_info.h"
#include "config/config.h"
#include "probes/dragonfly/dragonfly_roles.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "dragonfly_info" on a `dragonfly[]` target: on the master and every replica, one
// INFO ALL (Dragonfly hides PERSISTENCE from a plain INFO) and, unless `config_get: false`,
// one CONFIG GET of the snapshot schedule (Redis `save`, Dragonfly `snapshot_cron`). Exports
// health (memory, clients, keyspace counters, start time, version) and persistence (last
// successful save time and status, AOF/RDB enabled, changes since the last save) per server.
//
// Params: config_get (bool, default true); expect: { max_last_save_age_seconds: N } (per
// server, target = server name). Every server that reports a save status also gets the
// undeclared check `last_save_succeeded`: a failed save is a failure at once, not once the
// last success has aged past the bound.
class DragonflyInfoProbe : public Probe {
 public:
  struct Options {
    bool config_get = true;
    std::optional<double> max_last_save_age_seconds;
  };
  DragonflyInfoProbe(const Dragonfly& target, DragonflyMemberLister members, Options options);

  const std::vector<MetricDesc>& Describe() const override;
  ProbeResult Run(const ProbeContext& ctx) override;

 private:
  std::string target_;
  DragonflyMemberLister members_;  // configured (master first) or discovered
  Options options_;
};

// Adds the samples of one server's facts to `result` (labels target, server); `now_unix` turns
// uptime into a start time. `rdb_enabled` is absent when CONFIG GET was not allowed.
void AppendInfoSamples(const std::string& target, const std::string& server,
                       const RedisInfoFacts& facts, std::optional<bool> rdb_enabled,
                       double now_unix, ProbeResult& result);

// The `last_save_succeeded` check of one server whose INFO reports a save status: a failed save
// fails it at once, with the server's own reason when it gives one (Dragonfly's last_error).
ExpectationResult LastSaveSucceeded(const std::string& server, const RedisInfoFacts& facts);

const std::vector<MetricDesc>& DragonflyInfoMetricDescs();

Result<std::unique_ptr<Probe>> CreateDragonflyInfoProbe(const ProbeSettings& settings,
                                                        const Config& config);

}  // namespace dbcanary
