#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "clients/pg/pg_session.h"
#include "config/config.h"
#include "core/result.h"
#include "probes/postgres/pg_topology_source.h"

// The drill lock: one lease row on the current primary of the lock cluster,
//   dbcanary.drill_lease(name text primary key, holder text, acquired_at timestamptz,
//                        expires_at timestamptz, drill text)
// written with synchronous_commit = on, so that every exporter replica sees it and it
// survives a failover to the synchronous standby. Time is the database's now(): replicas'
// clocks do not matter.

namespace dbcanary {

class DrillLease;

class DrillLock {
 public:
  // `cluster` is copied. `timeout` caps each lease query (connect included), `ttl` is how
  // long a lease outlives its last renewal. `members` lists the members at each statement (a
  // discovered cluster's pods); empty: the cluster's configured instances.
  DrillLock(PostgresCluster cluster, std::chrono::milliseconds timeout,
            std::chrono::milliseconds ttl, std::string holder = DefaultHolder(),
            PgMemberLister members = {});

  // "hostname/pid/8 random hex digits".
  static std::string DefaultHolder();

  // Takes the lease for `drill` (creating the table if missing): one INSERT ... ON CONFLICT
  // DO UPDATE ... WHERE expired OR same holder. Errors: kUnexpected when another holder has
  // it ("drill lock held by H for drill D until T"), connection/query codes otherwise.
  // The lease renews itself every ttl/4 from a thread until released or destroyed.
  Result<std::unique_ptr<DrillLease>> Acquire(const std::string& drill, spdlog::logger& log,
                                              std::stop_token stop = {});

  const std::string& holder() const { return holder_; }
  const std::string& cluster_name() const { return cluster_.name; }
  std::chrono::milliseconds ttl() const { return ttl_; }

  // One lease statement on the current primary (renew/release use it too).
  // Connects to the instance that is primary now (the last one found is tried first), with
  // synchronous_commit = on, and runs `sql`, all within the lock timeout.
  Result<PgTable> Execute(const std::string& sql, const std::vector<PgValue>& params,
                          std::stop_token stop = {});

 private:
  PostgresCluster cluster_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds ttl_;
  std::string holder_;
  PgMemberLister members_;
  std::atomic<size_t> last_primary_{0};  // index into the member list
  std::atomic<bool> table_ready_{false};
};

// A held lease. Renewed in the background; released by Release() or the destructor.
// Renewal failures (a failover in progress) are logged and tolerated until the lease's
// expiry; after that the lease counts as lost.
class DrillLease {
 public:
  DrillLease(DrillLock& lock, std::string drill, std::string expires_at, spdlog::logger& log);
  ~DrillLease();
  DrillLease(const DrillLease&) = delete;
  DrillLease& operator=(const DrillLease&) = delete;

  // Stops renewing and deletes the row (if still ours). Idempotent.
  Status Release();
  // Whether renewals failed past the expiry, or found the row taken by another holder.
  bool lost() const { return lost_.load(); }
  // Requested once the lease is lost: the runner stops the drill with it.
  std::stop_token lost_token() const { return lost_source_.get_token(); }
  // Why the lease was lost ("taken over by another holder"); empty while held.
  std::string lost_reason() const;
  int renewal_failures() const { return renewal_failures_.load(); }
  const std::string& expires_at() const { return expires_at_; }

 private:
  void RenewLoop(std::stop_token stop);
  // Under mutex_: marks the lease lost with `reason` and trips lost_token().
  void MarkLost(std::string reason);

  DrillLock& lock_;
  std::string drill_;
  std::string expires_at_;  // as first granted, for messages
  spdlog::logger& log_;
  std::atomic<bool> lost_{false};
  std::atomic<int> renewal_failures_{0};
  bool released_ = false;
  std::string lost_reason_;
  std::stop_source lost_source_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread renewer_;
};

}  // namespace dbcanary
