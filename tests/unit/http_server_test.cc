#include "exporter/web/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "config/secret.h"
#include "exporter/metrics/render.h"
#include "tests/unit/http_client.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpRequest;

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
  auto response = HttpRequest(port_, "POST", "/-/reload");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "reloaded\n");
  EXPECT_EQ(reloads_.load(), 1);
}

TEST_F(HttpServerTest, ReloadConfigErrorIs400WithTheMessageRedacted) {
  RegisterSecretValue("s3cr3t-in-error");
  reload_status_ = MakeError(ErrorCode::kConfig, "cfg.yaml:3:5: x: bad s3cr3t-in-error");
  auto response = HttpRequest(port_, "POST", "/-/reload");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->body, "cfg.yaml:3:5: x: bad <redacted>\n");
  reload_status_ = MakeError(ErrorCode::kInternal, "broken");
  auto internal = HttpRequest(port_, "POST", "/-/reload");
  ASSERT_TRUE(internal);
  EXPECT_EQ(internal->status, 500);
  auto health = HttpGet(port_, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
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
