#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config.h"
#include "probes/dragonfly/dragonfly_roles.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "dragonfly_structures" on a `dragonfly[]` target, on the master. Each data structure
// is written together with its expiry in one MULTI/EXEC and read back and compared:
//   list        MULTI; RPUSH k a b c; EXPIRE k ttl; EXEC   then LRANGE k 0 -1 == [a, b, c]
//   set         MULTI; SADD k a b c;  EXPIRE k ttl; EXEC   then SMEMBERS k == {a, b, c}
//   hash        MULTI; HSET k f1 v1 f2 v2; EXPIRE; EXEC   then HGETALL k == {f1: v1, f2: v2}
//   sorted_set  MULTI; ZADD k 1 a 2.5 b; EXPIRE; EXEC     then ZRANGE k 0 -1 WITHSCORES
// then TTL semantics: ttl_pttl (SET k v EX ttl; TTL in (0, ttl]; PTTL in (0, ttl*1000]),
// short_expiry (SET k v PX short_ttl; sleep past it; GET is nil), and cleanup (DEL of every
// key). Ops are timed into dbcanary_dragonfly_op_duration_seconds{target,op} with op names
// structures_connect, list, set, hash, sorted_set, ttl_pttl, short_expiry, cleanup.
//
// Params: ttl (default 60s, whole seconds), short_ttl (default 100ms, 10ms..1s).
class DragonflyStructuresProbe : public Probe {
 public:
  DragonflyStructuresProbe(const Dragonfly& target, DragonflyMemberLister members,
                           std::chrono::seconds ttl, std::chrono::milliseconds short_ttl);

  const std::vector<MetricDesc>& Describe() const override;
  ProbeResult Run(const ProbeContext& ctx) override;

 private:
  std::string target_;
  DragonflyMemberLister members_;  // configured or discovered; roles are asked each run
  std::string key_prefix_;
  std::chrono::seconds ttl_;
  std::chrono::milliseconds short_ttl_;
};

Result<std::unique_ptr<Probe>> CreateDragonflyStructuresProbe(const ProbeSettings& settings,
                                                              const Config& config);

}  // namespace dbcanary
