#include "probes/pooler/pooler_roundtrip_probe.h"

#include <cstdio>
#include <optional>
#include <utility>

#include "clients/pg/pg_session.h"
#include "core/random.h"

namespace dbcanary {
namespace {

// Simple query protocol, no prepared statement and no SET: nothing depends on getting the same
// server connection twice.
const std::string kReadQuery = "SELECT 1 AS one";
const std::string kReadOnlyQuery =
    "SELECT pg_is_in_recovery() AS in_recovery, "
    "current_setting('transaction_read_only') AS read_only";
constexpr std::string_view kDefaultTable = "dbcanary_pooler_probe";
constexpr std::string_view kUndefinedTable = "42P01";

std::string RandomToken() { return RandomHex64() + RandomHex64(); }

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

class PoolerRoundtripProbe final : public Probe {
 public:
  PoolerRoundtripProbe(std::string target, std::string cluster, PoolerType type,
                       PgEndpoint connection, bool write, std::string table)
      : target_(std::move(target)),
        cluster_(std::move(cluster)),
        type_(type),
        connection_(std::move(connection)),
        write_(write),
        table_(std::move(table)),
        phases_(PoolerRoundtripPhases(type_, write_)) {}

  const std::vector<MetricDesc>& Describe() const override { return PoolerRoundtripMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    std::vector<PhaseOutcome> outcomes;
    for (auto phase : phases_) outcomes.push_back(PhaseOutcome{phase});
    auto finish = [&](std::optional<Error> error) {
      if (error) {
        result.Fail(std::move(*error));
      } else {
        result.success = true;
      }
      AppendPhaseSamples(target_, outcomes, result);
      AppendPoolerInfo(target_, cluster_, type_, result);
      return std::move(result);
    };

    auto started = SteadyClock::now();
    auto session = PgSession::Connect(connection_, PgConnectOptions{}, ctx.deadline, ctx.stop);
    outcomes[0] = {outcomes[0].phase, true, session.has_value(), SecondsSince(started)};
    if (!session) return finish(session.error());

    for (size_t i = 1; i < outcomes.size(); ++i) {
      started = SteadyClock::now();
      Status status = RunPhase(outcomes[i].phase, *session, ctx, result);
      outcomes[i] = {outcomes[i].phase, true, status.has_value(), SecondsSince(started)};
      if (!status) return finish(status.error());
    }
    session->Close();
    return finish(std::nullopt);
  }

 private:
  Status RunPhase(std::string_view phase, PgSession& session, const ProbeContext& ctx,
                  ProbeResult& result) {
    if (phase == "read") return Read(session, ctx);
    if (phase == "write") return Write(session, ctx);
    return ReadOnlyCheck(session, ctx, result);
  }

  Error Unexpected(const std::string& what) const {
    return MakeError(ErrorCode::kUnexpected, "pooler_roundtrip " + target_ + ": " + what);
  }

  Status Read(PgSession& session, const ProbeContext& ctx) {
    auto rows = session.Query(kReadQuery, ctx.deadline, ctx.stop);
    if (!rows) return rows.error();
    if (rows->size() != 1) {
      return Unexpected("SELECT 1 through " + session.describe() + " returned " +
                        std::to_string(rows->size()) + " rows");
    }
    auto one = rows->Text(0, "one");
    if (!one) return one.error();
    if (*one != PgValue("1")) {
      return Unexpected("SELECT 1 through " + session.describe() + " returned \"" +
                        one->value_or("NULL") + "\"");
    }
    return Ok{};
  }

  // INSERT + DELETE of one fresh token in one implicit transaction: the commit is a real
  // write (it has a transaction id, so it waits for synchronous replication) and leaves no row.
  Status Write(PgSession& session, const ProbeContext& ctx) {
    const std::string token = RandomToken();  // hex only: safe as a literal
    const std::string sql = "INSERT INTO " + table_ + " (token) VALUES ('" + token +
                            "'); DELETE FROM " + table_ + " WHERE token = '" + token +
                            "' RETURNING token";
    auto rows = session.Query(sql, ctx.deadline, ctx.stop);
    if (!rows && session.connected() && rows.error().cause.IsSqlState(kUndefinedTable)) {
      // First run against this database (or the table was dropped): create it, as the tenant.
      auto created = session.Query("CREATE TABLE IF NOT EXISTS " + table_ +
                                       " (token text NOT NULL, written_at timestamptz NOT NULL "
                                       "DEFAULT now())",
                                   ctx.deadline, ctx.stop);
      if (!created) return created.error();
      rows = session.Query(sql, ctx.deadline, ctx.stop);
    }
    if (!rows) return rows.error();
    if (rows->size() != 1) {
      return Unexpected("write through " + session.describe() + ": DELETE returned " +
                        std::to_string(rows->size()) + " rows instead of 1");
    }
    auto deleted = rows->Text(0, "token");
    if (!deleted) return deleted.error();
    if (*deleted != PgValue(token)) return Unexpected("write: DELETE returned another token");
    return Ok{};
  }

  Status ReadOnlyCheck(PgSession& session, const ProbeContext& ctx, ProbeResult& result) {
    auto rows = session.Query(kReadOnlyQuery, ctx.deadline, ctx.stop);
    if (!rows) return rows.error();
    if (rows->size() != 1) {
      return Unexpected("read-only check returned " + std::to_string(rows->size()) + " rows");
    }
    auto in_recovery = rows->Bool(0, "in_recovery");
    if (!in_recovery) return in_recovery.error();
    auto read_only = rows->Text(0, "read_only");
    if (!read_only) return read_only.error();
    if (!*in_recovery || !*read_only) return Unexpected("read-only check returned NULL");
    const bool standby = **in_recovery;
    const bool ro = **read_only == "on";
    Labels labels = {{"target", target_}};
    result.Add(std::string(kPoolerServerInRecovery), labels, standby ? 1 : 0);
    result.Add(std::string(kPoolerServerReadOnly), labels, ro ? 1 : 0);
    result.expectations.push_back(
        ExpectNumber("pooler_routes_to_standby", target_, standby ? 1 : 0, "==", 1));
    return Ok{};
  }

  std::string target_;
  std::string cluster_;
  PoolerType type_;
  PgEndpoint connection_;
  bool write_;
  std::string table_;
  std::vector<std::string_view> phases_;
};

}  // namespace

const std::vector<MetricDesc>& PoolerRoundtripMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPoolerPhaseSeconds),
       "Time spent in each phase of the last round trip through the pooler (connect: TCP, TLS "
       "and authentication; read: SELECT 1; write: INSERT+DELETE transaction; readonly_check: "
       "pg_is_in_recovery), also when the phase failed; 0 if not reached.",
       MetricType::kGauge},
      {std::string(kPoolerPhaseSuccess),
       "Whether each phase of the last round trip through the pooler succeeded (1) or failed "
       "or was not reached (0).",
       MetricType::kGauge},
      {std::string(kPoolerServerInRecovery),
       "Whether the server a ro pooler routed the last read-only check to is in recovery (1: a "
       "standby, as it should be; 0: the primary).",
       MetricType::kGauge},
      {std::string(kPoolerServerReadOnly),
       "Whether the last read-only check through a ro pooler ran with transaction_read_only on.",
       MetricType::kGauge},
      {std::string(kPoolerInfo),
       "The pooler's PostgreSQL cluster (postgres_cluster) and type (rw, ro), from the "
       "configuration; always 1.",
       MetricType::kGauge},
  };
  return descs;
}

std::vector<std::string_view> PoolerRoundtripPhases(PoolerType type, bool write) {
  std::vector<std::string_view> names = {"connect", "read"};
  if (type == PoolerType::kReadOnly) {
    names.push_back("readonly_check");
  } else if (write) {
    names.push_back("write");
  }
  return names;
}

void AppendPhaseSamples(const std::string& target, const std::vector<PhaseOutcome>& outcomes,
                        ProbeResult& out) {
  for (const auto& outcome : outcomes) {
    Labels labels = {{"target", target}, {"phase", std::string(outcome.phase)}};
    out.Add(std::string(kPoolerPhaseSeconds), labels, outcome.reached ? outcome.seconds : 0);
    out.Add(std::string(kPoolerPhaseSuccess), std::move(labels),
            outcome.reached && outcome.success ? 1 : 0);
  }
}

void AppendPoolerInfo(const std::string& target, const std::string& cluster, PoolerType type,
                      ProbeResult& out) {
  out.Add(std::string(kPoolerInfo),
          {{"target", target},
           {"postgres_cluster", cluster},
           {"type", type == PoolerType::kReadOnly ? "ro" : "rw"}},
          1);
}

bool IsValidProbeTableName(std::string_view table) {
  auto dot = table.find('.');
  if (dot == std::string_view::npos) return IsIdentifier(table);
  return IsIdentifier(table.substr(0, dot)) && IsIdentifier(table.substr(dot + 1));
}

Result<std::unique_ptr<Probe>> CreatePoolerRoundtripProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Pooler* pooler =
        RequireTarget(settings, config.FindPooler(settings.target), "pooler_roundtrip: no pooler");
    const bool read_only = pooler->type == PoolerType::kReadOnly;
    bool write = !read_only;
    std::string table(kDefaultTable);
    if (settings.params) {
      YamlMap& params = *settings.params;
      if (auto value = params.Bool("write")) {
        if (*value && read_only) params.Fail("write", "a ro pooler cannot take writes");
        write = *value;
      }
      if (auto value = params.String("table")) {
        if (!IsValidProbeTableName(*value)) {
          params.Fail("table", "expected [schema.]name in lower-case letters, digits and _");
        }
        table = *value;
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(std::make_unique<PoolerRoundtripProbe>(
        pooler->name, pooler->cluster, pooler->type, pooler->connection, write, std::move(table)));
  });
}

}  // namespace dbcanary
