#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clients/redis/redis_client.h"
#include "config/config.h"
#include "probes/dragonfly/dragonfly_roles.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "dragonfly_basics" on a `dragonfly[]` target. On the master: connect (+AUTH), PING,
// SET <key_prefix>basics:<random> <random bytes> EX ttl, GET (must match), TTL (must be in
// (0, ttl]), DEL (must return 1). Each op is timed into dbcanary_dragonfly_op_duration_seconds
// and dbcanary_dragonfly_op_success{target,op}; the run succeeds only when every op did.
// The key always carries an expiry, so a run cut short (even by the exporter dying) leaves
// nothing behind for longer than `ttl`.
//
// Params: ttl (duration, default 60s; whole seconds, 1s..24h, at least the probe timeout).
class DragonflyBasicsProbe : public Probe {
 public:
  DragonflyBasicsProbe(const Dragonfly& target, DragonflyMemberLister members,
                       std::chrono::seconds ttl);

  const std::vector<MetricDesc>& Describe() const override;
  ProbeResult Run(const ProbeContext& ctx) override;

 protected:
  // Called right after SET succeeded, outside every op's timing. Tests override it to look
  // at the key while it exists.
  virtual void OnKeyWritten(RedisClient& client, const std::string& key);

 private:
  std::string target_;             // the dragonfly entry's name: label target=
  DragonflyMemberLister members_;  // configured or discovered; roles are asked each run
  std::string key_prefix_;
  std::chrono::seconds ttl_;
};

// Why a TTL reply is wrong for a key just written with EX `ttl`; empty when it is in (0, ttl].
std::string CheckBasicsTtl(long long observed, std::chrono::seconds ttl);

// The key one run writes: "<prefix>basics:" and 16 random hex digits.
std::string MakeBasicsKey(std::string_view prefix);

Result<std::unique_ptr<Probe>> CreateDragonflyBasicsProbe(const ProbeSettings& settings,
                                                          const Config& config);

}  // namespace dbcanary
