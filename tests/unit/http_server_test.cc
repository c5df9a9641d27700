#include "exporter/web/http_server.h"

#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "config/secret.h"
#include "core/base64.h"
#include "exporter/metrics/render.h"
#include "tests/unit/fake_probe.h"
#include "tests/unit/http_client.h"
#include "tests/unit/loopback.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpRequest;
using testing::PostReload;
using testing::WaitFor;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto info = std::make_shared<ProbeInfo>();
    info->key = ProbeKey{"fake", "t1"};
    info->interval = 10s;
    info->timeout = 1s;
    store_.SetProbes({info});
    auto server = HttpServer::Start({"127.0.0.1:0", 2}, HttpBackend{&store_, &self_, [this] {
                                                                      ++reloads_;
                                                                      return reload_status_;
                                                                    }});
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(server).value();
    port_ = server_->port();
  }

  void PublishSuccess() {
    auto result = std::make_shared<ProbeResult>();
    result->success = true;
    result->finished_at = std::chrono::system_clock::now();
    store_.Publish(ProbeKey{"fake", "t1"}, result);
  }

  ResultStore store_;
  SelfMetrics self_;
  Status reload_status_ = Ok{};
  std::atomic<int> reloads_{0};
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, BindsAnEphemeralPort) {
  EXPECT_GT(port_, 0);
  EXPECT_EQ(server_->host(), "127.0.0.1");
}

TEST_F(HttpServerTest, Healthz) {
  auto response = HttpGet(port_, "/healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzWaitsForAFirstResultOfEveryProbe) {
  auto before = HttpGet(port_, "/readyz");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 503);
  EXPECT_THAT(before->body, HasSubstr("fake/t1"));
  PublishSuccess();
  auto after = HttpGet(port_, "/readyz");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "ready\n");
}

// The Prometheus paths answer as their Kubernetes-style aliases do.
TEST_F(HttpServerTest, PrometheusHealthAndReadyPathsAnswerLikeTheirAliases) {
  for (auto [path, alias] : {std::pair{"/-/healthy", "/healthz"}, {"/-/ready", "/readyz"}}) {
    auto response = HttpGet(port_, path);
    auto old = HttpGet(port_, alias);
    ASSERT_TRUE(response && old) << path;
    EXPECT_EQ(response->status, old->status) << path;
    EXPECT_EQ(response->body, old->body) << path;
  }
  EXPECT_EQ(HttpGet(port_, "/-/ready")->status, 503);
  PublishSuccess();
  EXPECT_EQ(HttpGet(port_, "/-/ready")->status, 200);
  EXPECT_EQ(HttpGet(port_, "/-/healthy")->body, "ok\n");
}

TEST_F(HttpServerTest, MetricsUsesTheExpositionContentType) {
  auto response = HttpGet(port_, "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers["content-type"], kTextFormatContentType);
  EXPECT_THAT(response->body,
              HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"t1\"} 0\n"));
  EXPECT_THAT(response->body, HasSubstr("dbcanary_exporter_scrapes_total 1\n"));
  EXPECT_EQ(response->headers["content-length"], std::to_string(response->body.size()));
}

// The exporter writes the Date header itself (CivetWeb's own uses the thread-unsafe gmtime).
TEST_F(HttpServerTest, DateHeaderIsAnImfFixdateOfNow) {
  std::time_t before = std::time(nullptr);
  auto response = HttpGet(port_, "/healthz");
  std::time_t after = std::time(nullptr);
  ASSERT_TRUE(response);
  const std::string& date = response->headers["date"];
  std::tm parsed{};
  const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed);
  ASSERT_NE(end, nullptr) << date;
  EXPECT_EQ(*end, '\0') << date;
  std::time_t stamped = timegm(&parsed);
  EXPECT_GE(stamped, before) << date;
  EXPECT_LE(stamped, after) << date;
}

TEST_F(HttpServerTest, HeadHasHeadersButNoBody) {
  auto response = HttpRequest(port_, "HEAD", "/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->body.empty());
}

TEST_F(HttpServerTest, LandingPageListsProbes) {
  PublishSuccess();
  auto response = HttpGet(port_, "/");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->headers["content-type"], HasSubstr("text/html"));
  EXPECT_THAT(response->body, HasSubstr("<tr class=\"pass\"><td class=\"state\">pass</td>"
                                        "<td class=\"checkname\">fake run"));
  EXPECT_THAT(response->body, HasSubstr("href=\"metrics\""));
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  auto response = HttpGet(port_, "/nope");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  auto nested = HttpGet(port_, "/metrics/extra");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->status, 404);
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  auto get_reload = HttpGet(port_, "/-/reload");
  ASSERT_TRUE(get_reload);
  EXPECT_EQ(get_reload->status, 405);
  EXPECT_EQ(get_reload->headers["allow"], "POST");
  auto post_metrics = HttpRequest(port_, "POST", "/metrics");
  ASSERT_TRUE(post_metrics);
  EXPECT_EQ(post_metrics->status, 405);
  EXPECT_EQ(post_metrics->headers["allow"], "GET, HEAD");
  auto delete_healthz = HttpRequest(port_, "DELETE", "/healthz");
  ASSERT_TRUE(delete_healthz);
  EXPECT_EQ(delete_healthz->status, 405);
  EXPECT_EQ(reloads_.load(), 0);
}

TEST_F(HttpServerTest, ReloadSuccess) {
  auto response = PostReload(port_);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "reloaded\n");
  EXPECT_EQ(reloads_.load(), 1);
}

TEST_F(HttpServerTest, ReloadConfigErrorIs400WithTheMessageRedacted) {
  RegisterSecretValue("s3cr3t-in-error");
  reload_status_ = MakeError(ErrorCode::kConfig, "cfg.yaml:3:5: x: bad s3cr3t-in-error");
  auto response = PostReload(port_);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->body, "cfg.yaml:3:5: x: bad <redacted>\n");
  reload_status_ = MakeError(ErrorCode::kInternal, "broken");
  auto internal = PostReload(port_);
  ASSERT_TRUE(internal);
  EXPECT_EQ(internal->status, 500);
  auto health = HttpGet(port_, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Pins: /-/reload is POST plus the X-Dbcanary-Reload header. A GET, a bare POST and what an
// HTML form can send (a urlencoded POST) reload nothing; the header with an empty value
// neither.
TEST_F(HttpServerTest, ReloadWithoutTheHeaderIsRefused) {
  auto get = HttpGet(port_, "/-/reload");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  auto bare = HttpRequest(port_, "POST", "/-/reload");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 403);
  EXPECT_THAT(bare->body, HasSubstr("X-Dbcanary-Reload"));
  auto form = HttpRequest(port_, "POST", "/-/reload", 3s,
                          "Content-Type: application/x-www-form-urlencoded\r\n");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 403);
  auto empty = HttpRequest(port_, "POST", "/-/reload", 3s, "X-Dbcanary-Reload:\r\n");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 403);
  EXPECT_EQ(reloads_.load(), 0);
  auto with_header = PostReload(port_);
  ASSERT_TRUE(with_header);
  EXPECT_EQ(with_header->status, 200);
  EXPECT_EQ(reloads_.load(), 1);
}

// Pins: a reload that has not finished within the handler's wait is 503, not a 500 and not
// a worker held for as long as the reload takes.
TEST(HttpServerReloadTest, AReloadStillRunningIs503) {
  ResultStore store;
  SelfMetrics self;
  auto server = HttpServer::Start(
      {"127.0.0.1:0", 2},
      HttpBackend{&store, &self, [] { return Status(MakeError(ErrorCode::kTimeout, "running")); }});
  ASSERT_TRUE(server);
  auto response = PostReload((*server)->port());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
}

// Pins: plain HTTP has a connection cap. Over it a new connection is closed at once (without
// waiting for a request) and counted; a freed slot serves again.
TEST(HttpServerLimitsTest, ConnectionCapIsEnforcedOnPlainHttp) {
  ResultStore store;
  SelfMetrics self;
  HttpServerOptions options{"127.0.0.1:0", 2};
  options.max_connections = 3;
  auto server = HttpServer::Start(options, HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server);
  int port = (*server)->port();
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(testing::ConnectLoopback(port));
  ASSERT_TRUE(WaitFor([&] { return (*server)->connections() == 3; }));
  int over = testing::ConnectLoopback(port);
  ASSERT_GE(over, 0);
  char byte = 0;
  timeval limit{30, 0};  // a hang fails the test instead of blocking it
  ::setsockopt(over, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  EXPECT_EQ(::recv(over, &byte, 1, 0), 0);  // closed, no response
  ::close(over);
  EXPECT_EQ(self.Snapshot().web_connections_rejected, 1u);
  for (int fd : held) ::close(fd);
  ASSERT_TRUE(WaitFor([&] { return (*server)->connections() == 0; }));
  auto health = HttpGet(port, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Pins: clients that send their request head slowly are held by the front, not by CivetWeb's
// workers: with one worker and five clients stuck mid-head (CivetWeb would keep a worker for
// its 10 s request timeout on each), a scrape is still answered within the client's 3 s.
TEST(HttpServerLimitsTest, SlowClientsDoNotHoldWorkers) {
  ResultStore store;
  SelfMetrics self;
  auto server = HttpServer::Start({"127.0.0.1:0", 1},
                                  HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server);
  int port = (*server)->port();
  std::vector<int> slow;
  for (int i = 0; i < 5; ++i) {
    int fd = testing::ConnectLoopback(port);
    std::string part = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  ASSERT_TRUE(WaitFor([&] { return (*server)->connections() == 5; }));
  for (int i = 0; i < 3; ++i) {
    auto response = HttpGet(port, "/metrics");
    ASSERT_TRUE(response) << "scrape " << i << " not answered while slow clients wait";
    EXPECT_EQ(response->status, 200);
  }
  for (int fd : slow) ::close(fd);
}

// Pins: 50 clients repeating wrong credentials while an authorised client scrapes: every
// authorised scrape is answered 200 (from the cache of verified credentials), and the flood costs
// one bcrypt per distinct credential (the failure cache answers the repeats), not one per request.
TEST(HttpServerLimitsTest, BadCredentialFloodHitsTheFailureCache) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  const char* hash = crypt_rn("right", salt, &data, sizeof(data));
  ASSERT_NE(hash, nullptr);
  testing::TempDir dir;
  HttpServerOptions options{"127.0.0.1:0", 4};
  options.web_config_file =
      dir.Write("web.yml", "basic_auth_users:\n  prom: '" + std::string(hash) + "'\n");
  ResultStore store;
  SelfMetrics self;
  auto server = HttpServer::Start(options, HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server) << server.error().message;
  int port = (*server)->port();
  const std::string right = "Authorization: Basic cHJvbTpyaWdodA==\r\n";  // prom:right
  // The scraper's credentials are verified before the flood, as a running Prometheus's are.
  auto first = HttpRequest(port, "GET", "/metrics", 10s, right);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  std::atomic<int> refused{0};
  std::atomic<int> flood_unanswered{0};
  std::vector<std::thread> flood;
  for (int i = 0; i < 50; ++i) {
    flood.emplace_back([&, i] {
      // prom:wrong-I, a distinct wrong password per client
      std::string credentials = "prom:wrong-" + std::to_string(i);
      std::string header = "Authorization: Basic " + EncodeBase64(credentials) + "\r\n";
      for (int round = 0; round < 4; ++round) {
        auto response = HttpRequest(port, "GET", "/metrics", 10s, header);
        if (!response) {
          ++flood_unanswered;
        } else if (response->status == 401 || response->status == 503) {
          ++refused;
        }
      }
    });
  }
  int scrapes_ok = 0;
  for (int i = 0; i < 20; ++i) {
    auto response = HttpRequest(port, "GET", "/metrics", 10s, right);
    if (response && response->status == 200) ++scrapes_ok;
  }
  for (auto& client : flood) client.join();
  EXPECT_EQ(scrapes_ok, 20);
  EXPECT_EQ(flood_unanswered.load(), 0);
  EXPECT_EQ(refused.load(), 50 * 4);
  BasicAuthStats stats = (*server)->auth_stats();
  // One bcrypt at most per distinct credential (50 wrong, 1 right); every check accounted for:
  // from a cache, by bcrypt, or refused unchecked while two bcrypts were in flight.
  EXPECT_LE(stats.bcrypt_runs, 50u + 1u);
  EXPECT_EQ(stats.bcrypt_runs + stats.failure_hits + stats.success_hits + stats.busy,
            1u + 20u + 50u * 4u);
  EXPECT_EQ(stats.success_hits, 20u);
  // Alone (nothing in flight, so never busy): a wrong password repeated is answered from the
  // failure cache, without a bcrypt.
  const std::string wrong = "Authorization: Basic " + EncodeBase64("prom:wrong-0") + "\r\n";
  auto once = HttpRequest(port, "GET", "/metrics", 10s, wrong);
  ASSERT_TRUE(once);
  EXPECT_EQ(once->status, 401);
  BasicAuthStats before = (*server)->auth_stats();
  auto again = HttpRequest(port, "GET", "/metrics", 10s, wrong);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401);
  BasicAuthStats after = (*server)->auth_stats();
  EXPECT_EQ(after.bcrypt_runs, before.bcrypt_runs);
  EXPECT_EQ(after.failure_hits, before.failure_hits + 1);
}

// Pins the front's triage: a refusal the failure cache already knows is answered by the front
// itself, so it needs no CivetWeb worker. With the only worker held by a reload that does not
// return, a repeated wrong password still gets its 401 (with the challenge; HEAD without a
// body), and a verified scraper's request is relayed to CivetWeb (it waits for the worker).
TEST(HttpServerLimitsTest, KnownRefusalsNeedNoWorker) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  const char* hash = crypt_rn("right", salt, &data, sizeof(data));
  ASSERT_NE(hash, nullptr);
  testing::TempDir dir;
  HttpServerOptions options{"127.0.0.1:0", 1};
  options.web_config_file =
      dir.Write("web.yml", "basic_auth_users:\n  prom: '" + std::string(hash) + "'\n");
  ResultStore store;
  SelfMetrics self;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> reloading{false};
  auto server = HttpServer::Start(options, HttpBackend{&store, &self, [&] {
                                                         reloading = true;
                                                         released.wait();
                                                         return Status(Ok{});
                                                       }});
  ASSERT_TRUE(server) << server.error().message;
  int port = (*server)->port();
  const std::string right = "Authorization: Basic " + EncodeBase64("prom:right") + "\r\n";
  const std::string wrong = "Authorization: Basic " + EncodeBase64("prom:wrong") + "\r\n";
  auto first_wrong = HttpRequest(port, "GET", "/metrics", 10s, wrong);  // bcrypt, then cached
  ASSERT_TRUE(first_wrong);
  ASSERT_EQ(first_wrong->status, 401);
  std::thread reload([&] {
    (void)HttpRequest(port, "POST", "/-/reload", 30s, right + "X-Dbcanary-Reload: 1\r\n");
  });
  ASSERT_TRUE(WaitFor([&] { return reloading.load(); }));  // the only worker is held
  auto again = HttpRequest(port, "GET", "/metrics", 10s, wrong);
  auto head = HttpRequest(port, "HEAD", "/api/checks", 10s, wrong);
  auto scrape = HttpRequest(port, "GET", "/metrics", 300ms, right);
  release.set_value();
  reload.join();
  ASSERT_TRUE(again) << "a known refusal waited for a CivetWeb worker";
  EXPECT_EQ(again->status, 401);
  EXPECT_EQ(again->headers["www-authenticate"], "Basic realm=\"dbcanary\"");
  EXPECT_EQ(again->body, "unauthorized\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 401);
  EXPECT_EQ(head->body, "");
  EXPECT_FALSE(scrape) << "a verified scrape did not go to CivetWeb";
  EXPECT_EQ((*server)->auth_stats().bcrypt_runs, 2u);  // wrong once, right once
}

TEST(HttpServerStartTest, RejectsBadAddressesAndBusyPorts) {
  ResultStore store;
  SelfMetrics self;
  HttpBackend backend{&store, &self, [] { return Status(Ok{}); }};
  EXPECT_FALSE(HttpServer::Start({"127.0.0.1", 1}, backend));
  EXPECT_FALSE(HttpServer::Start({"127.0.0.1:http", 1}, backend));
  EXPECT_FALSE(HttpServer::Start({"127.0.0.1:70000", 1}, backend));
  auto first = HttpServer::Start({"127.0.0.1:0", 1}, backend);
  ASSERT_TRUE(first);
  auto second = HttpServer::Start({"127.0.0.1:" + std::to_string((*first)->port()), 1}, backend);
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("cannot listen on 127.0.0.1:"));
}

TEST(HttpServerStartTest, ServesMetricsAtTheTelemetryPathOnly) {
  ResultStore store;
  SelfMetrics self;
  HttpServerOptions options{"127.0.0.1:0", 1};
  options.telemetry_path = "/internal/metrics";
  auto server = HttpServer::Start(options, HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server) << server.error().message;
  auto metrics = HttpGet((*server)->port(), "/internal/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("process_open_fds "));
  EXPECT_EQ(HttpGet((*server)->port(), "/metrics")->status, 404);
  EXPECT_THAT(HttpGet((*server)->port(), "/")->body, HasSubstr("<a href=\"internal/metrics\">"));
}

TEST(HttpServerStartTest, RejectsTelemetryPathsTheServerServesOtherwise) {
  for (const char* path : {"metrics", "/", "/-/healthy", "/-/reload", "/healthz", "/readyz",
                           "/reports", "/reports/x", "/api/checks", "/m?x=1", "/a/../b", "/a b"}) {
    EXPECT_FALSE(CheckTelemetryPath(path)) << path;
  }
  for (const char* path : {"/metrics", "/probe-metrics", "/internal/metrics"}) {
    EXPECT_TRUE(CheckTelemetryPath(path)) << path;
  }
  ResultStore store;
  SelfMetrics self;
  HttpServerOptions options{"127.0.0.1:0", 1};
  options.telemetry_path = "/readyz";
  auto server = HttpServer::Start(options, HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_FALSE(server);
  EXPECT_THAT(server.error().message, HasSubstr("telemetry path \"/readyz\""));
}

TEST(HttpServerStartTest, ParsesListenAddresses) {
  auto plain = ParseListenAddress("0.0.0.0:9750");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->host, "0.0.0.0");
  EXPECT_EQ(plain->port, 9750);
  auto any_host = ParseListenAddress(":9750");
  ASSERT_TRUE(any_host);
  EXPECT_EQ(any_host->host, "");
  auto ipv6 = ParseListenAddress("[::1]:9750");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->host, "[::1]");
  EXPECT_FALSE(ParseListenAddress("::1:9750"));
  EXPECT_FALSE(ParseListenAddress("host:"));
  EXPECT_FALSE(ParseListenAddress("host:-1"));
}

TEST(HttpServerStartTest, StopIsIdempotentAndClosesThePort) {
  ResultStore store;
  SelfMetrics self;
  auto server = HttpServer::Start({"127.0.0.1:0", 1},
                                  HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server);
  int port = (*server)->port();
  (*server)->Stop();
  (*server)->Stop();
  EXPECT_FALSE(HttpGet(port, "/healthz").has_value());
}

}  // namespace
}  // namespace dbcanary
