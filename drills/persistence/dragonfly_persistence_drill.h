#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"

// The `dragonfly_persistence` drill (docs/drills/dragonfly_persistence.md): writes keys, a hash
// and a set under the target's key prefix, SAVEs, restarts the master with a configured command,
// waits until it serves again with its dataset loaded, verifies every key and measures the
// recovery time; then waits for the replicas to re-attach. The keys are deleted afterwards.

namespace dbcanary {

struct DragonflyPersistenceParams {
  std::string dragonfly;  // target name
  int keys = 100;
  std::vector<std::string> restart_command;
  bool check_replicas = true;  // wait for every configured replica's master_link_status:up
  std::optional<double> max_recovery_seconds;
};

DragonflyPersistenceParams ReadDragonflyPersistenceParams(YamlMap& params, const Config& config);

// The drill's key names for `prefix`: prefix + "drill:persistence:" + ...
std::string PersistenceKey(const std::string& prefix, int index);
// The SCAN MATCH pattern of every drill key under `prefix` (the prefix glob-escaped).
std::string PersistenceScanPattern(const std::string& prefix);
std::string PersistenceHashKey(const std::string& prefix);
std::string PersistenceSetKey(const std::string& prefix);
// The value written under key `index` for the run `token`.
std::string PersistenceValue(const std::string& token, int index);

// Pure: how many of `values` (an MGET reply, nullopt for nil) equal the values the run wrote
// for indices [first, first + values.size()).
int CountVerified(const std::vector<std::optional<std::string>>& values, const std::string& token,
                  int first);

// Whether the server restarted since `before`: a different run_id when both report one, else
// an uptime no longer than the time since the trigger.
bool RestartedSince(const std::string& run_id_before, const std::string& run_id_now,
                    std::optional<double> uptime_seconds, double seconds_since_trigger);

// Whether to send SAVE again after it failed with `error`. A save of the server's own (save
// rules, a replica's full sync) makes SAVE refuse with an error reply whose wording is the
// server's (Redis 7: "ERR Background save already in progress"; Dragonfly names its global state:
// "SAVING - can not save database") and has no error word of its own for "busy"; so the decision
// is on typed facts: an error reply (cause.redis_error set) while INFO reports a save running
// (`save_running`: rdb_bgsave_in_progress | saving; nullopt when unknown) is waited out and
// retried. An error reply with no save running is retried once (`refused_before` false): that
// save may have ended between the refusal and the INFO. Anything else (I/O failure, a second
// unexplained refusal) fails the phase.
bool ShouldRetrySave(const Error& error, std::optional<bool> save_running, bool refused_before);

Result<std::unique_ptr<Drill>> MakeDragonflyPersistenceDrill(const DrillSettings& settings,
                                                             const Config& config);

}  // namespace dbcanary
