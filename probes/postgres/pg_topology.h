#pragma once

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clients/pg/pg_session.h"
#include "config/endpoint.h"
#include "core/deadline.h"
#include "core/result.h"

// The one place where the roles of a PostgreSQL cluster's members are derived. A cluster declares
// (or discovers) its members, never their roles: every resolution asks each member whether it is
// in recovery and on which timeline, and the pg probes write on the primary and read on the
// standbys found that way. A failover or a switchover therefore needs no config change.

namespace dbcanary {

// The one query run on every member. A standby reports the timeline it receives
// (pg_stat_wal_receiver.received_tli), falling back to its last restartpoint's timeline when no
// WAL receiver runs; a primary reports its last checkpoint's timeline.
inline constexpr char kPgInstanceQuery[] =
    "SELECT current_setting('server_version') AS version,"
    " current_setting('server_version_num') AS version_num,"
    " pg_is_in_recovery() AS in_recovery,"
    " extract(epoch FROM pg_postmaster_start_time()) AS start_time,"
    " (SELECT system_identifier FROM pg_control_system()) AS system_identifier,"
    " CASE WHEN pg_is_in_recovery()"
    " THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
    " (SELECT timeline_id FROM pg_control_checkpoint()))"
    " ELSE (SELECT timeline_id FROM pg_control_checkpoint()) END AS timeline";

// What one member said (or that it did not answer).
struct InstanceFacts {
  std::string server;  // member name (its application_name)
  bool up = false;
  std::string version;     // "15.18": the first word of server_version
  double version_num = 0;  // 150018
  bool in_recovery = false;
  double timeline = 0;
  double start_time = 0;          // Unix seconds
  std::string system_identifier;  // decimal text (a uint64 does not fit a double)
};

// Reads the single row of kPgInstanceQuery into `facts` (server and up stay as they are).
Status ParseInstanceRow(const PgTable& table, InstanceFacts& facts);

// One member as a resolution saw it.
struct PgMember {
  PgEndpoint endpoint;
  InstanceFacts facts;         // facts.up is false when it did not answer
  std::optional<Error> error;  // why it did not answer
};

// The roles of every member at one instant.
struct PgTopology {
  std::string cluster;
  std::vector<PgMember> members;
  std::optional<PgEndpoint> read_write;  // the cluster's read-write endpoint, when configured
  SteadyClock::time_point resolved_at;

  // Members that answered and are not in recovery: 1 is healthy, 0 is "no primary", more is a
  // split brain.
  int Primaries() const;
  int Answering() const;
  // The member that takes the writes: the only primary; in a split brain the one on the newest
  // timeline (the promoted one). Null when no member answers as primary.
  const PgMember* Primary() const;
  // Every member but Primary(), in member order, including those that did not answer.
  std::vector<const PgMember*> Standbys() const;
  // Where writes go: read_write when configured, else Primary(). kUnexpected ("no primary")
  // when neither exists.
  Result<PgEndpoint> WriteEndpoint() const;
  const PgMember* Find(const std::string& name) const;
  // "cluster X: no primary (N of M members answer, all in recovery)": kUnexpected when every
  // member answered; otherwise with the code and cause of the first member that did not (most
  // likely the primary: a primary that is down reads as connect, one that hangs as timeout).
  Error NoPrimary() const;
};

// Asks every member in parallel (one connection, one kPgInstanceQuery each), each bounded by
// `deadline`. A member that does not answer is kept with its error; this never fails as a whole.
PgTopology ResolveTopology(const std::string& cluster, const std::vector<PgEndpoint>& members,
                           const std::optional<PgEndpoint>& read_write, Deadline deadline,
                           std::stop_token stop);

}  // namespace dbcanary
