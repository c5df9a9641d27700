// The Kubernetes API client against the in-process fake API server (tests/fake_kube), plus
// credentials loading and timestamp parsing.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "clients/kube/client.h"
#include "clients/kube/credentials.h"
#include "clients/kube/time.h"
#include "config/secret.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary::kube {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using std::chrono::milliseconds;

const Resource kBackups{"postgresql.cnpg.io", "v1", "backups", "db"};
const char* kBackupsPath = "/apis/postgresql.cnpg.io/v1/namespaces/db/backups";

TEST(KubeTimeTest, ParsesRfc3339Variants) {
  EXPECT_EQ(ParseRfc3339("2026-11-25T03:06:41Z"), 1795576001.0);
  EXPECT_EQ(ParseRfc3339("2026-11-25T05:06:41+02:00"), 1795576001.0);
  EXPECT_DOUBLE_EQ(
      *ParseRfc3339("2026-07-30T10:11:12.250000Z") - *ParseRfc3339("2026-07-30T10:11:12Z"), 0.25);
  EXPECT_FALSE(ParseRfc3339("2026-11-25 03:06:41Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-25T03:06:41"));
  EXPECT_FALSE(ParseRfc3339("2026-02-30T03:06:41Z"));
  EXPECT_FALSE(ParseRfc3339(""));
}

TEST(KubeTimeTest, ParsesGoTimeString) {
  EXPECT_EQ(ParseGoTimeString("2026-10-30 12:00:00 +0000 UTC"), 1793361600.0);
  EXPECT_EQ(ParseGoTimeString("2026-10-30 14:00:00 +0200 CEST"), 1793361600.0);
  EXPECT_DOUBLE_EQ(*ParseGoTimeString("2026-10-30 12:00:00.5 +0000 UTC"), 1793361600.5);
  EXPECT_EQ(ParseGoTimeString("2026-10-30 12:00:00 +0000 UTC m=+3.5"), 1793361600.0);
  EXPECT_EQ(ParseGoTimeString("2026-10-30 17:30:00 +0530 +0530"), 1793361600.0);
  EXPECT_FALSE(ParseGoTimeString("2026-10-30T12:00:00Z"));
  EXPECT_FALSE(ParseGoTimeString("2026-10-30 12:00:00 UTC"));
  EXPECT_FALSE(ParseGoTimeString("soon"));
}

// Pins: kubeconfig *-data is base64 with padding optional and line breaks ignored; junk is kConfig.
TEST(KubeCredentialsTest, DecodesBase64Data) {
  TempDir dir;
  auto with_ca_data = [&](const std::string& data) {
    return KubeconfigCredentials(
        dir.Write("config",
                  "current-context: c\nclusters: [{ name: k, cluster: { server: "
                  "\"https://k\", certificate-authority-data: \"" +
                      data + "\" } }]\ncontexts: [{ name: c, context: { cluster: k } }]\n"),
        "");
  };
  auto padded = with_ca_data("aGVsbG8gd29ybGQ=");
  ASSERT_TRUE(padded) << padded.error().message;
  EXPECT_EQ(padded->ca_data, "hello world");
  auto wrapped = with_ca_data("aGVsbG8\\ngd29ybGQ");  // YAML "\n": a line break, no padding
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  EXPECT_EQ(wrapped->ca_data, "hello world");
  auto junk = with_ca_data("a*b");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code, ErrorCode::kConfig);
  EXPECT_NE(junk.error().message.find("certificate-authority-data is not base64"),
            std::string::npos)
      << junk.error().message;
}

TEST(KubeCredentialsTest, KubeconfigSelectsCurrentOrNamedContext) {
  TempDir dir;
  dir.Write("token", "file-token\n");
  std::string path = dir.Write("config", R"(
apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: prod-cluster
    cluster: { server: "https://10.0.0.1:6443/", certificate-authority-data: aGVsbG8= }
  - name: dev-cluster
    cluster: { server: "https://dev:6443", certificate-authority: ca.crt }
users:
  - name: prod-user
    user: { token: prod-secret-token }
  - name: dev-user
    user: { tokenFile: token, client-certificate-data: Y2VydA==, client-key-data: a2V5 }
contexts:
  - name: prod
    context: { cluster: prod-cluster, user: prod-user }
  - name: dev
    context: { cluster: dev-cluster, user: dev-user }
)");
  auto prod = KubeconfigCredentials(path, "");
  ASSERT_TRUE(prod) << prod.error().message;
  EXPECT_EQ(prod->server, "https://10.0.0.1:6443");
  EXPECT_EQ(prod->ca_data, "hello");
  EXPECT_EQ(prod->token, "prod-secret-token");
  auto dev = KubeconfigCredentials(path, "dev");
  ASSERT_TRUE(dev) << dev.error().message;
  EXPECT_EQ(dev->server, "https://dev:6443");
  EXPECT_EQ(dev->ca_file, dir.path() + "/ca.crt");
  EXPECT_EQ(dev->token_file, dir.path() + "/token");
  EXPECT_EQ(dev->client_cert_data, "cert");
  EXPECT_EQ(dev->client_key_data, "key");
  auto missing = KubeconfigCredentials(path, "staging");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  EXPECT_NE(missing.error().message.find("context staging"), std::string::npos);
}

TEST(KubeCredentialsTest, KubeconfigRefusesExecPlugins) {
  TempDir dir;
  std::string path = dir.Write("config", R"(
current-context: c
clusters: [{ name: k, cluster: { server: "https://k" } }]
users: [{ name: u, user: { exec: { command: aws } } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
)");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_FALSE(credentials);
  EXPECT_NE(credentials.error().message.find("exec"), std::string::npos);
}

TEST(KubeCredentialsTest, InClusterReadsEnvironmentAndTokenPath) {
  TempDir dir;
  InClusterPaths paths;
  paths.token_file = dir.Write("token", "sa-token");
  paths.ca_file = dir.path() + "/ca.crt";
  paths.host_env = "DBCANARY_TEST_KUBE_HOST";
  paths.port_env = "DBCANARY_TEST_KUBE_PORT";
  ::unsetenv("DBCANARY_TEST_KUBE_HOST");
  auto absent = InClusterCredentials(paths);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kConfig);
  ::setenv("DBCANARY_TEST_KUBE_HOST", "10.96.0.1", 1);
  ::setenv("DBCANARY_TEST_KUBE_PORT", "443", 1);
  auto credentials = InClusterCredentials(paths);
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, "https://10.96.0.1:443");
  EXPECT_EQ(credentials->token_file, paths.token_file);
  EXPECT_EQ(credentials->ca_file, paths.ca_file);
  ::unsetenv("DBCANARY_TEST_KUBE_HOST");
  ::unsetenv("DBCANARY_TEST_KUBE_PORT");
}

// The service-account token is a secret from the moment the credentials are loaded (a drill
// command's output or an error may carry it before the first API call reads the file).
TEST(KubeCredentialsTest, InClusterTokenIsRegisteredForRedactionAtLoad) {
  TempDir dir;
  InClusterPaths paths;
  paths.token_file = dir.Write("token", "eyJ-service-account-token-at-load\n");
  paths.ca_file = dir.path() + "/ca.crt";
  paths.host_env = "DBCANARY_TEST_KUBE_HOST";
  paths.port_env = "DBCANARY_TEST_KUBE_PORT";
  ::setenv("DBCANARY_TEST_KUBE_HOST", "10.96.0.1", 1);
  ::setenv("DBCANARY_TEST_KUBE_PORT", "443", 1);
  ASSERT_TRUE(InClusterCredentials(paths));
  ::unsetenv("DBCANARY_TEST_KUBE_HOST");
  ::unsetenv("DBCANARY_TEST_KUBE_PORT");
  EXPECT_EQ(RedactSecrets("token=eyJ-service-account-token-at-load"), "token=<redacted>");
}

class KubeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new FakeKube(); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken("good-token");
  }
  Client MakeClient(const std::string& token = "good-token") const {
    Credentials credentials;
    credentials.server = fake_->url();
    credentials.token = token;
    credentials.source = "test";
    return Client(credentials, milliseconds(5000));
  }
  static FakeKube* fake_;
};
FakeKube* KubeClientTest::fake_ = nullptr;

TEST_F(KubeClientTest, ListSendsLabelSelectorAndReturnsItems) {
  fake_->SetFixture(kBackupsPath, "backups.json");
  auto list =
      MakeClient().List(kBackups, "cnpg.io/cluster=pgmain", Deadline::In(milliseconds(2000)));
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ((*list)["items"].size(), 12u);
  auto requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0],
            std::string("GET ") + kBackupsPath + "?labelSelector=cnpg.io%2Fcluster%3Dpgmain");
}

TEST_F(KubeClientTest, GetCreateDeleteUseTheObjectPath) {
  fake_->SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain",
                    "cluster-healthy.json");
  fake_->Set(kBackupsPath, FakeKube::Route{201, R"({"kind":"Backup","metadata":{"name":"b1"}})"});
  fake_->SetBody(std::string(kBackupsPath) + "/b1", R"({"kind":"Status","status":"Success"})");
  auto client = MakeClient();
  auto cluster = client.Get(Resource{"postgresql.cnpg.io", "v1", "clusters", "db"}, "pgmain",
                            Deadline::In(milliseconds(2000)));
  ASSERT_TRUE(cluster) << cluster.error().message;
  EXPECT_EQ((*cluster)["status"]["currentPrimary"], "pgmain-1");
  auto created = client.Create(kBackups, {{"kind", "Backup"}}, Deadline::In(milliseconds(2000)));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ((*created)["metadata"]["name"], "b1");
  auto deleted = client.Delete(kBackups, "b1", Deadline::In(milliseconds(2000)));
  ASSERT_TRUE(deleted) << deleted.error().message;
  auto requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1], std::string("POST ") + kBackupsPath);
  EXPECT_EQ(requests[2], std::string("DELETE ") + kBackupsPath + "/b1");
}

TEST_F(KubeClientTest, WrongTokenIsAuthErrorWithoutTheToken) {
  fake_->SetFixture(kBackupsPath, "backups.json");
  auto list = MakeClient("stale-token-value").List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kAuth);
  EXPECT_EQ(list.error().cause.http_status, 401);
  EXPECT_NE(list.error().message.find("401"), std::string::npos) << list.error().message;
  EXPECT_EQ(list.error().message.find("stale-token-value"), std::string::npos);
}

TEST_F(KubeClientTest, ForbiddenNamesVerbResourceAndNamespace) {
  fake_->Set(kBackupsPath,
             FakeKube::Error(403, "Forbidden", "backups.postgresql.cnpg.io is forbidden"));
  auto list = MakeClient().List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kAuth);
  EXPECT_EQ(list.error().cause.http_status, 403);
  EXPECT_NE(list.error().message.find(
                "forbidden: cannot list backups.postgresql.cnpg.io in namespace db: grant verb "
                "\"list\" on resource \"backups\" (group postgresql.cnpg.io)"),
            std::string::npos)
      << list.error().message;
}

TEST_F(KubeClientTest, NotFoundAndServerErrorsAreQueryErrors) {
  auto missing = MakeClient().Get(kBackups, "nope", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kQuery);
  EXPECT_EQ(missing.error().cause.http_status, 404);
  EXPECT_NE(missing.error().message.find("not found (404)"), std::string::npos);
  EXPECT_NE(missing.error().message.find("backups.postgresql.cnpg.io db/nope"), std::string::npos)
      << missing.error().message;
  fake_->Set(kBackupsPath, FakeKube::Error(500, "InternalError", "etcdserver: request timed out"));
  auto failed = MakeClient().List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kQuery);
  EXPECT_EQ(failed.error().cause.http_status, 500);
  EXPECT_NE(failed.error().message.find("HTTP 500"), std::string::npos);
  EXPECT_NE(failed.error().message.find("etcdserver: request timed out"), std::string::npos);
}

TEST_F(KubeClientTest, SlowAnswerTimesOutAtTheDeadline) {
  fake_->Set(kBackupsPath,
             FakeKube::Route{200, FakeKube::Fixture("backups.json"), milliseconds(3000)});
  auto started = std::chrono::steady_clock::now();
  auto list = MakeClient().List(kBackups, "", Deadline::In(milliseconds(300)));
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kTimeout) << list.error().message;
  // Waited for the deadline (less the budget's whole-millisecond rounding)...
  EXPECT_GE(elapsed, 0.3 - 0.005);
  // ... and no longer: 1 s of room for a loaded host, still far below the 3 s answer and the
  // 5 s call timeout it would otherwise have waited for.
  EXPECT_LT(elapsed, 0.3 + 1.0);
  auto expired = MakeClient().List(kBackups, "", Deadline::In(milliseconds(0)));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kTimeout);
}

TEST_F(KubeClientTest, TruncatedOrMalformedJsonIsProtocolError) {
  fake_->Set(kBackupsPath,
             FakeKube::Route{200, FakeKube::Fixture("backups.json"), milliseconds(0), true});
  auto truncated = MakeClient().List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, ErrorCode::kProtocol) << truncated.error().message;
  fake_->SetBody(kBackupsPath, R"({"kind":"BackupList"})");
  auto no_items = MakeClient().List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(no_items);
  EXPECT_EQ(no_items.error().code, ErrorCode::kProtocol);
}

TEST_F(KubeClientTest, TokenFileIsReReadOnEveryRequest) {
  TempDir dir;
  fake_->SetFixture(kBackupsPath, "backups-empty.json");
  fake_->SetToken("token-one");
  std::string token_file = dir.Write("token", "token-one\n");
  Credentials credentials;
  credentials.server = fake_->url();
  credentials.token_file = token_file;
  Client client(credentials, milliseconds(5000));
  ASSERT_TRUE(client.List(kBackups, "", Deadline::In(milliseconds(2000))));
  fake_->SetToken("token-two");  // the kubelet rotated the projected token
  auto stale = client.List(kBackups, "", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kAuth);
  dir.Write("token", "token-two\n");
  auto fresh = client.List(kBackups, "", Deadline::In(milliseconds(2000)));
  EXPECT_TRUE(fresh) << fresh.error().message;
}

TEST_F(KubeClientTest, UnreachableServerIsConnectError) {
  Credentials credentials;
  credentials.server = "http://127.0.0.1:1";
  Client client(credentials, milliseconds(1000));
  auto list = client.List(kBackups, "", Deadline::In(milliseconds(1000)));
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kConnect) << list.error().message;
  EXPECT_EQ(list.error().cause.http_status, 0);
}

}  // namespace
}  // namespace dbcanary::kube
