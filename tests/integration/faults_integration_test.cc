// Faults from every side (issue #10 parts 2 and 3): the real dbcanary binary against the local
// stack, with PostgreSQL, a PgBouncer and redis each in turn and then all together down, hung,
// slow, answering garbage or dying mid-reply. The exporter reaches the three through FaultProxy
// instances (tests/integration/harness/faults.h), so a fault is switched in milliseconds instead
// of a stack stop/start; "hung" is the real thing (SIGSTOP of the server). Two canary targets
// reach their servers directly and must keep their schedule throughout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/faults.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Mode = FaultProxy::Mode;
using std::chrono::milliseconds;
using std::chrono::seconds;

// No check here depends on how fast the host is: probe runs are waited for (conditions on the
// counters, with generous limits that only matter when something is broken), and the only time
// bounds are promises with room for a loaded 2-core machine (stack.h).
constexpr double kInterval = 1.0;
constexpr double kTimeout = 1.0;
// How far past its timeout a failed run may end in the exporter process (cancel wait plus
// scheduling on a loaded 2-core machine). A "slow" fault run ignoring its deadline would take
// several 1.5 s delays (TLS and protocol round trips).
constexpr double kRunSlack = kDeadlineSlackSeconds;
// A scrape reads a snapshot: it must never wait on a probe (pinned against a minute-long hang
// in tests/unit/render_test.cc; here a bound with room for a loaded host).
constexpr double kMaxScrapeSeconds = kPromptSeconds;
// Scheduling, publishing and the 50 ms scrape poll on a loaded host, on top of the promise that
// a fault shows within one interval plus the timeout of the run in flight and of the next one.
constexpr double kShowSlack = 3.0;
// Limit of the waits for runs and recoveries: they end as soon as their condition holds.
constexpr auto kWaitLimit = std::chrono::seconds(60);

enum Component { kPostgres = 1, kPooler = 2, kRedis = 4, kAll = 7 };

struct ProbeId {
  std::string kind;
  std::string target;
  int component;  // the faulted component it depends on directly (0 = canary)
  std::string Labels() const { return "{probe=\"" + kind + "\",target=\"" + target + "\""; }
};

const std::vector<ProbeId>& Probes() {
  static const std::vector<ProbeId> probes = {
      {"pg_replication", "shared-postgres", kPostgres},
      {"pooler_roundtrip", "gitlab-pooler-rw", kPooler},
      {"dragonfly_basics", "dragonfly", kRedis},
      {"pg_instance", "canary-standby", 0},
      {"dragonfly_info", "canary-replica", 0},
  };
  return probes;
}

// Every sample of a page, keyed by series text (`name{labels}`).
using Page = std::map<std::string, double>;

Page ParsePage(const std::string& body) {
  Page page;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    page[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return page;
}

double Get(const Page& page, const std::string& series) {
  auto it = page.find(series);
  return it == page.end() ? NAN : it->second;
}
double Runs(const Page& page, const ProbeId& probe) {
  return Get(page, "dbcanary_probe_runs_total" + probe.Labels() + "}");
}
double Success(const Page& page, const ProbeId& probe) {
  return Get(page, "dbcanary_probe_success" + probe.Labels() + "}");
}
double Duration(const Page& page, const ProbeId& probe) {
  return Get(page, "dbcanary_probe_duration_seconds" + probe.Labels() + "}");
}
double Failures(const Page& page, const ProbeId& probe, const std::string& reason) {
  return Get(page,
             "dbcanary_probe_failures_total" + probe.Labels() + ",reason=\"" + reason + "\"}");
}
const std::vector<std::string>& AllReasons() {
  static const std::vector<std::string> reasons = {
      "config", "connect", "auth", "timeout", "query", "protocol", "tls", "unexpected", "internal"};
  return reasons;
}
double AllFailures(const Page& page, const ProbeId& probe) {
  double sum = 0;
  for (const auto& reason : AllReasons()) sum += Failures(page, probe, reason);
  return sum;
}
double Successes(const Page& page, const ProbeId& probe) {
  return Runs(page, probe) - AllFailures(page, probe);
}
double FailuresIn(const Page& page, const ProbeId& probe, const std::set<std::string>& reasons) {
  double sum = 0;
  for (const auto& reason : reasons) sum += Failures(page, probe, reason);
  return sum;
}
// "connect=3 timeout=1" for messages.
std::string FailureSummary(const Page& page, const ProbeId& probe) {
  std::string text;
  for (const auto& reason : AllReasons()) {
    double value = Failures(page, probe, reason);
    if (value > 0) text += reason + "=" + std::to_string(static_cast<int>(value)) + " ";
  }
  return text;
}

std::string Secrets(const std::string& name) {
  return Stack::Get().Env("DBCANARY_STACK_SECRETS_DIR") + "/" + name + ".password";
}

// One fault of the matrix: what happens, to which components, and the reasons it may produce.
struct FaultCase {
  std::string fault;  // down, hung, slow, garbage, cutoff
  int components;
};

std::set<std::string> ExpectedReasons(const std::string& fault) {
  if (fault == "down") return {"connect"};
  if (fault == "hung" || fault == "slow") return {"timeout"};
  return {"protocol", "connect"};  // garbage, cutoff
}

// The shared setup: three proxies, one exporter, started once for the whole binary.
class Rig {
 public:
  static Rig& Get() {
    static Rig rig;
    return rig;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  ExporterProcess& exporter() { return *exporter_; }
  FaultProxy& proxy(Component component) {
    return component == kPostgres ? *pg_ : component == kPooler ? *pooler_ : *redis_;
  }

  // A scrape, checked for status and promptness; records the slowest.
  Page Scrape() {
    auto response = exporter_->Get("/metrics");
    EXPECT_EQ(response.status, 200) << "scrape failed; exporter running: " << exporter_->Running();
    EXPECT_LT(response.seconds, kMaxScrapeSeconds) << "a scrape waited";
    worst_scrape_ = std::max(worst_scrape_, response.seconds);
    ++scrapes_;
    return ParsePage(response.body);
  }
  double worst_scrape() const { return worst_scrape_; }
  int scrapes() const { return scrapes_; }

  // Waits until every probe's last run succeeded; returns the seconds it took, or -1.
  double WaitAllGreen(seconds timeout) {
    const auto start = Clock::now();
    while (Clock::now() - start < timeout) {
      Page page = Scrape();
      bool green = true;
      for (const auto& probe : Probes()) green = green && Success(page, probe) == 1;
      if (green) return std::chrono::duration<double>(Clock::now() - start).count();
      std::this_thread::sleep_for(milliseconds(100));
    }
    return -1;
  }

 private:
  Rig() {
    const auto& stack = Stack::Get();
    if (!stack.available()) {
      error_ = stack.unavailable_reason();
      return;
    }
    pg_ = std::make_unique<FaultProxy>(stack.Port("shared-postgres-1"));
    pooler_ = std::make_unique<FaultProxy>(stack.Port("gitlab-pooler-rw"));
    redis_ = std::make_unique<FaultProxy>(stack.Port("dragonfly-0"));
    if (pg_->port() == 0 || pooler_->port() == 0 || redis_->port() == 0) {
      error_ = "could not start the fault proxies";
      return;
    }
    for (auto* proxy : {pg_.get(), pooler_.get(), redis_.get()})
      proxy->set_delay(milliseconds(1500));
    config_ =
        fs::temp_directory_path() / ("dbcanary-faults-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(config_) << Config();
    exporter_ = std::make_unique<ExporterProcess>(
        std::vector<std::string>{"serve", "--config", config_.string()});
    if (!exporter_->WaitReady(seconds(30))) {
      error_ = "exporter not ready:\n" + exporter_->Log();
    }
  }
  ~Rig() {
    exporter_.reset();
    std::error_code ignored;
    fs::remove(config_, ignored);
  }

  std::string Config() const {
    const auto& stack = Stack::Get();
    const std::string ca = stack.Env("DBCANARY_STACK_CA_CERT");
    auto port = [&](const char* component) { return std::to_string(stack.Port(component)); };
    std::ostringstream out;
    out << "exporter:\n  workers: 4\n  default_interval: 1s\n  default_timeout: 1s\n"
        << "  log: { format: text, level: info }\n"
        << "postgres:\n  clusters:\n"
        << "    - name: shared-postgres\n"
        << "      defaults: { dbname: postgres, user: dbcanary, password_file: "
        << Secrets("dbcanary") << ", sslmode: verify-full, sslrootcert: " << ca
        << ", connect_timeout: 1s }\n"
        << "      primary: { name: shared-postgres-1, host: 127.0.0.1, port: " << pg_->port()
        << " }\n"
        << "      standbys:\n"
        << "        - { name: shared-postgres-2, host: 127.0.0.1, port: "
        << port("shared-postgres-2") << " }\n"
        << "        - { name: shared-postgres-3, host: 127.0.0.1, port: "
        << port("shared-postgres-3") << " }\n"
        << "      probes: { pg_replication: {} }\n"
        << "    - name: canary-standby\n"
        << "      defaults: { dbname: postgres, user: dbcanary, password_file: "
        << Secrets("dbcanary") << ", sslmode: verify-full, sslrootcert: " << ca
        << ", connect_timeout: 1s }\n"
        << "      primary: { name: shared-postgres-2, host: 127.0.0.1, port: "
        << port("shared-postgres-2") << " }\n"
        << "      probes: { pg_instance: {} }\n"
        << "poolers:\n"
        << "  - name: gitlab-pooler-rw\n"
        << "    connection: { host: 127.0.0.1, port: " << pooler_->port()
        << ", dbname: gitlabhq_production, user: gitlab, password_file: " << Secrets("gitlab")
        << ", sslmode: verify-full, sslrootcert: " << ca << ", connect_timeout: 1s }\n"
        << "    probes: { pooler_roundtrip: {} }\n"
        << "dragonfly:\n"
        << "  - name: dragonfly\n"
        << "    master: { name: dragonfly-0, host: 127.0.0.1, port: " << redis_->port()
        << ", password_file: " << Secrets("dragonfly") << ", connect_timeout: 1s }\n"
        << "    probes: { dragonfly_basics: {} }\n"
        << "  - name: canary-replica\n"
        << "    master: { name: dragonfly-1, host: 127.0.0.1, port: " << port("dragonfly-1")
        << ", password_file: " << Secrets("dragonfly") << ", connect_timeout: 1s }\n"
        << "    probes: { dragonfly_info: {} }\n";
    return out.str();
  }

  std::string error_;
  std::unique_ptr<FaultProxy> pg_, pooler_, redis_;
  fs::path config_;
  std::unique_ptr<ExporterProcess> exporter_;
  double worst_scrape_ = 0;
  int scrapes_ = 0;
};

const char* ComponentName(int component) {
  switch (component) {
    case kPostgres:
      return "shared-postgres-1";
    case kPooler:
      return "gitlab-pooler-rw";
    case kRedis:
      return "dragonfly-0";
    default:
      return "all";
  }
}

// Applies a fault to the components of `fault` while alive; undoes it when destroyed.
class ActiveFault {
 public:
  ActiveFault(Rig& rig, const FaultCase& fault) : rig_(rig), fault_(fault) {
    for (int component : {kPostgres, kPooler, kRedis}) {
      if ((fault.components & component) == 0) continue;
      if (fault.fault == "hung") {
        frozen_.push_back(std::make_unique<FrozenComponent>(ComponentName(component)));
        EXPECT_TRUE(frozen_.back()->frozen()) << frozen_.back()->error();
      } else {
        rig.proxy(static_cast<Component>(component)).SetMode(ModeOf(fault.fault));
      }
    }
  }
  ~ActiveFault() { End(); }
  void End() {
    frozen_.clear();  // SIGCONT
    for (int component : {kPostgres, kPooler, kRedis}) {
      rig_.proxy(static_cast<Component>(component)).SetMode(Mode::kForward);
    }
  }
  static Mode ModeOf(const std::string& fault) {
    if (fault == "down") return Mode::kRefuse;
    if (fault == "slow") return Mode::kDelay;
    if (fault == "garbage") return Mode::kGarbage;
    if (fault == "cutoff") return Mode::kCutOff;
    return Mode::kForward;
  }

 private:
  Rig& rig_;
  FaultCase fault_;
  std::vector<std::unique_ptr<FrozenComponent>> frozen_;
};

std::string CaseName(const ::testing::TestParamInfo<FaultCase>& info) {
  const int c = info.param.components;
  std::string what = c == kAll        ? "All"
                     : c == kPostgres ? "Postgres"
                     : c == kPooler   ? "Pooler"
                                      : "Redis";
  std::string fault = info.param.fault;
  fault[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(fault[0])));
  return fault + what;
}

class FaultMatrix : public ::testing::TestWithParam<FaultCase> {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    ASSERT_TRUE(Rig::Get().ok()) << Rig::Get().error();
  }
};

// Each fault makes exactly the probes of the faulted components fail, within their deadline and
// with the fault's bounded reason, while /metrics stays prompt and the other probes keep their
// schedule (a hung target holds one worker, never the pool); all recover once the fault ends.
TEST_P(FaultMatrix, FailsFastWithTheRightReasonAndRecovers) {
  Rig& rig = Rig::Get();
  const FaultCase& param = GetParam();
  ASSERT_TRUE(rig.exporter().Running());
  ASSERT_GE(rig.WaitAllGreen(kWaitLimit), 0) << "not green before the fault\n"
                                             << rig.exporter().Log();

  // Which probes the fault must break, and which it must leave alone. A hung PostgreSQL may or
  // may not stall PgBouncer (server connections it already holds keep working), and a faulted
  // path to PostgreSQL leaves the pooler alone: the pooler talks to the server directly.
  const std::set<std::string> reasons = ExpectedReasons(param.fault);
  std::vector<const ProbeId*> affected, healthy;
  for (const auto& probe : Probes()) {
    if ((probe.component & param.components) != 0) {
      affected.push_back(&probe);
    } else if (!(param.fault == "hung" && (param.components & kPostgres) != 0 &&
                 probe.component == kPooler)) {
      healthy.push_back(&probe);
    }
  }

  const Page before = rig.Scrape();
  const auto injected = Clock::now();
  ActiveFault fault(rig, param);

  // 1. Every affected probe fails with an expected reason, within one interval plus its timeout.
  Page first;
  std::map<std::string, double> seconds_to_fail;
  for (;;) {
    first = rig.Scrape();
    const double elapsed = std::chrono::duration<double>(Clock::now() - injected).count();
    bool all = true;
    for (const ProbeId* probe : affected) {
      if (FailuresIn(first, *probe, reasons) > FailuresIn(before, *probe, reasons)) {
        seconds_to_fail.emplace(probe->target, elapsed);
      } else {
        all = false;
      }
    }
    if (all) break;
    if (elapsed > kInterval + 2 * kTimeout + kShowSlack) {
      for (const ProbeId* probe : affected) {
        if (seconds_to_fail.count(probe->target) != 0) continue;
        ADD_FAILURE() << probe->kind << "/" << probe->target << " did not fail with "
                      << *reasons.begin() << " after " << elapsed
                      << " s; failures: " << FailureSummary(first, *probe);
      }
      return;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }

  // 2. Under the fault until every affected probe has run again and every healthy probe has run
  // twice and succeeded since the fault began (waited for, not counted in a fixed window: a
  // loaded host only takes longer): every run of an affected probe fails with an expected
  // reason within its deadline; the healthy probes keep running and succeeding.
  Page under;
  const auto under_since = Clock::now();
  for (;;) {
    under = rig.Scrape();
    bool done = true;
    for (const ProbeId* probe : affected) {
      done = done && Runs(under, *probe) - Runs(first, *probe) >= 1;
    }
    for (const ProbeId* probe : healthy) {
      done = done && Runs(under, *probe) - Runs(before, *probe) >= 2 &&
             Successes(under, *probe) - Successes(before, *probe) >= 1;
    }
    if (done || Clock::now() - under_since > kWaitLimit) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  for (const ProbeId* probe : affected) {
    SCOPED_TRACE(probe->kind + "/" + probe->target);
    const double runs = Runs(under, *probe) - Runs(first, *probe);
    EXPECT_GE(runs, 1) << "affected probe stopped running";
    EXPECT_EQ(FailuresIn(under, *probe, reasons) - FailuresIn(first, *probe, reasons), runs)
        << "runs under the fault failed with another reason: " << FailureSummary(under, *probe)
        << "(before: " << FailureSummary(first, *probe) << ")";
    EXPECT_EQ(Success(under, *probe), 0);
    EXPECT_LE(Duration(under, *probe), kTimeout + kRunSlack) << "a failed run overran its deadline";
  }
  for (const ProbeId* probe : healthy) {
    SCOPED_TRACE(probe->kind + "/" + probe->target);
    // A starved pool shows as missing runs. (How many of a healthy probe's 1 s runs a loaded
    // host lets fail is the host's business, not dbcanary's: it must keep succeeding, though.)
    EXPECT_GE(Runs(under, *probe) - Runs(before, *probe), 2) << "a healthy probe lost its schedule";
    EXPECT_GE(Successes(under, *probe) - Successes(before, *probe), 1)
        << "a healthy probe stopped succeeding: " << FailureSummary(under, *probe);
  }
  EXPECT_TRUE(rig.exporter().Running()) << rig.exporter().Log();

  // 3. The fault ends; everything is green again by itself (how soon is the host's business).
  fault.End();
  const double recovery = rig.WaitAllGreen(kWaitLimit);
  EXPECT_GE(recovery, 0) << "no recovery after the fault ended";
  std::cout << "[ figures  ] " << CaseName({param, 0}) << ": failed after";
  for (const auto& [target, s] : seconds_to_fail) std::cout << " " << target << "=" << s << "s";
  std::cout << "; recovered in " << recovery << " s; worst scrape so far " << rig.worst_scrape()
            << " s over " << rig.scrapes() << " scrapes" << std::endl;
}

std::vector<FaultCase> AllCases() {
  std::vector<FaultCase> cases;
  for (const char* fault : {"down", "hung", "slow", "garbage", "cutoff"}) {
    for (int components : {kPostgres, kPooler, kRedis, kAll}) cases.push_back({fault, components});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EverySide, FaultMatrix, ::testing::ValuesIn(AllCases()), CaseName);

// ---------------------------------------------------------------------------------------------
// No leaks

// Connections of the exporter's roles on every server, sampled a few times over ~1.5 s (a
// probe run may be in flight at any one moment); the maximum of each.
struct ConnectionCounts {
  int fds = 0;
  int pg_backends = 0;     // pg_stat_activity on the primary, roles dbcanary and gitlab
  int idle_in_tx = 0;      // of those, idle in transaction
  int pooler_clients = 0;  // SHOW CLIENTS on gitlab-pooler-rw, user gitlab
  int redis_clients = 0;   // CLIENT LIST on dragonfly-0, without replicas and this query
};

int PoolerClients() {
  const auto& stack = Stack::Get();
  std::string output;
  int code =
      RunCommand("PGPASSWORD=\"$(cat " + Secrets("pgbouncer_admin") + ")\" psql -X -A -t " +
                     "\"host=127.0.0.1 port=" + std::to_string(stack.Port("gitlab-pooler-rw")) +
                     " dbname=pgbouncer user=pgbouncer_admin sslmode=require connect_timeout=5\"" +
                     " -c 'SHOW CLIENTS'",
                 "", &output);
  if (code != 0) {
    ADD_FAILURE() << "SHOW CLIENTS failed: " << output;
    return -1;
  }
  // Rows: type|user|database|... ; count the tenant role's clients.
  int count = 0;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("C|gitlab|", 0) == 0) ++count;
  }
  return count;
}

int RedisClients() {
  const auto& stack = Stack::Get();
  std::string output;
  int code = RunCommand("REDISCLI_AUTH=\"$(cat " + Secrets("dragonfly") +
                            ")\" redis-cli -h 127.0.0.1 -p " +
                            std::to_string(stack.Port("dragonfly-0")) + " CLIENT LIST",
                        "", &output);
  if (code != 0) {
    ADD_FAILURE() << "CLIENT LIST failed: " << output;
    return -1;
  }
  int count = 0;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("id=") != 0) continue;
    if (line.find(" flags=S") != std::string::npos) continue;         // a replica's link
    if (line.find("cmd=client|list") != std::string::npos) continue;  // this query
    ++count;
  }
  return count;
}

ConnectionCounts Sample(Rig& rig) {
  ConnectionCounts most;
  for (int i = 0; i < 4; ++i) {
    most.fds = std::max(most.fds, OpenFdCount(rig.exporter().pid()));
    auto rows = Stack::Get().AdminQuery(
        "shared-postgres-1",
        "SELECT count(*) AS n, count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS tx "
        "FROM pg_stat_activity WHERE usename IN ('dbcanary', 'gitlab')");
    if (rows) {
      most.pg_backends =
          std::max(most.pg_backends, static_cast<int>(rows->Number(0, "n")->value_or(-1)));
      most.idle_in_tx =
          std::max(most.idle_in_tx, static_cast<int>(rows->Number(0, "tx")->value_or(-1)));
    } else {
      ADD_FAILURE() << rows.error().message;
    }
    most.pooler_clients = std::max(most.pooler_clients, PoolerClients());
    most.redis_clients = std::max(most.redis_clients, RedisClients());
    std::this_thread::sleep_for(milliseconds(300));
  }
  return most;
}

std::ostream& operator<<(std::ostream& out, const ConnectionCounts& c) {
  return out << "fds=" << c.fds << " pg_backends=" << c.pg_backends
             << " idle_in_tx=" << c.idle_in_tx << " pooler_clients=" << c.pooler_clients
             << " redis_clients=" << c.redis_clients;
}

// Fifteen faults toggled on every side (each held until the probes of its components have
// failed under it, then lifted until everything is green again) leave no descriptor, backend,
// pooler client or redis client behind, and no backend idle in transaction (a leaked or
// half-closed connection per failed run would pile up to max_connections in production).
TEST(NoLeaks, FaultsTogglingForThirtyCyclesLeaveNothingBehind) {
  DBCANARY_REQUIRE_STACK();
  Rig& rig = Rig::Get();
  ASSERT_TRUE(rig.ok()) << rig.error();
  ASSERT_GE(rig.WaitAllGreen(kWaitLimit), 0) << rig.exporter().Log();
  const ConnectionCounts start = Sample(rig);
  std::cout << "[ figures  ] start: " << start << std::endl;
  const Page page_start = rig.Scrape();

  const std::vector<FaultCase> toggles = {
      {"down", kPostgres}, {"garbage", kPooler},   {"cutoff", kRedis}, {"hung", kPooler},
      {"slow", kAll},      {"cutoff", kPostgres},  {"hung", kRedis},   {"garbage", kAll},
      {"down", kAll},      {"hung", kPostgres},    {"slow", kRedis},   {"cutoff", kPooler},
      {"down", kRedis},    {"garbage", kPostgres}, {"slow", kPooler},
  };
  // Each toggle is held until every probe of its components has failed under it, then lifted
  // until everything is green again: waited for, not timed, so every toggle really cycles its
  // probes through a failed and a successful run whatever the host's speed.
  double meant = 0;  // runs of Probes()[0] the toggles make at least: one failed, one green
  for (const auto& toggle : toggles) {
    SCOPED_TRACE(toggle.fault + " " + ComponentName(toggle.components));
    const Page at_start = rig.Scrape();
    {
      ActiveFault fault(rig, toggle);
      const auto since = Clock::now();
      bool failed = false;
      while (!failed && Clock::now() - since < kWaitLimit) {
        std::this_thread::sleep_for(milliseconds(100));
        const Page page = rig.Scrape();
        failed = true;
        for (const auto& probe : Probes()) {
          if ((probe.component & toggle.components) == 0) continue;
          failed = failed && AllFailures(page, probe) > AllFailures(at_start, probe);
        }
      }
      ASSERT_TRUE(failed) << "the faulted probes did not fail\n" << rig.exporter().Log();
    }
    ASSERT_GE(rig.WaitAllGreen(kWaitLimit), 0) << "no recovery after the toggle";
    if ((Probes()[0].component & toggle.components) != 0) meant += 2;
  }
  const Page page_end = rig.Scrape();
  EXPECT_GE(Runs(page_end, Probes()[0]) - Runs(page_start, Probes()[0]), meant)
      << "fewer cycles than meant";
  const ConnectionCounts end = Sample(rig);
  std::cout << "[ figures  ] end:   " << end << std::endl;

  EXPECT_LE(end.fds, start.fds + 3) << "exporter descriptors grew";
  // Per probe run at most one connection per server is open at a time; two runs may overlap a
  // sample's moment (one ending, the next starting).
  EXPECT_LE(end.pg_backends, std::max(start.pg_backends, 2)) << "backends of dbcanary/gitlab grew";
  EXPECT_EQ(end.idle_in_tx, 0);
  EXPECT_LE(end.pooler_clients, std::max(start.pooler_clients, 2)) << "pooler clients grew";
  EXPECT_LE(end.redis_clients, std::max(start.redis_clients, 2)) << "redis clients grew";
  for (int component : {kPostgres, kPooler, kRedis}) {
    EXPECT_LE(rig.proxy(static_cast<Component>(component)).open_connections(), 2)
        << ComponentName(component) << ": connections from the exporter left open";
  }
  EXPECT_TRUE(rig.exporter().Running());
}

}  // namespace
}  // namespace dbcanary::testing
