#include "drills/benchmark/dragonfly_benchmark_drill.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "clients/redis/redis_client.h"
#include "core/random.h"
#include "drills/benchmark/bench_baseline.h"
#include "drills/benchmark/bench_leg.h"
#include "drills/benchmark/bench_stats.h"
#include "drills/benchmark/fd_wait.h"
#include "drills/health.h"
#include "drills/runtime/report.h"

namespace dbcanary {
namespace {

constexpr const char* kKind = "dragonfly_benchmark";
constexpr const char* kOps = "dbcanary_drill_dragonfly_benchmark_ops_per_second";
constexpr const char* kLatency = "dbcanary_drill_dragonfly_benchmark_latency_seconds";
constexpr const char* kOperations = "dbcanary_drill_dragonfly_benchmark_operations";
constexpr const char* kErrors = "dbcanary_drill_dragonfly_benchmark_errors";
constexpr const char* kConnections = "dbcanary_drill_dragonfly_benchmark_connections";
constexpr const char* kParameter = "dbcanary_drill_dragonfly_benchmark_parameter";

// The operations' summary: "<rate> ops/s, <n> ops, <n> errors, latency p50 <ms> ms ...".
constexpr bench::LegWording kLegWording = {"ops/s", 0, "ops", "errors", 3};

const std::vector<MetricDesc>& Descs() {
  static const std::vector<MetricDesc> descs = {
      {kOps, "Operations per second of the last dragonfly_benchmark run, per operation.",
       MetricType::kGauge},
      {kLatency,
       "Request latency percentiles (50, 95, 99) of the last dragonfly_benchmark run, per "
       "operation.",
       MetricType::kGauge},
      {kOperations, "Operations answered in the last dragonfly_benchmark run, per operation.",
       MetricType::kGauge},
      {kErrors, "Error replies and lost requests in the last dragonfly_benchmark run.",
       MetricType::kGauge},
      {kConnections, "Client connections of the last dragonfly_benchmark run.", MetricType::kGauge},
      {kParameter,
       "Parameters of the last dragonfly_benchmark run (connections, pipeline, threads, "
       "requests, duration_seconds, value_size, keyspace).",
       MetricType::kGauge},
  };
  return descs;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

using bench::Wait;
using bench::WaitFd;

Error WaitError(Wait wait, const std::string& doing) {
  switch (wait) {
    case Wait::kExpired:
      return MakeError(ErrorCode::kTimeout, doing + ": no answer in time");
    case Wait::kStopped:
      return MakeError(ErrorCode::kStopped, doing + ": stop requested");
    default:
      return MakeError(ErrorCode::kConnect, doing + ": poll failed");
  }
}

// Writes what hiredis buffered and waits for one reply (used for AUTH only).
Result<std::string> RoundTrip(redisContext* c, Deadline deadline, const std::stop_token& stop,
                              const std::string& doing) {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) {
      return MakeError(ErrorCode::kConnect, doing + ": " + RedactSecrets(c->errstr));
    }
    if (done) break;
    if (auto w = WaitFd(c->fd, POLLOUT, deadline, stop); w != Wait::kReady) {
      return WaitError(w, doing);
    }
  }
  while (true) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
      return MakeError(ErrorCode::kProtocol, doing + ": " + RedactSecrets(c->errstr));
    }
    if (raw != nullptr) {
      auto* reply = static_cast<redisReply*>(raw);
      std::string error;
      if (reply->type == REDIS_REPLY_ERROR) error = std::string(reply->str, reply->len);
      freeReplyObject(reply);
      if (!error.empty())
        return MakeError(ErrorCode::kAuth, doing + ": " + std::string(RedisErrorPrefix(error)),
                         RedisErrorCause(error));
      return std::string();
    }
    if (auto w = WaitFd(c->fd, POLLIN, deadline, stop); w != Wait::kReady) {
      return WaitError(w, doing);
    }
    if (redisBufferRead(c) != REDIS_OK) {
      return MakeError(ErrorCode::kConnect, doing + ": " + RedactSecrets(c->errstr));
    }
  }
}

// A non-blocking hiredis context (RedisClient is blocking, one command at a time).
Result<ContextPtr> ConnectRaw(const RedisEndpoint& target, Deadline deadline,
                              const std::stop_token& stop) {
  const std::string doing = "connect to " + target.Describe();
  const Deadline until(std::min(deadline.at(), SteadyClock::now() + target.connect_timeout));
  ContextPtr c(redisConnectNonBlock(target.host.c_str(), target.port));
  if (!c) return MakeError(ErrorCode::kInternal, doing + ": out of memory");
  if (c->err != 0) return MakeError(ErrorCode::kConnect, doing + ": " + c->errstr);
  if (auto w = WaitFd(c->fd, POLLOUT, until, stop); w != Wait::kReady) return WaitError(w, doing);
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    return MakeError(ErrorCode::kConnect, doing + ": " + std::strerror(so_error));
  }
  if (!target.password.empty()) {
    std::vector<const char*> argv = {"AUTH"};
    std::vector<size_t> lens = {4};
    if (!target.username.empty()) {
      argv.push_back(target.username.c_str());
      lens.push_back(target.username.size());
    }
    argv.push_back(target.password.Reveal().c_str());
    lens.push_back(target.password.Reveal().size());
    redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
    auto authed = RoundTrip(c.get(), until, stop, doing + ": AUTH");
    if (!authed) return authed.error();
  }
  return c;
}

struct OpStats {
  uint64_t ops = 0;
  uint64_t errors = 0;
  LatencyHistogram latency;
  SteadyClock::time_point last_reply{};
  std::vector<uint64_t> ops_per_second;  // [i]: replies in second i of the load
  bool ended_by_duration = false;        // the duration cap, not the request count, ended it
};

struct BenchConn {
  ContextPtr c;
  size_t outstanding = 0;
  SteadyClock::time_point batch_start;
  bool want_write = false;
  bool done = false;
};

class LoadThread {
 public:
  // `budget`: requests left for this operation, shared by the threads (unused when
  // params.requests is 0).
  LoadThread(std::vector<BenchConn*> conns, const DragonflyBenchmarkParams& params, bool set,
             SteadyClock::time_point start, std::atomic<int64_t>& budget, Deadline deadline,
             std::stop_token stop, uint64_t seed)
      : conns_(std::move(conns)),
        params_(params),
        set_(set),
        start_(start),
        end_(start + params.duration),
        budget_(budget),
        deadline_(deadline),
        stop_(std::move(stop)),
        rng_(seed),
        value_(static_cast<size_t>(params.value_size), 'x') {}

  void Run() {
    for (auto* conn : conns_) {
      conn->done = false;
      StartBatch(*conn);
    }
    std::vector<pollfd> fds;
    std::vector<BenchConn*> polled;
    while (true) {
      fds.clear();
      polled.clear();
      for (auto* conn : conns_) {
        if (conn->done) continue;
        short events = POLLIN;
        if (conn->want_write) events |= POLLOUT;
        fds.push_back(pollfd{conn->c->fd, events, 0});
        polled.push_back(conn);
      }
      if (fds.empty()) break;
      const auto left = deadline_.Remaining();
      if (left.count() <= 0) {
        timed_out_ = true;
        break;
      }
      const int n =
          ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (n < 0 && errno != EINTR) {
        for (auto* conn : polled) Lose(*conn);
        break;
      }
      for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        BenchConn& conn = *polled[i];
        if ((fds[i].revents & POLLOUT) != 0 && conn.want_write) Flush(conn);
        if (conn.done) continue;
        if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) Read(conn);
      }
    }
  }

  OpStats& stats() { return stats_; }
  bool timed_out() const { return timed_out_; }

 private:
  // How many requests the next batch may send: the pipeline, less when the budget runs out.
  int64_t ClaimBatch() {
    if (params_.requests == 0) return params_.pipeline;
    const int64_t left = budget_.fetch_sub(params_.pipeline);
    return std::clamp<int64_t>(left, 0, params_.pipeline);
  }

  void StartBatch(BenchConn& conn) {
    if (SteadyClock::now() >= end_ || stop_.stop_requested()) {
      stats_.ended_by_duration = stats_.ended_by_duration || !stop_.stop_requested();
      conn.done = true;
      return;
    }
    const int64_t batch = ClaimBatch();
    if (batch == 0) {
      conn.done = true;
      return;
    }
    std::uniform_int_distribution<int> pick(0, params_.keyspace - 1);
    for (int64_t i = 0; i < batch; ++i) {
      const std::string key = params_.key_prefix + std::to_string(pick(rng_));
      if (set_) {
        const char* argv[] = {"SET", key.data(), value_.data()};
        const size_t lens[] = {3, key.size(), value_.size()};
        redisAppendCommandArgv(conn.c.get(), 3, argv, lens);
      } else {
        const char* argv[] = {"GET", key.data()};
        const size_t lens[] = {3, key.size()};
        redisAppendCommandArgv(conn.c.get(), 2, argv, lens);
      }
    }
    conn.outstanding = static_cast<size_t>(batch);
    conn.batch_start = SteadyClock::now();
    Flush(conn);
  }

  void Flush(BenchConn& conn) {
    int done = 0;
    if (redisBufferWrite(conn.c.get(), &done) != REDIS_OK) {
      Lose(conn);
      return;
    }
    conn.want_write = done == 0;
  }

  void Read(BenchConn& conn) {
    if (redisBufferRead(conn.c.get()) != REDIS_OK) {
      Lose(conn);
      return;
    }
    while (true) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(conn.c.get(), &raw) != REDIS_OK) {
        Lose(conn);
        return;
      }
      if (raw == nullptr) return;
      const auto now = SteadyClock::now();
      auto* reply = static_cast<redisReply*>(raw);
      if (reply->type == REDIS_REPLY_ERROR) {
        ++stats_.errors;
      } else {
        ++stats_.ops;
        CountInSecond(now);
        stats_.latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - conn.batch_start).count()));
      }
      freeReplyObject(reply);
      stats_.last_reply = std::max(stats_.last_reply, now);
      if (conn.outstanding > 0 && --conn.outstanding == 0) {
        StartBatch(conn);
        if (conn.done) return;
      }
    }
  }

  // A broken connection: its requests in flight count as errors; it takes no further part.
  void Lose(BenchConn& conn) {
    stats_.errors += conn.outstanding;
    conn.outstanding = 0;
    conn.done = true;
    conn.want_write = false;
    conn.c.reset();
  }

  void CountInSecond(SteadyClock::time_point now) {
    const auto second =
        static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
    if (stats_.ops_per_second.size() <= second) stats_.ops_per_second.resize(second + 1, 0);
    ++stats_.ops_per_second[second];
  }

  std::vector<BenchConn*> conns_;
  const DragonflyBenchmarkParams& params_;
  bool set_;
  SteadyClock::time_point start_;
  SteadyClock::time_point end_;
  std::atomic<int64_t>& budget_;
  Deadline deadline_;
  std::stop_token stop_;
  std::mt19937_64 rng_;
  std::string value_;
  OpStats stats_;
  bool timed_out_ = false;
};

// One operation's load: the threads' figures merged.
struct OpLoad {
  OpStats total;
  SteadyClock::time_point start;  // the load's start (the connections were open before)
  bool timed_out = false;
};

class DragonflyBenchmarkDrill final : public Drill {
 public:
  // `earlier`: the newest reports of this drill, newest first: the regression baseline
  // survives reloads and restarts.
  DragonflyBenchmarkDrill(DragonflyBenchmarkParams params, Dragonfly dragonfly,
                          const std::vector<DrillRecord>& earlier)
      : params_(std::move(params)),
        dragonfly_(std::move(dragonfly)),
        set_history_(static_cast<size_t>(params_.history)),
        get_history_(static_cast<size_t>(params_.history)) {
    if (params_.baseline_set) set_history_.Add(*params_.baseline_set);
    if (params_.baseline_get) get_history_.Add(*params_.baseline_get);
    const auto keep = static_cast<size_t>(params_.history);
    for (auto [op, history] : {std::pair{"set", &set_history_}, std::pair{"get", &get_history_}}) {
      const bench::BaselineQuery query{
          kOps, {{"target", dragonfly_.name}, {"op", op}}, kParameter, dragonfly_.name};
      for (double rate : bench::PreviousRates(earlier, query, Parameters(), keep)) {
        history->Add(rate);
      }
    }
  }

  const std::vector<MetricDesc>& Describe() const override { return Descs(); }

  Status CleanUp(const DrillContext& ctx) override {
    auto client = RedisClient::Connect(params_.master, ctx.deadline);
    if (!client) return Named(client.error());
    const std::string pattern = BenchKeyPattern(params_.key_prefix);
    std::string cursor = "0";
    size_t deleted = 0;
    // Not interrupted by ctx.stop (cleaning up is the safe point); bounded by the deadline.
    do {
      auto reply = client->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!reply) return Named(reply.error());
      if (!reply->Is(RedisType::kArray) || reply->size() != 2 ||
          !(*reply)[1].Is(RedisType::kArray)) {
        return MakeError(ErrorCode::kProtocol, Prefix() + "SCAN: unexpected reply shape");
      }
      cursor = std::string((*reply)[0].text());
      const RedisValue keys = (*reply)[1];
      if (keys.size() > 0) {
        std::vector<std::string_view> argv = {"DEL"};
        for (size_t i = 0; i < keys.size(); ++i) argv.push_back(keys[i].text());
        auto del = client->Command(std::span<const std::string_view>(argv));
        if (!del) return Named(del.error());
        deleted += static_cast<size_t>(del->integer());
      }
    } while (cursor != "0");
    if (deleted > 0) ctx.progress("deleted " + std::to_string(deleted) + " benchmark keys");
    return Ok{};
  }

  Status CheckPreconditions(const DrillContext& ctx) override {
    auto healthy = CheckDragonflyHealthy(dragonfly_, ctx);
    if (!healthy) return Named(healthy.error());
    return Ok{};
  }

  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    std::vector<BenchConn> conns(static_cast<size_t>(params_.connections));
    if (!ConnectPhase(conns, ctx, result)) return result;
    for (const auto& op : params_.ops) {
      if (ctx.stop.stop_requested()) {
        result.Fail(ErrorCode::kStopped, Prefix() + "stop requested");
        break;
      }
      if (!BenchOp(op, conns, ctx, result)) break;
    }
    return result;
  }

 private:
  std::string Prefix() const { return std::string(kKind) + " on " + dragonfly_.name + ": "; }
  Error Named(const Error& error) const { return MakeError(error.code, Prefix() + error.message); }

  // What every figure of a run is measured with (and what makes two runs comparable).
  bench::BenchParameters Parameters() const {
    return {{"connections", params_.connections},
            {"pipeline", params_.pipeline},
            {"threads", params_.threads},
            {"requests", static_cast<double>(params_.requests)},
            {"duration_seconds", static_cast<double>(params_.duration.count()) / 1000},
            {"value_size", params_.value_size},
            {"keyspace", params_.keyspace}};
  }

  // Phase connect: every connection; false (the result says why) when one failed.
  bool ConnectPhase(std::vector<BenchConn>& conns, const DrillContext& ctx,
                    DrillResult& result) const {
    const auto started = SteadyClock::now();
    ctx.progress("opening " + std::to_string(params_.connections) + " connections to " +
                 params_.master.Describe());
    for (auto& conn : conns) {
      auto c = ConnectRaw(params_.master, ctx.deadline, ctx.stop);
      if (!c) {
        result.AddPhase("connect", SecondsSince(started), false, Named(c.error()).message);
        result.Fail(c.error().code, Named(c.error()).message);
        return false;
      }
      conn.c = std::move(*c);
    }
    result.AddPhase("connect", SecondsSince(started), true);
    result.Add(kConnections, {{"target", dragonfly_.name}}, params_.connections);
    bench::AddParameters(result, kParameter, dragonfly_.name, Parameters());
    return true;
  }

  // Phase bench_<op>: the load of one operation; false (the result says why) when it failed.
  bool BenchOp(const std::string& op, std::vector<BenchConn>& conns, const DrillContext& ctx,
               DrillResult& result) {
    const auto started = SteadyClock::now();
    ctx.progress("benchmark " + op + ": " + bench::ParametersText(Parameters()));
    const OpLoad load = RunOp(op == "set", conns, ctx);
    if (load.timed_out) {
      const std::string message = Prefix() + op + ": the drill's timeout expired";
      result.AddPhase("bench_" + op, SecondsSince(started), false, message);
      result.Fail(ErrorCode::kTimeout, message);
      return false;
    }
    ReportOp(op, load, started, ctx, result);
    return true;
  }

  // One operation's load over every connection still open, the threads' figures merged.
  OpLoad RunOp(bool set, std::vector<BenchConn>& conns, const DrillContext& ctx) const {
    const int threads = std::min(params_.threads, params_.connections);
    auto groups =
        bench::DealOut(conns, threads, [](const BenchConn& conn) { return conn.c != nullptr; });
    OpLoad load;
    load.start = SteadyClock::now();
    std::atomic<int64_t> budget{params_.requests};
    std::vector<std::unique_ptr<LoadThread>> workers;
    for (auto& group : groups) {
      workers.push_back(std::make_unique<LoadThread>(std::move(group), params_, set, load.start,
                                                     budget, ctx.deadline, ctx.stop,
                                                     RandomUint64()));
    }
    bench::RunWorkers(workers);
    for (auto& worker : workers) {
      const OpStats& s = worker->stats();
      load.total.ended_by_duration = load.total.ended_by_duration || s.ended_by_duration;
      auto& seconds = load.total.ops_per_second;
      seconds.resize(std::max(seconds.size(), s.ops_per_second.size()), 0);
      for (size_t i = 0; i < s.ops_per_second.size(); ++i) seconds[i] += s.ops_per_second[i];
      load.total.ops += worker->stats().ops;
      load.total.errors += worker->stats().errors;
      load.total.latency.Merge(worker->stats().latency);
      load.total.last_reply = std::max(load.total.last_reply, worker->stats().last_reply);
      load.timed_out = load.timed_out || worker->timed_out();
    }
    return load;
  }

  // A finished operation's figures, phase, evidence and expectations.
  void ReportOp(const std::string& op, const OpLoad& load, SteadyClock::time_point started,
                const DrillContext& ctx, DrillResult& result) {
    const OpStats& total = load.total;
    const double elapsed = bench::LegSeconds(load.start, total.last_reply);
    const double rate = bench::PerSecond(total.ops, elapsed);
    Labels labels = {{"target", dragonfly_.name}, {"op", op}};
    result.Add(kOps, labels, rate);
    result.Add(kOperations, labels, static_cast<double>(total.ops));
    result.Add(kErrors, labels, static_cast<double>(total.errors));
    bench::AddLatencyPercentiles(result, kLatency, labels, total.latency);
    bench::AddLegSeries(result, {{"op", op}}, "ops/s", total.ops_per_second, total.latency);
    const std::string detail =
        bench::LegDetail(kLegWording, rate, total.ops, total.errors, total.latency, elapsed) +
        (total.ended_by_duration ? " (ended by the duration cap)" : "") + " [" +
        bench::ParametersText(Parameters()) + "]";
    result.AddPhase("bench_" + op, SecondsSince(started), true, detail);
    result.AddEvidence("dragonfly_benchmark " + op + " (" + params_.master.Describe() + ")",
                       detail);
    ctx.progress("benchmark " + op + ": " + detail);
    bench::ExpectThroughput(
        result, dragonfly_.name, rate,
        {"dragonfly_benchmark_min_" + op + "_ops_per_second", params_.min_ops_per_second,
         "dragonfly_benchmark_max_" + op + "_regression", params_.max_regression,
         bench::ParametersText(Parameters())},
        op == "set" ? set_history_ : get_history_);
  }

  DragonflyBenchmarkParams params_;
  Dragonfly dragonfly_;
  RegressionBaseline set_history_;
  RegressionBaseline get_history_;
};

}  // namespace

std::string BenchKeyPattern(const std::string& key_prefix) {
  std::string pattern;
  for (char c : key_prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "*";
}

DragonflyBenchmarkParams ReadDragonflyBenchmarkParams(const DrillSettings& settings,
                                                      const Config& config) {
  if (!settings.params) throw ConfigError("drills.jobs.dragonfly_benchmark: params are required");
  YamlMap& map = *settings.params;
  DragonflyBenchmarkParams p;
  p.dragonfly = map.RequiredString("dragonfly");
  const Dragonfly* dragonfly = config.FindDragonfly(p.dragonfly);
  if (dragonfly == nullptr) map.Fail("dragonfly", "no dragonfly named \"" + p.dragonfly + "\"");
  if (dragonfly->discover) {
    map.Fail("dragonfly", "\"" + p.dragonfly +
                              "\" discovers its members: this drill needs master: and replicas:");
  }
  p.master = dragonfly->master;
  p.key_prefix = dragonfly->key_prefix + "bench:";
  if (auto v = map.Int("connections", 1, 10000)) p.connections = static_cast<int>(*v);
  if (auto v = map.Int("pipeline", 1, 10000)) p.pipeline = static_cast<int>(*v);
  if (auto v = map.Int("threads", 1, 64)) p.threads = static_cast<int>(*v);
  if (p.threads > p.connections) map.Fail("threads", "must not exceed connections");
  if (auto v = map.Int("requests", 0, 1000000000)) p.requests = *v;
  if (auto v = map.Duration("duration")) p.duration = *v;
  if (p.duration < std::chrono::milliseconds(100)) map.Fail("duration", "must be at least 100ms");
  if (auto v = map.Int("value_size", 1, 1 << 20)) p.value_size = static_cast<int>(*v);
  if (auto v = map.Int("keyspace", 1, 100000000)) p.keyspace = static_cast<int>(*v);
  if (auto v = map.Int("history", 0, 100)) p.history = static_cast<int>(*v);
  if (map.Has("ops")) {
    p.ops = map.ListOfStrings("ops");
    if (p.ops.empty()) map.Fail("ops", "must list at least one of set, get");
    for (size_t i = 0; i < p.ops.size(); ++i) {
      if (p.ops[i] != "set" && p.ops[i] != "get") map.Fail("ops", "allowed: set, get");
      if (std::find(p.ops.begin(), p.ops.begin() + static_cast<long>(i), p.ops[i]) !=
          p.ops.begin() + static_cast<long>(i)) {
        map.Fail("ops", "lists " + p.ops[i] + " twice");
      }
    }
  }
  const auto needed = p.duration * static_cast<long>(p.ops.size()) + std::chrono::seconds(5);
  if (needed > settings.timeout) {
    map.Fail("duration", "x " + std::to_string(p.ops.size()) +
                             " operations leaves too little of the drill's timeout (" +
                             std::to_string(settings.timeout.count()) + " ms)");
  }
  if (auto expect = map.Map("expect")) {
    if (auto v = expect->Number("min_ops_per_second", 0, 1e12)) p.min_ops_per_second = *v;
    if (auto v = expect->Number("max_regression", 0, 1)) p.max_regression = *v;
    expect->Finish();
  }
  if (auto baseline = map.Map("baseline")) {
    p.baseline_set = baseline->Number("set", 0, 1e12);
    p.baseline_get = baseline->Number("get", 0, 1e12);
    baseline->Finish();
  }
  map.Finish();
  return p;
}

Result<std::unique_ptr<Drill>> CreateDragonflyBenchmarkDrill(const DrillSettings& settings,
                                                             const Config& config) {
  try {
    DragonflyBenchmarkParams params = ReadDragonflyBenchmarkParams(settings, config);
    const Dragonfly* dragonfly = config.FindDragonfly(params.dragonfly);
    std::vector<DrillRecord> earlier;
    if (config.drills && params.history > 0) {
      earlier = LoadRecentRecords(config.drills->reports_dir, settings.kind,
                                  bench::BaselineFilesToRead(static_cast<size_t>(params.history)));
    }
    return std::unique_ptr<Drill>(
        std::make_unique<DragonflyBenchmarkDrill>(std::move(params), *dragonfly, earlier));
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

}  // namespace dbcanary
