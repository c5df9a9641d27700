#include "drills/runtime/drill_lock.h"

#include <unistd.h>

#include "core/random.h"

namespace dbcanary {
namespace {

constexpr char kLeaseName[] = "drills";  // one lease: one drill at a time across exporters

// client_min_messages: no "already exists, skipping" NOTICE on stderr.
constexpr char kCreateTable[] =
    "SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS dbcanary.drill_lease ("
    " name text PRIMARY KEY, holder text NOT NULL, acquired_at timestamptz NOT NULL,"
    " expires_at timestamptz NOT NULL, drill text NOT NULL)";

#define DBCANARY_UTC(column) \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

// The statement's snapshot predates the INSERT, so `current` is the row as it was: the
// holder to name when nothing was granted.
constexpr char kAcquire[] =
    "WITH acquired AS ("
    " INSERT INTO dbcanary.drill_lease AS lease (name, holder, acquired_at, expires_at, drill)"
    " VALUES ($1, $2, now(), now() + make_interval(secs => $3::float8 / 1000), $4)"
    " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder,"
    "  acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at,"
    "  drill = EXCLUDED.drill"
    " WHERE lease.expires_at < now() OR lease.holder = EXCLUDED.holder"
    " RETURNING expires_at) "
    "SELECT (SELECT " DBCANARY_UTC("expires_at") " FROM acquired) AS granted_until,"
    " current.holder, current.drill, " DBCANARY_UTC("current.expires_at") " AS held_until "
    "FROM (SELECT 1) AS one LEFT JOIN dbcanary.drill_lease AS current ON current.name = $1";

constexpr char kRenew[] =
    "UPDATE dbcanary.drill_lease SET expires_at = now() + make_interval(secs => $3::float8 / 1000)"
    " WHERE name = $1 AND holder = $2 RETURNING " DBCANARY_UTC("expires_at") " AS expires_at";

constexpr char kRelease[] =
    "DELETE FROM dbcanary.drill_lease WHERE name = $1 AND holder = $2 RETURNING holder";

}  // namespace

DrillLock::DrillLock(PostgresCluster cluster, std::chrono::milliseconds timeout,
                     std::chrono::milliseconds ttl, std::string holder, PgMemberLister members)
    : cluster_(std::move(cluster)),
      timeout_(timeout),
      ttl_(ttl),
      holder_(std::move(holder)),
      members_(std::move(members)) {}

std::string DrillLock::DefaultHolder() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(RandomUint64() >> 32));
  return std::string(host[0] != '\0' ? host : "unknown") + "/" + std::to_string(::getpid()) + "/" +
         suffix;
}

Result<PgTable> DrillLock::Execute(const std::string& sql, const std::vector<PgValue>& params,
                                   std::stop_token stop) {
  Deadline deadline = Deadline::In(timeout_);
  std::vector<PgEndpoint> listed;
  if (members_) {
    auto members = members_(deadline, stop);
    if (!members) {
      return MakeError(members.error().code,
                       "drill lock on cluster " + cluster_.name +
                           ": members not discovered: " + members.error().message);
    }
    listed = std::move(*members);
  }
  std::vector<const PgEndpoint*> instances;
  for (const auto& member : members_ ? listed : cluster_.instances) instances.push_back(&member);
  if (instances.empty()) {
    return MakeError(ErrorCode::kUnexpected,
                     "drill lock on cluster " + cluster_.name + ": the cluster has no member");
  }
  size_t first = last_primary_.load() % instances.size();
  std::string tried;
  std::optional<Error> last_error;
  for (size_t offset = 0; offset < instances.size() && !deadline.Expired(); ++offset) {
    size_t index = (first + offset) % instances.size();
    const PgEndpoint& instance = *instances[index];
    PgConnectOptions options;
    options.statement_timeout = timeout_;
    auto session = PgSession::Connect(instance, options, deadline, stop);
    if (!session) {
      last_error = session.error();
      continue;
    }
    // Session-wide, so the lease statement commits only once the synchronous standby has
    // the WAL: the lease survives a failover to it.
    auto role = session->Query("SET synchronous_commit = on; SELECT pg_is_in_recovery() AS standby",
                               deadline, stop);
    if (!role) {
      last_error = role.error();
      continue;
    }
    auto standby = role->Bool(0, "standby");
    if (!standby || !*standby || **standby) {
      tried += (tried.empty() ? "" : ", ") + instance.name;
      continue;
    }
    last_primary_ = index;
    if (!table_ready_.load()) {
      auto created = session->Query(kCreateTable, deadline, stop);
      if (!created) return created.error();
      table_ready_ = true;
    }
    return session->QueryParams(sql, params, deadline, stop);
  }
  if (last_error) {
    return MakeError(last_error->code,
                     "drill lock on cluster " + cluster_.name +
                         ": no primary reachable (last error: " + last_error->message + ")");
  }
  return MakeError(deadline.Expired() ? ErrorCode::kTimeout : ErrorCode::kUnexpected,
                   "drill lock on cluster " + cluster_.name + ": no instance is primary" +
                       (tried.empty() ? "" : " (standbys: " + tried + ")"));
}

Result<std::unique_ptr<DrillLease>> DrillLock::Acquire(const std::string& drill,
                                                       spdlog::logger& log, std::stop_token stop) {
  auto rows = Execute(kAcquire, {kLeaseName, holder_, std::to_string(ttl_.count()), drill}, stop);
  if (!rows) return rows.error();
  if (rows->size() != 1) {
    return MakeError(ErrorCode::kProtocol, "drill lock: the lease query returned no row");
  }
  auto granted = rows->Text(0, "granted_until");
  if (!granted) return granted.error();
  if (*granted) return std::make_unique<DrillLease>(*this, drill, **granted, log);
  auto text = [&](const char* column) {
    auto value = rows->Text(0, column);
    return value && *value ? **value : std::string("?");
  };
  return MakeError(ErrorCode::kUnexpected, "drill lock held by " + text("holder") + " for drill " +
                                               text("drill") + " until " + text("held_until"));
}

DrillLease::DrillLease(DrillLock& lock, std::string drill, std::string expires_at,
                       spdlog::logger& log)
    : lock_(lock), drill_(std::move(drill)), expires_at_(std::move(expires_at)), log_(log) {
  renewer_ = std::jthread([this](std::stop_token stop) { RenewLoop(stop); });
}

DrillLease::~DrillLease() { (void)Release(); }

void DrillLease::RenewLoop(std::stop_token stop) {
  auto period = std::max(lock_.ttl() / 4, std::chrono::milliseconds(100));
  auto valid_until = SteadyClock::now() + lock_.ttl();
  std::unique_lock guard(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(guard, stop, period, [] { return false; });
    if (stop.stop_requested()) break;
    guard.unlock();
    auto rows = lock_.Execute(
        kRenew, {kLeaseName, lock_.holder(), std::to_string(lock_.ttl().count())}, stop);
    guard.lock();
    if (rows && rows->size() == 1) {
      valid_until = SteadyClock::now() + lock_.ttl();
      continue;
    }
    if (rows) {
      MarkLost("taken over by another holder");
      log_.error("drill lock: lease for drill {} was taken over by another holder", drill_);
      break;
    }
    renewal_failures_++;
    if (SteadyClock::now() >= valid_until) {
      if (!lost_.load()) {
        MarkLost("expired while renewals failed: " + rows.error().message);
        log_.error("drill lock: lease for drill {} expired; renewals failing: {}", drill_,
                   rows.error().message);
      }
    } else {
      log_.warn(
          "drill lock: renewing the lease for drill {} failed (tolerated until it "
          "expires): {}",
          drill_, rows.error().message);
    }
  }
}

void DrillLease::MarkLost(std::string reason) {
  lost_reason_ = std::move(reason);
  lost_ = true;
  lost_source_.request_stop();
}

std::string DrillLease::lost_reason() const {
  std::lock_guard guard(mutex_);
  return lost_reason_;
}

Status DrillLease::Release() {
  {
    std::lock_guard guard(mutex_);
    if (released_) return Ok{};
    released_ = true;
  }
  renewer_.request_stop();
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  auto rows = lock_.Execute(kRelease, {kLeaseName, lock_.holder()});
  if (!rows) {
    log_.warn("drill lock: releasing the lease failed (it expires on its own): {}",
              rows.error().message);
    return rows.error();
  }
  return Ok{};
}

}  // namespace dbcanary
