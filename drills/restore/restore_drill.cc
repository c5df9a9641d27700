#include "drills/restore/restore_drill.h"

#include <fmt/format.h>

#include <cmath>
#include <regex>

#include "clients/kube/kube_common.h"
#include "core/random.h"
#include "drills/health.h"
#include "drills/restore/restore_backend.h"
#include "drills/runtime/ownership.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

constexpr char kBackupSeconds[] = "dbcanary_drill_restore_backup_seconds";
constexpr char kRestoreSeconds[] = "dbcanary_drill_restore_restore_seconds";
constexpr char kRpoSeconds[] = "dbcanary_drill_restore_rpo_seconds";
constexpr char kVerified[] = "dbcanary_drill_restore_verified";
constexpr char kBackupBytes[] = "dbcanary_drill_restore_backup_bytes";

const std::vector<MetricDesc>& RestoreFamilies() {
  static const std::vector<MetricDesc> families = {
      {kBackupSeconds, "Time the restore drill's backup took, from trigger to completion.",
       MetricType::kGauge},
      {kRestoreSeconds,
       "Time from starting the restore until the scratch target accepted connections (RTO).",
       MetricType::kGauge},
      {kRpoSeconds,
       "Data age at the restore point: restore start minus the newest drill row found restored.",
       MetricType::kGauge},
      {kVerified, "1 when the restored data held the drill's marker and checksummed rows intact.",
       MetricType::kGauge},
      {kBackupBytes, "Size of the drill's backup, when the backup method reports it.",
       MetricType::kGauge},
  };
  return families;
}

std::string NewUuid() {
  uint64_t high = RandomUint64();
  uint64_t low = RandomUint64();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;    // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xffff, low >> 48, low & 0xffffffffffffULL);
}

std::string UtcLabel() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("dbcanary-restore-{:04d}{:02d}{:02d}t{:02d}{:02d}{:02d}z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string FormatTable(const PgTable& table) {
  std::string text;
  for (size_t c = 0; c < table.columns().size(); ++c) {
    text += (c ? " | " : "") + table.columns()[c];
  }
  text += "\n";
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t c = 0; c < table.columns().size(); ++c) {
      auto cell = table.Text(r, table.columns()[c]);
      text += (c ? " | " : "") + (cell && cell.value() ? *cell.value() : std::string("NULL"));
    }
    text += "\n";
  }
  return text;
}

// host:port of every configured instance and pooler: a scratch target at one of them is
// production, whatever the restore command said.
std::vector<std::pair<std::string, PgEndpoint>> ProductionAddresses(const Config& config) {
  std::vector<std::pair<std::string, PgEndpoint>> addresses;
  for (const auto& cluster : config.postgres_clusters) {
    for (const auto& member : cluster.instances) {
      addresses.emplace_back("instance " + member.name, member);
    }
    if (cluster.read_write) {
      addresses.emplace_back("read-write endpoint of " + cluster.name, *cluster.read_write);
    }
  }
  for (const auto& pooler : config.poolers) {
    addresses.emplace_back("pooler " + pooler.name, pooler.connection);
  }
  return addresses;
}

// Who a server is: a restored copy shares the system identifier of its origin, but its
// postmaster started after the restore.
struct ServerIdentity {
  std::optional<std::string> system_identifier;  // absent when pg_control_system() is denied
  double postmaster_start = 0;                   // Unix seconds
};

Result<ServerIdentity> QueryIdentity(PgSession& session, const DrillContext& ctx) {
  ServerIdentity identity;
  auto started =
      session.Query("SELECT extract(epoch FROM pg_postmaster_start_time())::float8 AS started",
                    ctx.deadline, ctx.stop);
  if (!started) return started.error();
  auto at = started->Number(0, "started");
  if (!at || !at.value()) return Error{ErrorCode::kProtocol, "no pg_postmaster_start_time()"};
  identity.postmaster_start = **at;
  auto control =
      session.Query("SELECT system_identifier::text AS system_identifier FROM pg_control_system()",
                    ctx.deadline, ctx.stop);
  if (control) {
    auto id = control->Text(0, "system_identifier");
    if (id && id.value()) identity.system_identifier = **id;
  }
  return identity;
}

class RestoreDrill : public Drill {
 public:
  RestoreDrill(RestoreDrillParams params, PostgresCluster cluster, ClusterMembers members,
               std::unique_ptr<BackupBackend> backup, std::unique_ptr<RestoreBackend> restore,
               std::vector<std::pair<std::string, PgEndpoint>> production)
      : params_(std::move(params)),
        cluster_(std::move(cluster)),
        members_(std::move(members)),
        backup_(std::move(backup)),
        restore_(std::move(restore)),
        production_(std::move(production)) {}

  const std::vector<MetricDesc>& Describe() const override { return RestoreFamilies(); }

  Status CleanUp(const DrillContext& ctx) override {
    auto removed = restore_->CleanUp(ctx);
    if (!removed) return removed.error();
    return backup_->CleanUp(ctx);
  }

  Status CheckPreconditions(const DrillContext& ctx) override {
    auto members = members_.Now(ctx);
    if (!members) return members.error();
    return CheckPostgresHealthy(*members, ctx);
  }

  // The phases in order; a phase that returns false has recorded why the run ends there. The
  // scratch target goes whatever happened (Finish).
  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    Labels labels{{"target", cluster_.name}};
    RunState state;
    state.run_id = NewUuid();
    state.label = UtcLabel();

    if (WriteMarker(ctx, result, state) && Backup(ctx, result, state, labels) &&
        WriteTail(ctx, result, state) && Restore(ctx, result, state, labels)) {
      Verify(ctx, result, state, labels);
    }
    return Finish(ctx, result, state);
  }

 private:
  struct RunState {
    std::string run_id;
    std::string label;  // backup label (command) or Backup name (kubernetes)
    std::optional<PgSession> primary;
    std::string checksum;
    double marker_written_at = 0;
    double restore_started_at = 0;
    bool scratch_created = false;
    std::optional<PgSession> scratch;
    ServerIdentity primary_identity;
  };

  std::string Table(const char* name) const { return params_.marker_schema + "." + name; }

  void Phase(DrillResult& result, const char* name, SteadyClock::time_point start, bool ok,
             std::string detail) {
    result.AddPhase(name, SecondsSince(start), ok, std::move(detail));
  }

  bool Failed(DrillResult& result, const char* phase, SteadyClock::time_point start,
              const Error& error) {
    std::string message = cluster_.name + ": " + phase + ": " + error.message;
    Phase(result, phase, start, false, message);
    result.Fail(error.code, message);
    return false;
  }

  bool WriteMarker(const DrillContext& ctx, DrillResult& result, RunState& state);
  bool Backup(const DrillContext& ctx, DrillResult& result, RunState& state, const Labels& labels);
  bool WriteTail(const DrillContext& ctx, DrillResult& result, RunState& state);
  Result<bool> WaitArchived(const DrillContext& ctx, RunState& state, const std::string& wanted,
                            std::string& archived);
  bool Restore(const DrillContext& ctx, DrillResult& result, RunState& state, const Labels& labels);
  Status CheckScratchAddress(const PgEndpoint& target, const DrillContext& ctx) const;
  Status CheckNotProduction(const DrillContext& ctx, RunState& state) const;
  void Verify(const DrillContext& ctx, DrillResult& result, RunState& state, const Labels& labels);
  Result<RestoredMarker> ReadRestored(const DrillContext& ctx, DrillResult& result,
                                      RunState& state);
  DrillResult& Finish(const DrillContext& ctx, DrillResult& result, RunState& state);

  RestoreDrillParams params_;
  PostgresCluster cluster_;
  ClusterMembers members_;  // asked at every use (a discovered cluster's pods come and go)
  std::unique_ptr<BackupBackend> backup_;
  std::unique_ptr<RestoreBackend> restore_;
  std::vector<std::pair<std::string, PgEndpoint>> production_;
};

// ---- write_marker: the marker row and the checksummed rows, committed on the primary
bool RestoreDrill::WriteMarker(const DrillContext& ctx, DrillResult& result, RunState& state) {
  auto start = SteadyClock::now();
  ctx.progress("writing the marker and " + std::to_string(params_.marker_rows) +
               " checksummed rows on the primary");
  auto members = members_.Now(ctx);
  auto primary = members ? FindCurrentPrimary(*members, ctx) : Result<PgEndpoint>(members.error());
  if (!primary) return Failed(result, "write_marker", start, primary.error());
  PgEndpoint target = *primary;
  target.dbname = params_.marker_dbname;
  auto session = PgSession::Connect(target, {}, ctx.deadline, ctx.stop);
  if (!session) return Failed(result, "write_marker", start, session.error());
  state.primary.emplace(std::move(*session));
  const std::string marker = Table("restore_drill_marker");
  const std::string rows = Table("restore_drill_rows");
  const std::string comment = OwnershipComment("restore", "table");
  const std::string sql = fmt::format(
      "SET synchronous_commit = on; SET client_min_messages = warning;"
      "{4}; {5};"
      "BEGIN;"
      "{6}; {7};"
      "INSERT INTO {1} SELECT n, md5('{2}:' || n) FROM generate_series(1, {3}) AS n;"
      "INSERT INTO {0} SELECT '{2}', 'marker', clock_timestamp(),"
      " md5(string_agg(n || ':' || payload, ',' ORDER BY n)), count(*) FROM {1};"
      "COMMIT;"
      "SELECT extract(epoch FROM written_at)::float8 AS written_at, checksum, rows"
      " FROM {0} WHERE run_id = '{2}' AND kind = 'marker'",
      marker, rows, state.run_id, params_.marker_rows,
      EnsureOwnedTableSql(marker,
                          "run_id uuid NOT NULL, kind text NOT NULL, written_at timestamptz NOT "
                          "NULL, checksum text, rows integer, PRIMARY KEY (run_id, kind)",
                          comment),
      EnsureOwnedTableSql(rows, "n integer PRIMARY KEY, payload text NOT NULL", comment),
      GuardedTableSql(marker, comment, "DELETE FROM " + marker),
      GuardedTableSql(rows, comment, "DELETE FROM " + rows));
  auto written = state.primary->Query(sql, ctx.deadline, ctx.stop);
  if (!written) return Failed(result, "write_marker", start, written.error());
  auto at = written->Number(0, "written_at");
  auto checksum = written->Text(0, "checksum");
  if (written->size() != 1 || !at || !at.value() || !checksum || !checksum.value()) {
    return Failed(result, "write_marker", start,
                  Error{ErrorCode::kProtocol, "the marker row was not read back"});
  }
  state.marker_written_at = **at;
  state.checksum = **checksum;
  auto identity = QueryIdentity(*state.primary, ctx);
  if (!identity) return Failed(result, "write_marker", start, identity.error());
  state.primary_identity = *identity;
  Phase(result, "write_marker", start, true,
        fmt::format("run {} on {}: {} rows, checksum {}", state.run_id, target.Describe(),
                    params_.marker_rows, state.checksum));
  result.AddEvidence("marker written on the primary", FormatTable(*written));
  return true;
}

// ---- backup: through the configured backend; its label names the backup from then on
bool RestoreDrill::Backup(const DrillContext& ctx, DrillResult& result, RunState& state,
                          const Labels& labels) {
  auto start = SteadyClock::now();
  auto taken = backup_->TakeBackup(ctx, state.label, result);
  if (!taken) return Failed(result, "backup", start, taken.error());
  state.label = taken->label;
  if (taken->bytes) result.Add(kBackupBytes, labels, *taken->bytes);
  result.Add(kBackupSeconds, labels, taken->seconds.value_or(SecondsSince(start)));
  Phase(result, "backup", start, true, taken->detail);
  return true;
}

// ---- switch_wal: a second row after the backup, then a WAL switch so the archive holds it,
// then the primary's clock as the restore start (the simulated moment of loss).
bool RestoreDrill::WriteTail(const DrillContext& ctx, DrillResult& result, RunState& state) {
  auto start = SteadyClock::now();
  ctx.progress("writing the tail row and switching WAL");
  // Two round trips: in one simple-query string both would share a transaction, and the
  // switch would come before the row's commit record.
  auto tail = state.primary->Query(
      fmt::format("INSERT INTO {0} VALUES ('{1}', 'tail', clock_timestamp(), NULL, NULL)",
                  Table("restore_drill_marker"), state.run_id),
      ctx.deadline, ctx.stop);
  if (!tail) return Failed(result, "switch_wal", start, tail.error());
  auto switched = state.primary->Query("SELECT pg_walfile_name(pg_switch_wal()) AS segment",
                                       ctx.deadline, ctx.stop);
  if (!switched) {
    Error error = switched.error();
    if (error.cause.IsSqlState("42501")) {  // insufficient_privilege
      error.message += " (grant it: GRANT EXECUTE ON FUNCTION pg_switch_wal() TO " +
                       cluster_.BaseEndpoint().user + ")";
    }
    return Failed(result, "switch_wal", start, error);
  }
  auto segment = switched->Text(0, "segment");
  const std::string wanted = segment && segment.value() ? **segment : "";
  std::string archived;
  auto ok = WaitArchived(ctx, state, wanted, archived);
  if (!ok) return Failed(result, "switch_wal", start, ok.error());
  auto now = state.primary->Query("SELECT extract(epoch FROM clock_timestamp())::float8 AS now",
                                  ctx.deadline, ctx.stop);
  if (!now) return Failed(result, "switch_wal", start, now.error());
  auto at = now->Number(0, "now");
  if (!at || !at.value()) {
    return Failed(result, "switch_wal", start, Error{ErrorCode::kProtocol, "no clock_timestamp"});
  }
  state.restore_started_at = **at;
  Phase(result, "switch_wal", start, *ok,
        *ok ? "segment " + wanted + " archived"
            : "segment " + wanted + " not archived within " +
                  std::to_string(params_.archive_wait.count() / 1000) +
                  " s (last archived: " + (archived.empty() ? "none" : archived) + ")");
  state.primary.reset();
  return true;
}

// Whether the archiver has segment `wanted` within archive_wait; `archived` is the last segment
// it reported. Not archived is not an error: the RPO then shows what the archive lacked.
Result<bool> RestoreDrill::WaitArchived(const DrillContext& ctx, RunState& state,
                                        const std::string& wanted, std::string& archived) {
  auto wait_until = SteadyClock::now() + params_.archive_wait;
  while (!wanted.empty()) {
    auto row = state.primary->Query("SELECT last_archived_wal FROM pg_stat_archiver", ctx.deadline,
                                    ctx.stop);
    if (!row) return row.error();
    auto cell = row->Text(0, "last_archived_wal");
    archived = cell && cell.value() ? **cell : "";
    // Same timeline: the file names sort by position.
    if (archived.size() == wanted.size() && archived >= wanted) return true;
    if (SteadyClock::now() >= wait_until || !PauseDrill(ctx, milliseconds(200))) break;
  }
  return false;
}

// ---- restore: through the configured backend, until the scratch target accepts connections
// (the RTO)
bool RestoreDrill::Restore(const DrillContext& ctx, DrillResult& result, RunState& state,
                           const Labels& labels) {
  auto start = SteadyClock::now();
  PgEndpoint target = restore_->ScratchConnection();
  target.dbname = params_.marker_dbname;
  if (auto elsewhere = CheckScratchAddress(target, ctx); !elsewhere) {
    return Failed(result, "restore", start, elsewhere.error());
  }
  auto restored = restore_->Restore(ctx, state.label, result, state.scratch_created);
  if (!restored) return Failed(result, "restore", start, restored.error());
  // The scratch target may need a moment after the command or the operator reports it ready.
  for (;;) {
    auto session = PgSession::Connect(target, {}, ctx.deadline, ctx.stop);
    if (session) {
      state.scratch.emplace(std::move(*session));
      break;
    }
    if (!PauseDrill(ctx, milliseconds(500))) {
      return Failed(result, "restore", start, session.error());
    }
  }
  double rto = SecondsSince(start);
  if (auto distinct = CheckNotProduction(ctx, state); !distinct) {
    return Failed(result, "restore", start, distinct.error());
  }
  result.Add(kRestoreSeconds, labels, rto);
  Phase(result, "restore", start, true,
        "scratch target " + target.Describe() + " accepts connections");
  if (params_.max_rto_seconds) {
    result.expectations.push_back(
        ExpectNumber("max_rto_seconds", cluster_.name, rto, "<=", *params_.max_rto_seconds));
  }
  return true;
}

// The scratch target must not be at the address of a configured instance or pooler, nor at a
// pod IP the cluster's discovery sees now.
Status RestoreDrill::CheckScratchAddress(const PgEndpoint& target, const DrillContext& ctx) const {
  auto production = production_;
  if (members_.discovered()) {
    auto members = members_.Now(ctx);
    if (!members) return members.error();
    for (const auto& member : members->instances) {
      PgEndpoint address = member;
      address.host = member.hostaddr;
      production.emplace_back("member " + member.name + " (pod IP)", std::move(address));
    }
  }
  const std::string& target_host = target.hostaddr.empty() ? target.host : target.hostaddr;
  for (const auto& [what, endpoint] : production) {
    if ((endpoint.host == target.host || endpoint.host == target_host) &&
        endpoint.port == target.port) {
      return MakeError(ErrorCode::kUnexpected,
                       "the scratch target " + target.host + ":" + std::to_string(target.port) +
                           " is the address of " + what +
                           ": a restore is verified only on a separate server");
    }
  }
  return Ok{};
}

// The scratch server must prove it is not the production primary the marker was written on:
// another system identifier, or (a restored copy keeps its origin's) a postmaster started after
// the primary's. Otherwise verifying there would find the marker just written and pass.
Status RestoreDrill::CheckNotProduction(const DrillContext& ctx, RunState& state) const {
  auto scratch = QueryIdentity(*state.scratch, ctx);
  if (!scratch) return scratch.error();
  const ServerIdentity& primary = state.primary_identity;
  const bool other_system = scratch->system_identifier && primary.system_identifier &&
                            *scratch->system_identifier != *primary.system_identifier;
  if (other_system || scratch->postmaster_start > primary.postmaster_start) return Ok{};
  return MakeError(ErrorCode::kUnexpected,
                   fmt::format("the scratch target is the production primary (system identifier "
                               "{}, postmaster started at {:.3f}, not after the primary's "
                               "{:.3f}): nothing was restored",
                               scratch->system_identifier.value_or("unknown"),
                               scratch->postmaster_start, primary.postmaster_start));
}

// ---- verify: the restored marker and rows against what the primary wrote, and the RPO
void RestoreDrill::Verify(const DrillContext& ctx, DrillResult& result, RunState& state,
                          const Labels& labels) {
  auto start = SteadyClock::now();
  ctx.progress("verifying the marker and checksum on the scratch target");
  auto restored = ReadRestored(ctx, result, state);
  if (!restored) {
    Failed(result, "verify", start, restored.error());
    return;
  }
  RestoreVerdict verdict =
      JudgeRestore(*restored, state.checksum, params_.marker_rows, state.restore_started_at);
  result.Add(kVerified, labels, verdict.verified ? 1 : 0);
  if (verdict.rpo_seconds) {
    result.Add(kRpoSeconds, labels, *verdict.rpo_seconds);
  }
  result.expectations.push_back(
      ExpectNumber("restore_verified", cluster_.name, verdict.verified ? 1 : 0, "==", 1));
  if (params_.max_rpo_seconds) {
    result.expectations.push_back(ExpectNumber("max_rpo_seconds", cluster_.name,
                                               verdict.rpo_seconds.value_or(NAN),
                                               "<=", *params_.max_rpo_seconds));
  }
  Phase(result, "verify", start, true, verdict.detail);
}

// What the scratch target holds of this run: the tables, the marker and tail rows and the
// checksum recomputed over the restored rows (shown as evidence).
Result<RestoredMarker> RestoreDrill::ReadRestored(const DrillContext& ctx, DrillResult& result,
                                                  RunState& state) {
  RestoredMarker restored;
  auto present = state.scratch->Query(
      fmt::format("SELECT to_regclass('{0}') IS NOT NULL AND to_regclass('{1}') IS NOT NULL AS "
                  "present",
                  Table("restore_drill_marker"), Table("restore_drill_rows")),
      ctx.deadline, ctx.stop);
  if (!present) return present.error();
  auto flag = present->Bool(0, "present");
  restored.tables_present = flag && flag.value() && **flag;
  if (!restored.tables_present) return restored;
  auto rows = state.scratch->Query(
      fmt::format(
          "SELECT m.kind, extract(epoch FROM m.written_at)::float8 AS written_at, m.checksum,"
          " m.rows, c.actual_checksum, c.actual_rows FROM {0} m,"
          " (SELECT md5(string_agg(n || ':' || payload, ',' ORDER BY n)) AS actual_checksum,"
          " count(*) AS actual_rows FROM {1}) c WHERE m.run_id = '{2}' ORDER BY m.kind",
          Table("restore_drill_marker"), Table("restore_drill_rows"), state.run_id),
      ctx.deadline, ctx.stop);
  if (!rows) return rows.error();
  result.AddEvidence("verification query on the scratch target", FormatTable(*rows));
  for (size_t r = 0; r < rows->size(); ++r) {
    auto kind = rows->Text(r, "kind");
    auto at = rows->Number(r, "written_at");
    if (!kind || !kind.value() || !at || !at.value()) continue;
    if (**kind == "marker") {
      restored.marker_found = true;
      restored.marker_written_at = **at;
      auto stored = rows->Text(r, "checksum");
      auto actual = rows->Text(r, "actual_checksum");
      auto count = rows->Number(r, "actual_rows");
      restored.stored_checksum = stored && stored.value() ? **stored : "";
      restored.actual_checksum = actual && actual.value() ? **actual : "";
      restored.actual_rows = count && count.value() ? static_cast<int64_t>(**count) : 0;
    } else if (**kind == "tail") {
      restored.tail_written_at = **at;
    }
  }
  return restored;
}

// ---- cleanup: the scratch target goes, if this run got as far as creating it
DrillResult& RestoreDrill::Finish(const DrillContext& ctx, DrillResult& result, RunState& state) {
  state.primary.reset();
  state.scratch.reset();
  if (!state.scratch_created) return result;
  auto start = SteadyClock::now();
  ctx.progress("removing the scratch target");
  // Within the run's deadline, but not interrupted by a shutdown request: the scratch must
  // go. What a timed-out run could not remove, the runner's CleanUp after Run removes.
  DrillContext cleanup{ctx.deadline, {}, ctx.log, ctx.progress, ctx.command_env};
  auto removed = restore_->CleanUp(cleanup);
  if (!removed) {
    std::string message = cluster_.name + ": cleanup: " + removed.error().message;
    Phase(result, "cleanup", start, false, message);
    if (!result.error) result.Fail(removed.error().code, message);
  } else {
    Phase(result, "cleanup", start, true, "scratch target removed");
    if (!removed->empty()) result.AddEvidence("cleanup command output", *removed);
  }
  return result;
}

std::vector<std::string> RequiredCommand(YamlMap& map, std::string_view key) {
  auto argv = map.ListOfStrings(key);
  if (argv.empty() || argv[0].empty()) map.Fail(key, "must be a non-empty list (argv, no shell)");
  return argv;
}

}  // namespace

std::string RecoveryClusterName(const std::string& cnpg_cluster) {
  return cnpg_cluster + "-dbcanary-restore";
}

nlohmann::json BuildCnpgBackup(const std::string& namespace_, const std::string& cnpg_cluster,
                               const std::string& method, const std::string& plugin) {
  nlohmann::json backup = {
      {"apiVersion", "postgresql.cnpg.io/v1"},
      {"kind", "Backup"},
      {"metadata",
       {{"generateName", cnpg_cluster + "-dbcanary-"},
        {"namespace", namespace_},
        {"labels",
         {{"app.kubernetes.io/managed-by", "dbcanary"}, {"dbcanary.io/drill", "restore"}}}}},
      {"spec", {{"cluster", {{"name", cnpg_cluster}}}, {"method", method}}},
  };
  if (method == "plugin") backup["spec"]["pluginConfiguration"] = {{"name", plugin}};
  return backup;
}

nlohmann::json BuildCnpgRecoveryCluster(const std::string& namespace_,
                                        const std::string& cnpg_cluster,
                                        const std::string& backup_name, const std::string& method,
                                        const std::string& plugin, const std::string& barman_object,
                                        int instances, const nlohmann::json& source) {
  nlohmann::json spec = {{"instances", instances}};
  for (const char* key : {"imageName", "imageCatalogRef", "storage", "walStorage"}) {
    if (const auto* field = kube::Field(source, {"spec", key})) spec[key] = *field;
  }
  if (const auto* parameters = kube::Field(source, {"spec", "postgresql", "parameters"})) {
    spec["postgresql"] = {{"parameters", *parameters}};
  }
  if (method == "plugin") {
    // Reads the production server's base backups and WAL; the scratch cluster configures no
    // WAL archiver plugin of its own, so it writes nowhere.
    spec["bootstrap"] = {{"recovery", {{"source", "dbcanary-origin"}}}};
    spec["externalClusters"] = nlohmann::json::array(
        {{{"name", "dbcanary-origin"},
          {"plugin",
           {{"name", plugin},
            {"parameters",
             {{"barmanObjectName", barman_object}, {"serverName", cnpg_cluster}}}}}}});
  } else {
    spec["bootstrap"] = {{"recovery", {{"backup", {{"name", backup_name}}}}}};
  }
  return {
      {"apiVersion", "postgresql.cnpg.io/v1"},
      {"kind", "Cluster"},
      {"metadata",
       {{"name", RecoveryClusterName(cnpg_cluster)},
        {"namespace", namespace_},
        {"labels",
         {{"app.kubernetes.io/managed-by", "dbcanary"}, {"dbcanary.io/drill", "restore"}}}}},
      {"spec", spec},
  };
}

RestoreVerdict JudgeRestore(const RestoredMarker& restored, const std::string& expected_checksum,
                            int64_t expected_rows, double restore_started_at) {
  RestoreVerdict verdict;
  if (!restored.tables_present) {
    verdict.detail = "the drill's tables are missing from the restored data";
    return verdict;
  }
  if (!restored.marker_found) {
    verdict.detail = "the marker row of this run is missing from the restored data";
    return verdict;
  }
  double newest = *restored.marker_written_at;
  if (restored.tail_written_at) newest = std::max(newest, *restored.tail_written_at);
  verdict.rpo_seconds = std::max(0.0, restore_started_at - newest);
  if (restored.stored_checksum != expected_checksum) {
    verdict.detail = "the restored marker's checksum " + restored.stored_checksum +
                     " differs from the one written (" + expected_checksum + ")";
  } else if (restored.actual_rows != expected_rows) {
    verdict.detail =
        fmt::format("{} rows restored, {} written", restored.actual_rows, expected_rows);
  } else if (restored.actual_checksum != expected_checksum) {
    verdict.detail = "the restored rows' checksum " + restored.actual_checksum +
                     " differs from the one written (" + expected_checksum + ")";
  } else {
    verdict.verified = true;
    verdict.detail =
        fmt::format("marker and {} rows verified (checksum {}); tail row {}", expected_rows,
                    expected_checksum, restored.tail_written_at ? "restored" : "not restored");
  }
  return verdict;
}

std::optional<double> ParseBackupBytes(const std::string& output) {
  static const std::regex line("(^|\n)DBCANARY_BACKUP_BYTES=([0-9]{1,18})(\r?\n|$)");
  std::smatch match;
  if (!std::regex_search(output, match, line)) return std::nullopt;
  return std::stod(match[2].str());
}

std::vector<std::string> SubstituteLabel(const std::vector<std::string>& argv,
                                         const std::string& label) {
  std::vector<std::string> out;
  for (std::string arg : argv) {
    for (size_t pos; (pos = arg.find("{label}")) != std::string::npos;) arg.replace(pos, 7, label);
    out.push_back(std::move(arg));
  }
  return out;
}

namespace {

// `backup`: exactly one of { command } or { kubernetes: { cluster, method, plugin } }.
void ReadBackupParams(YamlMap& params, const Config& config, RestoreDrillParams& p) {
  auto backup = params.Map("backup");
  if (!backup) params.Fail("backup", "is required: { command: [...] } or { kubernetes: {...} }");
  if (backup->Has("command") == backup->Has("kubernetes")) {
    backup->FailHere("needs exactly one of command, kubernetes");
  }
  if (backup->Has("command")) {
    p.backup_command = RequiredCommand(*backup, "command");
  } else {
    p.backup_method = RestoreMethod::kKubernetes;
    auto kube = backup->Map("kubernetes");
    p.backup_kube_cluster = kube->RequiredString("cluster");
    if (config.FindKubeCluster(p.backup_kube_cluster) == nullptr) {
      kube->Fail("cluster",
                 "no kubernetes.clusters[] target named \"" + p.backup_kube_cluster + "\"");
    }
    p.backup_kube_method = kube->Enum("method", {"barmanObjectStore", "volumeSnapshot", "plugin"})
                               .value_or(p.backup_kube_method);
    if (p.backup_kube_method == "plugin") {
      p.backup_plugin = kube->RequiredString("plugin");
    } else if (kube->Has("plugin")) {
      kube->Fail("plugin", "only with method: plugin");
    }
    kube->Finish();
  }
  backup->Finish();
}

// `restore`: exactly one of { command, cleanup, connection } or { kubernetes: { instances,
// barman_object_name, connection } }; connections default to the primary's settings.
void ReadRestoreParams(YamlMap& params, const PostgresCluster& cluster, RestoreDrillParams& p) {
  auto restore = params.Map("restore");
  if (!restore)
    params.Fail("restore",
                "is required: { command, cleanup, connection } or { kubernetes: {...} }");
  if (restore->Has("command") == restore->Has("kubernetes")) {
    restore->FailHere("needs exactly one of command, kubernetes");
  }
  PgEndpoint defaults = cluster.BaseEndpoint();
  defaults.name = "restore-scratch";
  if (restore->Has("command")) {
    p.restore_command = RequiredCommand(*restore, "command");
    p.cleanup_command = RequiredCommand(*restore, "cleanup");
    auto connection = restore->Map("connection");
    if (!connection) restore->Fail("connection", "is required with command");
    p.restore_connection = ReadPgEndpoint(*connection, defaults);
    connection->Finish();
  } else {
    p.restore_method = RestoreMethod::kKubernetes;
    if (p.backup_method != RestoreMethod::kKubernetes) {
      restore->Fail("kubernetes",
                    "needs backup.kubernetes (the recovery Cluster restores that Backup)");
    }
    auto kube = restore->Map("kubernetes");
    p.restore_instances = static_cast<int>(kube->Int("instances", 1, 9).value_or(1));
    if (p.backup_kube_method == "plugin") {
      p.restore_barman_object = kube->RequiredString("barman_object_name");
    }
    if (auto connection = kube->Map("connection")) {
      p.restore_connection = ReadPgEndpoint(*connection, defaults);
      connection->Finish();
    }
    kube->Finish();
  }
  if (restore->Has("cleanup") && p.restore_method == RestoreMethod::kKubernetes) {
    restore->Fail("cleanup", "only with command");
  }
  restore->Finish();
}

}  // namespace

RestoreDrillParams ReadRestoreDrillParams(YamlMap& params, const Config& config) {
  RestoreDrillParams p;
  p.cluster = params.RequiredString("cluster");
  const PostgresCluster* cluster = config.FindCluster(p.cluster);
  if (cluster == nullptr) params.Fail("cluster", "no postgres cluster named \"" + p.cluster + "\"");
  if (auto marker = params.Map("marker")) {
    p.marker_dbname = marker->String("dbname").value_or(p.marker_dbname);
    p.marker_schema = marker->String("schema").value_or(p.marker_schema);
    if (p.marker_schema != "dbcanary" && !IsDrillSqlName(p.marker_schema)) {
      marker->Fail("schema",
                   "must be dbcanary or start with dbcanary_: the drill deletes rows "
                   "of the tables it keeps there");
    }
    p.marker_rows = static_cast<int>(marker->Int("rows", 1, 1000000).value_or(p.marker_rows));
    marker->Finish();
  }
  p.archive_wait = params.Duration("archive_wait").value_or(p.archive_wait);
  ReadBackupParams(params, config, p);
  ReadRestoreParams(params, *cluster, p);
  if (auto expect = params.Map("expect")) {
    p.max_rto_seconds = expect->Number("max_rto_seconds", 0, 1e9);
    p.max_rpo_seconds = expect->Number("max_rpo_seconds", 0, 1e9);
    expect->Finish();
  }
  params.Finish();
  if (p.backup_method == RestoreMethod::kKubernetes && !config.kubernetes) {
    params.Fail("backup", "the kubernetes method needs the top-level kubernetes: section");
  }
  return p;
}

Result<std::unique_ptr<Drill>> MakeRestoreDrill(const DrillSettings& settings,
                                                const Config& config) {
  try {
    RestoreDrillParams params = ReadRestoreDrillParams(*settings.params, config);
    // The methods are chosen here, once: the drill's phases call the backends.
    auto backup = MakeBackupBackend(params, config);
    auto restore = MakeRestoreBackend(params, config);
    PostgresCluster cluster = *config.FindCluster(params.cluster);
    ClusterMembers members(cluster, config);
    return std::unique_ptr<Drill>(std::make_unique<RestoreDrill>(
        std::move(params), std::move(cluster), std::move(members), std::move(backup),
        std::move(restore), ProductionAddresses(config)));
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

}  // namespace dbcanary
