// clients/http: the one libcurl wrapper (Perform, PostForm) against the in-process fake API
// server of tests/fake_kube (plain HTTP, bearer-token check, canned answers).

#include "clients/http/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "config/secret.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary::http {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using std::chrono::milliseconds;

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new FakeKube(); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken("http-test-token");
  }
  static Request Get(const std::string& path) {
    Request request;
    request.url = fake_->url() + path;
    request.label = "GET " + path;
    request.bearer_token = "http-test-token";
    return request;
  }
  static Deadline Soon() { return Deadline::In(milliseconds(2000)); }
  static FakeKube* fake_;
};
FakeKube* HttpClientTest::fake_ = nullptr;

TEST_F(HttpClientTest, AnyStatusIsAResponseWithItsBody) {
  fake_->SetBody("/ok", R"({"fine":true})");
  auto ok = Perform(Get("/ok"), Soon());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, R"({"fine":true})");
  auto missing = Perform(Get("/nope"), Soon());
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("could not find"), std::string::npos);
}

TEST_F(HttpClientTest, SendsMethodHeadersAndBody) {
  fake_->Set("/things", FakeKube::Route{201, "{}"});
  Request request = Get("/things");
  request.method = "POST";
  request.headers = {"Content-Type: application/json"};
  request.body = R"({"kind":"Thing"})";
  auto created = Perform(request, Soon());
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status, 201);
  request.method = "DELETE";
  request.body.reset();
  ASSERT_TRUE(Perform(request, Soon()));
  ASSERT_EQ(fake_->Requests().size(), 2u);
  EXPECT_EQ(fake_->Requests()[0], "POST /things");
  EXPECT_EQ(fake_->RequestBodies()[0], R"({"kind":"Thing"})");
  EXPECT_EQ(fake_->Requests()[1], "DELETE /things");
}

TEST_F(HttpClientTest, BearerTokenFileIsReadOnEveryRequestAndWins) {
  TempDir dir;
  fake_->SetBody("/ok", "{}");
  Request request = Get("/ok");
  request.bearer_token = "static-but-stale";
  request.bearer_token_file = dir.Write("token", "http-test-token\n");
  auto ok = Perform(request, Soon());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(RedactSecrets("x http-test-token x"), "x <redacted> x");  // registered as secret
  request.bearer_token_file = dir.path() + "/absent";
  auto unreadable = Perform(request, Soon());
  ASSERT_FALSE(unreadable);
  EXPECT_EQ(unreadable.error().code, ErrorCode::kAuth);
  EXPECT_EQ(unreadable.error().message,
            "GET /ok: cannot read the bearer token file " + dir.path() + "/absent");
  EXPECT_EQ(fake_->Requests().size(), 1u);  // nothing sent without the token
}

TEST_F(HttpClientTest, TimeLimitsComeFromTheDeadlineAndTheTimeout) {
  fake_->Set("/slow", FakeKube::Route{200, "{}", milliseconds(3000)});
  auto started = std::chrono::steady_clock::now();
  auto late = Perform(Get("/slow"), Deadline::In(milliseconds(300)));
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kTimeout) << late.error().message;
  EXPECT_LT(elapsed, 1.0);
  Request capped = Get("/slow");
  capped.timeout = milliseconds(200);
  auto capped_late = Perform(capped, Soon());
  ASSERT_FALSE(capped_late);
  EXPECT_EQ(capped_late.error().code, ErrorCode::kTimeout);
  EXPECT_NE(capped_late.error().message.find("within 200ms"), std::string::npos)
      << capped_late.error().message;
  auto none = Perform(Get("/slow"), Deadline::In(milliseconds(0)));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(none.error().message, "GET /slow: no time left before the deadline");
}

// Answers `reply` to the first connection on a loopback port, then closes it.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("OneShotServer: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      char buffer[4096];
      (void)::recv(connection, buffer, sizeof(buffer), 0);
      (void)::send(connection, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(connection);
    });
  }
  ~OneShotServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  std::string reply_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(HttpClientTest, TruncatedOrOversizedAnswersAreProtocolErrors) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  Request cut_request;
  cut_request.url = server.url();
  cut_request.label = "GET cut";
  auto cut = Perform(cut_request, Soon());
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kProtocol) << cut.error().message;
  EXPECT_NE(cut.error().message.find("GET cut: truncated or malformed answer"), std::string::npos)
      << cut.error().message;
  fake_->SetBody("/big", std::string(4000, 'x'));
  Request request = Get("/big");
  request.max_body = 1000;
  auto big = Perform(request, Soon());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kProtocol);
  EXPECT_EQ(big.error().message, "GET /big: answer larger than 1000 bytes");
}

TEST_F(HttpClientTest, RefusedConnectionIsConnectErrorWithErrno) {
  Request request;
  request.url = "http://127.0.0.1:1/";
  request.label = "GET refused";
  auto refused = Perform(request, Soon());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConnect) << refused.error().message;
  EXPECT_EQ(refused.error().cause.system_errno, ECONNREFUSED);
  EXPECT_EQ(refused.error().cause.http_status, 0);
}

TEST_F(HttpClientTest, StatusErrorCarriesTheStatus) {
  Error error = StatusError(ErrorCode::kQuery, 404, "not found (404)");
  EXPECT_EQ(error.code, ErrorCode::kQuery);
  EXPECT_EQ(error.message, "not found (404)");
  EXPECT_EQ(error.cause.http_status, 404);
}

TEST_F(HttpClientTest, PostFormSendsTheFormAndMapsOnly401And403) {
  TempDir dir;
  HttpEndpoint endpoint;
  endpoint.url = fake_->url() + "/prefix";
  endpoint.bearer_token_file = dir.Write("token", "http-test-token");
  fake_->Set("/prefix/api/v1/query", FakeKube::Route{400, R"({"status":"error"})"});
  auto answer = PostForm(endpoint, "/api/v1/query", {{"query", "up == 1"}}, Soon(), 1 << 20);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 400);  // the caller interprets it
  EXPECT_EQ(answer->body, R"({"status":"error"})");
  ASSERT_EQ(fake_->Requests().size(), 1u);
  EXPECT_EQ(fake_->Requests()[0], "POST /prefix/api/v1/query");
  EXPECT_EQ(fake_->RequestBodies()[0], "query=up%20%3D%3D%201");

  endpoint.bearer_token_file.clear();
  endpoint.username = "alice";
  endpoint.password = Secret("open sesame", "test");
  auto refused = PostForm(endpoint, "/api/v1/query", {}, Soon(), 1 << 20);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAuth);
  EXPECT_EQ(refused.error().cause.http_status, 401);
  EXPECT_EQ(refused.error().message,
            "POST " + endpoint.url + "/api/v1/query: HTTP 401: credentials missing or refused");
  // The Authorization header's base64 form of user:password is a secret too.
  EXPECT_EQ(RedactSecrets("YWxpY2U6b3BlbiBzZXNhbWU="), "<redacted>");
}

TEST(HttpHelpersTest, PercentEncodesAllButUnreserved) {
  EXPECT_EQ(PercentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(PercentEncode("cnpg.io/cluster=pg main"), "cnpg.io%2Fcluster%3Dpg%20main");
  EXPECT_EQ(PercentEncode("\xff"), "%FF");
  EXPECT_EQ(EncodeForm({{"a b", "c&d"}, {"e", ""}}), "a%20b=c%26d&e=");
}

}  // namespace
}  // namespace dbcanary::http
