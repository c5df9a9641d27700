#include "drills/benchmark/pg_benchmark_drill.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "clients/pg/pg_session.h"
#include "core/random.h"
#include "drills/benchmark/bench_baseline.h"
#include "drills/benchmark/bench_leg.h"
#include "drills/benchmark/bench_stats.h"
#include "drills/benchmark/fd_wait.h"
#include "drills/health.h"
#include "drills/runtime/ownership.h"
#include "drills/runtime/report.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

constexpr const char* kKind = "pg_benchmark";
// The ownership marker of the scratch database (COMMENT ON DATABASE).
const std::string kMarker = OwnershipComment("pg_benchmark", "database");
constexpr int kAccountsPerBranch = 100000;  // pgbench's naccounts
constexpr int kTellersPerBranch = 10;       // pgbench's ntellers
constexpr const char* kTps = "dbcanary_drill_pg_benchmark_tps";
constexpr const char* kLatency = "dbcanary_drill_pg_benchmark_latency_seconds";
constexpr const char* kTransactions = "dbcanary_drill_pg_benchmark_transactions";
constexpr const char* kFailed = "dbcanary_drill_pg_benchmark_failed_transactions";
constexpr const char* kClients = "dbcanary_drill_pg_benchmark_clients";
constexpr const char* kParameter = "dbcanary_drill_pg_benchmark_parameter";

// The paths' summary: "<tps> tps, <n> committed, <n> failed, latency p50 <ms> ms ...".
constexpr bench::LegWording kLegWording = {"tps", 1, "committed", "failed", 2};

const std::vector<MetricDesc>& Descs() {
  static const std::vector<MetricDesc> descs = {
      {kTps, "Committed transactions per second of the last pg_benchmark run, per path.",
       MetricType::kGauge},
      {kLatency,
       "Transaction latency percentiles (50, 95, 99) of the last pg_benchmark run, per path.",
       MetricType::kGauge},
      {kTransactions, "Transactions committed in the last pg_benchmark run, per path.",
       MetricType::kGauge},
      {kFailed, "Transactions that failed in the last pg_benchmark run, per path.",
       MetricType::kGauge},
      {kClients, "Client connections of the last pg_benchmark run, per path.", MetricType::kGauge},
      {kParameter,
       "Parameters of the last pg_benchmark run (scale, clients, threads, "
       "transactions_per_client, duration_seconds).",
       MetricType::kGauge},
  };
  return descs;
}

struct PgConnFree {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnFree>;

using bench::Wait;
using bench::WaitFd;

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return RedactSecrets(text);
}

// A non-blocking libpq connection for the load generator (PgSession hides its PGconn and
// waits per query; the workload multiplexes many connections per thread, as pgbench does).
Result<PgConnPtr> ConnectRaw(const PgEndpoint& target, Deadline deadline,
                             const std::stop_token& stop) {
  auto session = PgSession::Connect(target, {}, deadline, stop);
  if (!session) return session.error();
  PgConnPtr conn(session->Release());
  if (PQsetnonblocking(conn.get(), 1) != 0) {
    return MakeError(ErrorCode::kConnect, "connect to " + target.Describe() + ": " +
                                              OneLine(PQerrorMessage(conn.get())));
  }
  return conn;
}

// The counters of one workload leg (one thread's share, then merged).
struct LegStats {
  uint64_t committed = 0;
  uint64_t failed = 0;
  uint64_t lost_clients = 0;  // connections that broke during the run
  LatencyHistogram latency;
  SteadyClock::time_point last_done{};
  std::string first_error;  // server message of the first failed statement (no secrets)
  std::vector<uint64_t> committed_per_second;  // [i]: commits in second i of the leg
  bool ended_by_duration = false;  // the duration cap, not the transaction count, ended it
};

// One simulated client: pgbench's per-client state machine, statement by statement.
struct BenchClient {
  PgConnPtr conn;
  std::mt19937_64 rng;
  std::vector<std::string> statements;
  size_t step = 0;
  bool step_error = false;
  bool aborted = false;  // the transaction failed; a ROLLBACK is (or was) on its way
  bool want_write = false;
  bool done = false;
  int started = 0;  // transactions begun
  SteadyClock::time_point tx_start;
};

class WorkloadThread {
 public:
  WorkloadThread(std::vector<BenchClient*> clients, const PgBenchmarkParams& params,
                 SteadyClock::time_point start, Deadline deadline, std::stop_token stop)
      : clients_(std::move(clients)),
        scale_(params.scale),
        transactions_(params.transactions),
        start_(start),
        end_(start + params.duration),
        deadline_(deadline),
        stop_(std::move(stop)) {}

  void Run() {
    for (auto* client : clients_) StartTransaction(*client);
    std::vector<pollfd> fds;
    std::vector<BenchClient*> polled;
    while (true) {
      fds.clear();
      polled.clear();
      for (auto* client : clients_) {
        if (client->done) continue;
        short events = POLLIN;
        if (client->want_write) events |= POLLOUT;
        fds.push_back(pollfd{PQsocket(client->conn.get()), events, 0});
        polled.push_back(client);
      }
      if (fds.empty()) break;
      const auto left = deadline_.Remaining();
      if (left.count() <= 0) {
        timed_out_ = true;
        for (auto* client : polled) Finish(*client);
        break;
      }
      const int n =
          ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (n < 0 && errno != EINTR) {
        for (auto* client : polled) Lose(*client, "poll failed");
        break;
      }
      for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        BenchClient& client = *polled[i];
        if ((fds[i].revents & POLLOUT) != 0 && client.want_write) Flush(client);
        if (client.done) continue;
        if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) Read(client);
      }
    }
  }

  LegStats& stats() { return stats_; }
  bool timed_out() const { return timed_out_; }

 private:
  void StartTransaction(BenchClient& client) {
    if (transactions_ > 0 && client.started >= transactions_) {
      Finish(client);
      return;
    }
    if (SteadyClock::now() >= end_ || stop_.stop_requested()) {
      stats_.ended_by_duration = stats_.ended_by_duration || !stop_.stop_requested();
      Finish(client);
      return;
    }
    ++client.started;
    client.statements = TpcbStatements(DrawTpcbTransaction(client.rng, scale_));
    client.step = 0;
    client.aborted = false;
    client.tx_start = SteadyClock::now();
    Send(client, client.statements[0]);
  }

  void Send(BenchClient& client, const std::string& sql) {
    client.step_error = false;
    if (PQsendQuery(client.conn.get(), sql.c_str()) != 1) {
      Lose(client, PQerrorMessage(client.conn.get()));
      return;
    }
    Flush(client);
  }

  void Flush(BenchClient& client) {
    const int r = PQflush(client.conn.get());
    if (r < 0) {
      Lose(client, PQerrorMessage(client.conn.get()));
      return;
    }
    client.want_write = r == 1;
  }

  void Read(BenchClient& client) {
    if (PQconsumeInput(client.conn.get()) != 1) {
      Lose(client, PQerrorMessage(client.conn.get()));
      return;
    }
    while (!client.done && PQisBusy(client.conn.get()) == 0) {
      PGresult* res = PQgetResult(client.conn.get());
      if (res == nullptr) {
        StepComplete(client);
        return;
      }
      const ExecStatusType status = PQresultStatus(res);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        client.step_error = true;
        if (stats_.first_error.empty()) {
          stats_.first_error = OneLine(PQresultErrorMessage(res));
        }
      }
      PQclear(res);
    }
  }

  void StepComplete(BenchClient& client) {
    if (client.step_error && !client.aborted) {
      client.aborted = true;
      ++stats_.failed;
    }
    if (PQstatus(client.conn.get()) == CONNECTION_BAD) {
      Lose(client, "connection closed by the server");
      return;
    }
    const size_t last = client.statements.size() - 1;  // END
    if (client.step == last) {
      const auto now = SteadyClock::now();
      if (!client.aborted) {
        ++stats_.committed;
        CountInSecond(now);
        stats_.latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - client.tx_start).count()));
      }
      stats_.last_done = std::max(stats_.last_done, now);
      StartTransaction(client);
      return;
    }
    if (client.aborted) {
      client.step = last;
      Send(client, "ROLLBACK");
      return;
    }
    ++client.step;
    Send(client, client.statements[client.step]);
  }

  // A connection that broke: its transaction in flight counts as failed.
  void Lose(BenchClient& client, const std::string& why) {
    if (client.done) return;
    if (!client.aborted) ++stats_.failed;
    ++stats_.lost_clients;
    if (stats_.first_error.empty()) stats_.first_error = OneLine(why);
    Finish(client);
  }

  void Finish(BenchClient& client) {
    client.done = true;
    client.want_write = false;
  }

  void CountInSecond(SteadyClock::time_point now) {
    const auto second =
        static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
    if (stats_.committed_per_second.size() <= second) {
      stats_.committed_per_second.resize(second + 1, 0);
    }
    ++stats_.committed_per_second[second];
  }

  std::vector<BenchClient*> clients_;
  int scale_;
  int transactions_;
  SteadyClock::time_point start_;
  SteadyClock::time_point end_;
  Deadline deadline_;
  std::stop_token stop_;
  LegStats stats_;
  bool timed_out_ = false;
};

struct LegResult {
  LegStats stats;
  double elapsed_seconds = 0;
  double tps = 0;
};

// N clients over M threads for the duration against `target` (connections made first, not
// timed, like pgbench's "without initial connection time").
Result<LegResult> RunLeg(const PgBenchmarkParams& params, const PgEndpoint& target,
                         const DrillContext& ctx) {
  std::vector<BenchClient> clients(static_cast<size_t>(params.clients));
  for (auto& client : clients) {
    auto conn = ConnectRaw(target, ctx.deadline, ctx.stop);
    if (!conn) return conn.error();
    client.conn = std::move(*conn);
    client.rng.seed(RandomUint64());  // an engine per client, seeded from the one source
  }
  const int threads = std::min(params.threads, params.clients);
  auto groups = bench::DealOut(clients, threads, [](const BenchClient&) { return true; });

  const auto start = SteadyClock::now();
  std::vector<std::unique_ptr<WorkloadThread>> workers;
  for (auto& group : groups) {
    workers.push_back(
        std::make_unique<WorkloadThread>(std::move(group), params, start, ctx.deadline, ctx.stop));
  }
  bench::RunWorkers(workers);
  LegResult leg;
  bool timed_out = false;
  for (auto& worker : workers) {
    LegStats& s = worker->stats();
    leg.stats.committed += s.committed;
    leg.stats.failed += s.failed;
    leg.stats.lost_clients += s.lost_clients;
    leg.stats.latency.Merge(s.latency);
    leg.stats.last_done = std::max(leg.stats.last_done, s.last_done);
    if (leg.stats.first_error.empty()) leg.stats.first_error = s.first_error;
    leg.stats.ended_by_duration = leg.stats.ended_by_duration || s.ended_by_duration;
    auto& seconds = leg.stats.committed_per_second;
    seconds.resize(std::max(seconds.size(), s.committed_per_second.size()), 0);
    for (size_t i = 0; i < s.committed_per_second.size(); ++i) {
      seconds[i] += s.committed_per_second[i];
    }
    timed_out = timed_out || worker->timed_out();
  }
  if (timed_out) {
    return MakeError(ErrorCode::kTimeout,
                     target.Describe() + ": the drill's timeout expired during the workload");
  }
  leg.elapsed_seconds = bench::LegSeconds(start, leg.stats.last_done);
  leg.tps = bench::PerSecond(leg.stats.committed, leg.elapsed_seconds);
  return leg;
}

std::string QuoteIdent(const std::string& name) { return "\"" + name + "\""; }

std::string CommentSql(const std::string& database) {
  return "COMMENT ON DATABASE " + QuoteIdent(database) + " IS '" + kMarker + "'";
}

class PgBenchmarkDrill final : public Drill {
 public:
  // `earlier`: the newest reports of this drill, newest first: the regression baseline
  // survives reloads and restarts.
  PgBenchmarkDrill(PgBenchmarkParams params, PostgresCluster cluster, ClusterMembers members,
                   const std::vector<DrillRecord>& earlier)
      : params_(std::move(params)),
        cluster_(std::move(cluster)),
        members_(std::move(members)),
        direct_history_(static_cast<size_t>(params_.history)),
        pooler_history_(static_cast<size_t>(params_.history)) {
    if (params_.baseline_direct) direct_history_.Add(*params_.baseline_direct);
    if (params_.baseline_pooler) pooler_history_.Add(*params_.baseline_pooler);
    const auto keep = static_cast<size_t>(params_.history);
    for (auto [path, history] :
         {std::pair{"direct", &direct_history_}, std::pair{"pooler", &pooler_history_}}) {
      const bench::BaselineQuery query{
          kTps, {{"target", params_.cluster}, {"path", path}}, kParameter, params_.cluster};
      for (double rate : bench::PreviousRates(earlier, query, Parameters(), keep)) {
        history->Add(rate);
      }
    }
  }

  const std::vector<MetricDesc>& Describe() const override { return Descs(); }

  // Runs also after a stop request (bounded by the deadline): cleaning up is the safe point.
  Status CleanUp(const DrillContext& ctx) override {
    auto admin = AdminConnection(ctx);
    if (!admin) return admin.error();
    auto session = PgSession::Connect(*admin, {}, ctx.deadline);
    if (!session) return Named(session.error());
    auto owned = DropIfOwned(*session, ctx.deadline);
    if (!owned) return owned.error();
    if (*owned == Ownership::kForeign) {
      return MakeError(ErrorCode::kUnexpected,
                       Prefix() + "database " + params_.database +
                           " exists but was not created by the drill; refusing to drop it");
    }
    if (*owned == Ownership::kOwned) {
      ctx.progress("dropped scratch database " + params_.database + " left by an earlier run");
    }
    return Ok{};
  }

  Status CheckPreconditions(const DrillContext& ctx) override {
    auto members = members_.Now(ctx);
    if (!members) return Named(members.error());
    auto healthy = CheckPostgresHealthy(*members, ctx);
    if (!healthy) return Named(healthy.error());
    return Ok{};
  }

  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    auto admin = AdminConnection(ctx);
    if (!admin) {
      result.Fail(admin.error().code, admin.error().message);
      return result;
    }
    PgEndpoint direct = *admin;
    direct.dbname = params_.database;
    if (!CreateDatabasePhase(*admin, ctx, result)) return result;

    // init_schema: pgbench -i -s SCALE
    auto started = SteadyClock::now();
    ctx.progress("initialising pgbench tables, scale " + std::to_string(params_.scale));
    auto session = PgSession::Connect(direct, {}, ctx.deadline, ctx.stop);
    Status init = session ? InitSchema(*session, ctx) : Status(Named(session.error()));
    result.AddPhase("init_schema", SecondsSince(started), init.has_value());
    if (!init) {
      result.Fail(init.error().code, init.error().message);
      DropAfter(*admin, ctx, result);
      return result;
    }
    bench::AddParameters(result, kParameter, params_.cluster, Parameters());

    for (const auto& path : Paths(direct)) {
      if (ctx.stop.stop_requested()) {
        result.Fail(ErrorCode::kStopped, Prefix() + "stop requested");
        break;
      }
      if (!BenchPath(path, *session, ctx, result)) break;
    }
    if (session) session->Close();  // before DROP DATABASE
    DropAfter(*admin, ctx, result);
    return result;
  }

 private:
  std::string Prefix() const { return std::string(kKind) + " on " + params_.cluster + ": "; }
  Error Named(const Error& error) const { return MakeError(error.code, Prefix() + error.message); }

  // What every figure of a run is measured with (and what makes two runs comparable).
  bench::BenchParameters Parameters() const {
    return {{"scale", params_.scale},
            {"clients", params_.clients},
            {"threads", params_.threads},
            {"transactions_per_client", params_.transactions},
            {"duration_seconds", static_cast<double>(params_.duration.count()) / 1000}};
  }

  struct Path {
    const char* name;
    std::string target;  // expectation target: the cluster or the pooler
    PgEndpoint connection;
    RegressionBaseline* history;
  };

  // Direct to the primary, then through the pooler when one is configured.
  std::vector<Path> Paths(const PgEndpoint& direct) {
    std::vector<Path> paths = {{"direct", params_.cluster, direct, &direct_history_}};
    if (params_.pooler_connection) {
      paths.push_back({"pooler", params_.pooler, *params_.pooler_connection, &pooler_history_});
    }
    return paths;
  }

  // Phase create_database; false (the result says why) when it failed.
  bool CreateDatabasePhase(const PgEndpoint& admin, const DrillContext& ctx,
                           DrillResult& result) const {
    const auto started = SteadyClock::now();
    ctx.progress("creating scratch database " + params_.database);
    auto created = CreateDatabase(admin, ctx);
    result.AddPhase("create_database", SecondsSince(started), created.has_value());
    if (!created) result.Fail(created.error().code, created.error().message);
    return created.has_value();
  }

  // Phase bench_<path>: the workload on one path; false (the result says why) when it failed.
  bool BenchPath(const Path& path, PgSession& session, const DrillContext& ctx,
                 DrillResult& result) const {
    const auto started = SteadyClock::now();
    ctx.progress(std::string("benchmark ") + path.name + ": " +
                 bench::ParametersText(Parameters()));
    // pgbench's pre-run vacuum: vacuum branches and tellers, truncate history.
    Status prepared = Prepare(session, ctx);
    Result<LegResult> leg =
        prepared ? RunLeg(params_, path.connection, ctx) : Result<LegResult>(prepared.error());
    if (!leg) {
      result.AddPhase(std::string("bench_") + path.name, SecondsSince(started), false,
                      leg.error().message);
      result.Fail(leg.error().code, Prefix() + path.name + ": " + Named(leg.error()).message);
      return false;
    }
    ReportPath(path, *leg, started, ctx, result);
    return true;
  }

  // A finished path's figures, phase, evidence and expectations.
  void ReportPath(const Path& path, const LegResult& leg, SteadyClock::time_point started,
                  const DrillContext& ctx, DrillResult& result) const {
    const LegStats& s = leg.stats;
    Labels labels = {{"target", params_.cluster}, {"path", path.name}};
    result.Add(kTps, labels, leg.tps);
    result.Add(kTransactions, labels, static_cast<double>(s.committed));
    result.Add(kFailed, labels, static_cast<double>(s.failed));
    result.Add(kClients, labels, params_.clients);
    bench::AddLatencyPercentiles(result, kLatency, labels, s.latency);
    bench::AddLegSeries(result, {{"path", path.name}}, "tps", s.committed_per_second, s.latency);
    const std::string detail = bench::LegDetail(kLegWording, leg.tps, s.committed, s.failed,
                                                s.latency, leg.elapsed_seconds) +
                               (s.ended_by_duration ? " (ended by the duration cap)" : "") + " [" +
                               bench::ParametersText(Parameters()) + "]";
    std::string text = detail;
    if (!s.first_error.empty()) text += "; first error: " + s.first_error;
    result.AddPhase(std::string("bench_") + path.name, SecondsSince(started), true, text);
    result.AddEvidence(
        std::string("pg_benchmark ") + path.name + " (" + path.connection.Describe() + ")", text);
    ctx.progress(std::string("benchmark ") + path.name + ": " + detail);
    bench::ExpectThroughput(result, path.target, leg.tps,
                            {"pg_benchmark_min_tps", params_.min_tps, "pg_benchmark_max_regression",
                             params_.max_regression, bench::ParametersText(Parameters())},
                            *path.history);
  }

  // The admin login on the instance that is primary now (a failover may have moved it).
  Result<PgEndpoint> AdminConnection(const DrillContext& ctx) const {
    PgEndpoint admin = params_.admin;
    if (admin.host == cluster_.BaseEndpoint().host && admin.port == cluster_.BaseEndpoint().port) {
      auto members = members_.Now(ctx);
      if (!members) return Named(members.error());
      auto primary = FindCurrentPrimary(*members, ctx);
      if (!primary) return Named(primary.error());
      admin.name = primary->name;
      admin.host = primary->host;
      admin.hostaddr = primary->hostaddr;  // a discovered member: its pod IP
      admin.port = primary->port;
    }
    return admin;
  }

  // The ownership marker, checked right before the DROP: the database goes only when it
  // carries it. What the name held is returned (kAbsent, kOwned: dropped, kForeign: untouched).
  Result<Ownership> DropIfOwned(PgSession& session, const Deadline& deadline) const {
    auto owned = DatabaseOwnership(session, params_.database, kMarker, deadline);
    if (!owned) return Named(owned.error());
    if (*owned != Ownership::kOwned) return *owned;
    auto dropped = session.Query(
        "DROP DATABASE IF EXISTS " + QuoteIdent(params_.database) + " WITH (FORCE)", deadline);
    if (!dropped) return Named(dropped.error());
    return Ownership::kOwned;
  }

  // CREATE DATABASE cannot run in a transaction, so create and mark are two statements: when
  // the COMMENT fails the new, unmarked database is dropped at once (this session created it),
  // so no unmarked database is ever left behind.
  Status CreateDatabase(const PgEndpoint& admin, const DrillContext& ctx) const {
    auto session = PgSession::Connect(admin, {}, ctx.deadline, ctx.stop);
    if (!session) return Named(session.error());
    auto created =
        session->Query("CREATE DATABASE " + QuoteIdent(params_.database) + " TEMPLATE template0",
                       ctx.deadline, ctx.stop);
    if (!created) return Named(created.error());
    auto marked = session->Query(CommentSql(params_.database), ctx.deadline, ctx.stop);
    if (!marked) {
      // Not interrupted by ctx.stop: the unmarked database must not stay (deadline-bounded).
      (void)session->Query("DROP DATABASE IF EXISTS " + QuoteIdent(params_.database), ctx.deadline);
      return Named(marked.error());
    }
    return Ok{};
  }

  Status InitSchema(PgSession& session, const DrillContext& ctx) const {
    for (const auto& sql : TpcbInitStatements(params_.scale)) {
      auto done = session.Query(sql, ctx.deadline, ctx.stop);
      if (!done) return Named(done.error());
    }
    for (const char* table :
         {"pgbench_branches", "pgbench_tellers", "pgbench_accounts", "pgbench_history"}) {
      auto done = session.Query(std::string("VACUUM ANALYZE ") + table, ctx.deadline, ctx.stop);
      if (!done) return Named(done.error());
    }
    return Ok{};
  }

  Status Prepare(PgSession& session, const DrillContext& ctx) const {
    for (const char* sql :
         {"VACUUM pgbench_branches", "VACUUM pgbench_tellers", "TRUNCATE pgbench_history"}) {
      auto done = session.Query(sql, ctx.deadline, ctx.stop);
      if (!done) return Named(done.error());
    }
    return Ok{};
  }

  void DropAfter(const PgEndpoint& admin, const DrillContext& ctx, DrillResult& result) const {
    const auto started = SteadyClock::now();
    ctx.progress("dropping scratch database " + params_.database);
    // Not interrupted by ctx.stop: a stopped run still removes its database (deadline-bounded).
    Status dropped = [&]() -> Status {
      auto session = PgSession::Connect(admin, {}, ctx.deadline);
      if (!session) return Named(session.error());
      auto done = DropIfOwned(*session, ctx.deadline);
      if (!done) return done.error();
      return Ok{};
    }();
    result.AddPhase("drop_database", SecondsSince(started), dropped.has_value(),
                    dropped ? "" : dropped.error().message);
    if (!dropped && !result.error) result.Fail(dropped.error().code, dropped.error().message);
  }

  PgBenchmarkParams params_;
  PostgresCluster cluster_;
  ClusterMembers members_;  // asked at every use (a discovered cluster's pods come and go)
  RegressionBaseline direct_history_;
  RegressionBaseline pooler_history_;
};

}  // namespace

TpcbTransaction DrawTpcbTransaction(std::mt19937_64& rng, int scale) {
  auto uniform = [&rng](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
  };
  TpcbTransaction tx;
  tx.aid = uniform(1, int64_t{kAccountsPerBranch} * scale);
  tx.bid = uniform(1, scale);
  tx.tid = uniform(1, int64_t{kTellersPerBranch} * scale);
  tx.delta = uniform(-5000, 5000);
  return tx;
}

std::vector<std::string> TpcbStatements(const TpcbTransaction& tx) {
  const std::string aid = std::to_string(tx.aid);
  const std::string bid = std::to_string(tx.bid);
  const std::string tid = std::to_string(tx.tid);
  const std::string delta = std::to_string(tx.delta);
  return {
      "BEGIN;",
      "UPDATE pgbench_accounts SET abalance = abalance + " + delta + " WHERE aid = " + aid + ";",
      "SELECT abalance FROM pgbench_accounts WHERE aid = " + aid + ";",
      "UPDATE pgbench_tellers SET tbalance = tbalance + " + delta + " WHERE tid = " + tid + ";",
      "UPDATE pgbench_branches SET bbalance = bbalance + " + delta + " WHERE bid = " + bid + ";",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (" + tid + ", " + bid +
          ", " + aid + ", " + delta + ", CURRENT_TIMESTAMP);",
      "END;",
  };
}

std::vector<std::string> TpcbInitStatements(int scale) {
  const std::string s = std::to_string(scale);
  return {
      "CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, "
      "filler char(22))",
      "CREATE TABLE pgbench_tellers (tid int not null, bid int, tbalance int, filler char(84)) "
      "WITH (fillfactor=100)",
      "CREATE TABLE pgbench_accounts (aid int not null, bid int, abalance int, filler char(84)) "
      "WITH (fillfactor=100)",
      "CREATE TABLE pgbench_branches (bid int not null, bbalance int, filler char(88)) "
      "WITH (fillfactor=100)",
      "INSERT INTO pgbench_branches (bid, bbalance) SELECT bid, 0 FROM generate_series(1, " + s +
          ") AS bid",
      "INSERT INTO pgbench_tellers (tid, bid, tbalance) SELECT tid, (tid - 1) / " +
          std::to_string(kTellersPerBranch) + " + 1, 0 FROM generate_series(1, " +
          std::to_string(kTellersPerBranch * scale) + ") AS tid",
      "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) SELECT aid, (aid - 1) / " +
          std::to_string(kAccountsPerBranch) + " + 1, 0, '' FROM generate_series(1, " +
          std::to_string(int64_t{kAccountsPerBranch} * scale) + ") AS aid",
      "ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid)",
      "ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid)",
      "ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)",
  };
}

bool IsBenchDatabaseName(const std::string& name) {
  if (!IsDrillSqlName(name)) return false;
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

PgBenchmarkParams ReadPgBenchmarkParams(const DrillSettings& settings, const Config& config) {
  if (!settings.params) throw ConfigError("drills.jobs.pg_benchmark: params are required");
  YamlMap& map = *settings.params;
  PgBenchmarkParams p;
  p.cluster = map.RequiredString("cluster");
  const PostgresCluster* cluster = config.FindCluster(p.cluster);
  if (cluster == nullptr) map.Fail("cluster", "no postgres cluster named \"" + p.cluster + "\"");
  if (auto name = map.String("database")) p.database = *name;
  if (!IsBenchDatabaseName(p.database)) map.Fail("database", DrillSqlNameRule());
  if (auto v = map.Int("clients", 1, 1000)) p.clients = static_cast<int>(*v);
  if (auto v = map.Int("threads", 1, 64)) p.threads = static_cast<int>(*v);
  if (p.threads > p.clients) map.Fail("threads", "must not exceed clients");
  if (auto v = map.Duration("duration")) p.duration = *v;
  if (p.duration < milliseconds(100)) map.Fail("duration", "must be at least 100ms");
  if (p.duration + milliseconds(5000) > settings.timeout) {
    map.Fail("duration", "leaves too little of the drill's timeout (" +
                             std::to_string(settings.timeout.count()) +
                             " ms): the run needs about 2 x duration plus setup");
  }
  if (auto v = map.Int("scale", 1, 1000)) p.scale = static_cast<int>(*v);
  if (auto v = map.Int("transactions", 0, 10000000)) p.transactions = static_cast<int>(*v);
  if (auto v = map.Int("history", 0, 100)) p.history = static_cast<int>(*v);

  p.admin = cluster->BaseEndpoint();
  p.admin.dbname = "postgres";
  if (auto admin = map.Map("admin")) {
    PgEndpoint defaults = cluster->BaseEndpoint();
    defaults.dbname = "postgres";
    defaults.user.clear();
    defaults.password = Secret();
    p.admin = ReadPgEndpoint(*admin, defaults);
    if (p.admin.user.empty()) admin->Fail("user", "the admin user is required");
    admin->Finish();
  }
  if (p.admin.name.empty()) p.admin.name = cluster->BaseEndpoint().name;
  if (p.admin.dbname == p.database) {
    map.Fail("database", "must differ from the admin connection's dbname");
  }

  if (auto name = map.String("pooler")) {
    p.pooler = *name;
    const Pooler* pooler = config.FindPooler(p.pooler);
    if (pooler == nullptr) map.Fail("pooler", "no pooler named \"" + p.pooler + "\"");
    if (pooler->cluster != p.cluster) {
      map.Fail("pooler", "pooler \"" + p.pooler + "\" belongs to cluster \"" + pooler->cluster +
                             "\", not \"" + p.cluster + "\"");
    }
    if (pooler->type != PoolerType::kReadWrite) map.Fail("pooler", "must be a read-write pooler");
    PgEndpoint via = pooler->connection;
    via.user = p.admin.user;
    via.password = p.admin.password;
    via.dbname = p.database;
    p.pooler_connection = via;
  }
  if (auto expect = map.Map("expect")) {
    if (auto v = expect->Number("min_tps", 0, 1e9)) p.min_tps = *v;
    if (auto v = expect->Number("max_regression", 0, 1)) p.max_regression = *v;
    expect->Finish();
  }
  if (auto baseline = map.Map("baseline")) {
    p.baseline_direct = baseline->Number("direct", 0, 1e9);
    p.baseline_pooler = baseline->Number("pooler", 0, 1e9);
    baseline->Finish();
  }
  map.Finish();
  return p;
}

Result<std::unique_ptr<Drill>> CreatePgBenchmarkDrill(const DrillSettings& settings,
                                                      const Config& config) {
  try {
    PgBenchmarkParams params = ReadPgBenchmarkParams(settings, config);
    const PostgresCluster* cluster = config.FindCluster(params.cluster);
    std::vector<DrillRecord> earlier;
    if (config.drills && params.history > 0) {
      earlier = LoadRecentRecords(config.drills->reports_dir, settings.kind,
                                  bench::BaselineFilesToRead(static_cast<size_t>(params.history)));
    }
    return std::unique_ptr<Drill>(std::make_unique<PgBenchmarkDrill>(
        std::move(params), *cluster, ClusterMembers(*cluster, config), earlier));
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

}  // namespace dbcanary
