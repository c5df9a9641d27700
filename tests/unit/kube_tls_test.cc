// The Kubernetes API client over HTTPS: CA verification (kubeconfig certificate-authority and
// -data, in-cluster ca.crt), a wrong CA refused as kTls naming the server, and client
// certificates from a kubeconfig (files and -data) presented to a server that asks for them.
// HTTPS comes from tests/fake_kube/tls_terminator.h in front of the plain-HTTP FakeKube.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "clients/kube/client.h"
#include "clients/kube/credentials.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/fake_kube/tls_terminator.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary::kube {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using dbcanary::testing::TestPki;
using dbcanary::testing::TlsTerminator;
using std::chrono::milliseconds;

const Resource kBackups{"postgresql.cnpg.io", "v1", "backups", "db"};
const char* kBackupsPath = "/apis/postgresql.cnpg.io/v1/namespaces/db/backups";
const char* kToken = "tls-test-token";
const char* kCertUserToken = "identity-of-client-certificate";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Base64(const std::string& data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i < data.size()) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int PortOf(const FakeKube& fake) {
  const std::string url = fake.url();
  return std::stoi(url.substr(url.rfind(':') + 1));
}

class KubeTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pki_ = new TestPki(TestPki::Make(dir_->path()));
    fake_ = new FakeKube();
    tls_ = new TlsTerminator(PortOf(*fake_), pki_->server_cert, pki_->server_key);
    mtls_ = new TlsTerminator(PortOf(*fake_), pki_->server_cert, pki_->server_key, pki_->ca_cert,
                              kCertUserToken);
  }
  static void TearDownTestSuite() {
    delete mtls_;
    delete tls_;
    delete fake_;
    delete pki_;
    delete dir_;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken(kToken);
    fake_->SetFixture(kBackupsPath, "backups-empty.json");
  }

  // A kubeconfig in the suite's directory; `cluster` and `user` are inline YAML maps.
  std::string Kubeconfig(const std::string& name, const std::string& cluster,
                         const std::string& user) const {
    return dir_->Write(name,
                       "current-context: c\nclusters: [{ name: k, cluster: " + cluster +
                           " }]\nusers: [{ name: u, user: " + user +
                           " }]\ncontexts: [{ name: c, context: { cluster: k, user: u } }]\n");
  }

  static Result<nlohmann::json> ListWith(const Credentials& credentials) {
    return Client(credentials, milliseconds(3000))
        .List(kBackups, "", Deadline::In(milliseconds(3000)));
  }

  static TempDir* dir_;
  static TestPki* pki_;
  static FakeKube* fake_;
  static TlsTerminator* tls_;
  static TlsTerminator* mtls_;
};
TempDir* KubeTlsTest::dir_ = nullptr;
TestPki* KubeTlsTest::pki_ = nullptr;
FakeKube* KubeTlsTest::fake_ = nullptr;
TlsTerminator* KubeTlsTest::tls_ = nullptr;
TlsTerminator* KubeTlsTest::mtls_ = nullptr;

// Pins: kubeconfig certificate-authority (a path relative to the kubeconfig) is the trust anchor.
TEST_F(KubeTlsTest, KubeconfigCaFileVerifiesTheServer) {
  auto path = Kubeconfig("ca-file.yaml",
                         "{ server: \"" + tls_->url() + "\", certificate-authority: ca.crt }",
                         std::string("{ token: ") + kToken + " }");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->ca_file, pki_->ca_cert);
  const int before = tls_->Handshakes();
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_TRUE((*list)["items"].empty());
  EXPECT_EQ(tls_->Handshakes(), before + 1);  // it really went over TLS
  EXPECT_EQ(fake_->Requests().size(), 1u);
}

// Pins: certificate-authority-data (base64 PEM) is decoded and used as the trust anchor.
TEST_F(KubeTlsTest, KubeconfigCaDataVerifiesTheServer) {
  auto path = Kubeconfig("ca-data.yaml",
                         "{ server: \"" + tls_->url() + "\", certificate-authority-data: " +
                             Base64(ReadFile(pki_->ca_cert)) + " }",
                         std::string("{ token: ") + kToken + " }");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_TRUE(credentials->ca_file.empty());
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
}

// Pins: in-cluster mode trusts the mounted ca.crt and sends the mounted token over HTTPS.
TEST_F(KubeTlsTest, InClusterCaCrtVerifiesTheServer) {
  InClusterPaths paths;
  paths.token_file = dir_->Write("sa-token", std::string(kToken) + "\n");
  paths.ca_file = pki_->ca_cert;
  paths.host_env = "DBCANARY_TEST_TLS_KUBE_HOST";
  paths.port_env = "DBCANARY_TEST_TLS_KUBE_PORT";
  ::setenv("DBCANARY_TEST_TLS_KUBE_HOST", "127.0.0.1", 1);
  ::setenv("DBCANARY_TEST_TLS_KUBE_PORT", std::to_string(tls_->port()).c_str(), 1);
  auto credentials = InClusterCredentials(paths);
  ::unsetenv("DBCANARY_TEST_TLS_KUBE_HOST");
  ::unsetenv("DBCANARY_TEST_TLS_KUBE_PORT");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_EQ(credentials->server, tls_->url());
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
}

// Pins: a server whose certificate does not chain to the configured CA is refused with kTls,
// the message names the server, and the token is never sent (no request reaches the fake).
TEST_F(KubeTlsTest, WrongCaIsRefusedAsTlsErrorNamingTheServer) {
  for (const std::string& ca_file : {pki_->other_ca_cert, std::string()}) {
    SCOPED_TRACE(ca_file.empty() ? "system trust store" : "other CA");
    Credentials credentials;
    credentials.server = tls_->url();
    credentials.token = kToken;
    credentials.ca_file = ca_file;
    auto list = ListWith(credentials);
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().code, ErrorCode::kTls) << list.error().message;
    EXPECT_NE(list.error().message.find("kubernetes API " + tls_->url()), std::string::npos)
        << list.error().message;
    EXPECT_NE(list.error().message.find("TLS failed"), std::string::npos) << list.error().message;
    EXPECT_EQ(list.error().message.find(kToken), std::string::npos);
  }
  EXPECT_TRUE(fake_->Requests().empty());
}

// Pins: insecure-skip-tls-verify (explicit opt-in) accepts a server the CA would refuse.
TEST_F(KubeTlsTest, InsecureSkipVerifyIsHonoured) {
  auto path = Kubeconfig("insecure.yaml",
                         "{ server: \"" + tls_->url() + "\", insecure-skip-tls-verify: true }",
                         std::string("{ token: ") + kToken + " }");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_TRUE(credentials) << credentials.error().message;
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
}

// Pins: client-certificate/client-key files from the kubeconfig are presented (the server
// requires one); the request is authenticated by the certificate alone (no token).
TEST_F(KubeTlsTest, ClientCertificateFilesArePresented) {
  fake_->SetToken(kCertUserToken);
  auto path = Kubeconfig("cert-files.yaml",
                         "{ server: \"" + mtls_->url() + "\", certificate-authority: ca.crt }",
                         "{ client-certificate: client.crt, client-key: client.key }");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_TRUE(credentials->token.empty());
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_NE(mtls_->LastClientSubject().find("CN=dbcanary"), std::string::npos)
      << mtls_->LastClientSubject();
}

// Pins: the client-certificate-data/client-key-data variants are decoded and presented.
TEST_F(KubeTlsTest, ClientCertificateDataIsPresented) {
  fake_->SetToken(kCertUserToken);
  auto path = Kubeconfig("cert-data.yaml",
                         "{ server: \"" + mtls_->url() + "\", certificate-authority-data: " +
                             Base64(ReadFile(pki_->ca_cert)) + " }",
                         "{ client-certificate-data: " + Base64(ReadFile(pki_->client_cert)) +
                             ", client-key-data: " + Base64(ReadFile(pki_->client_key)) + " }");
  auto credentials = KubeconfigCredentials(path, "");
  ASSERT_TRUE(credentials) << credentials.error().message;
  EXPECT_TRUE(credentials->client_cert_file.empty());
  auto list = ListWith(*credentials);
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_NE(mtls_->LastClientSubject().find("O=dbcanary-readers"), std::string::npos)
      << mtls_->LastClientSubject();
}

// Pins: a client certificate from a CA the server does not trust fails the handshake; the
// server's TLS alert is reported as kTls naming the server, not as a malformed answer.
TEST_F(KubeTlsTest, UntrustedClientCertificateIsTlsError) {
  fake_->SetToken(kCertUserToken);
  Credentials credentials;
  credentials.server = mtls_->url();
  credentials.ca_file = pki_->ca_cert;
  credentials.client_cert_file = pki_->stranger_cert;
  credentials.client_key_file = pki_->stranger_key;
  auto list = ListWith(credentials);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kTls) << list.error().message;
  EXPECT_NE(list.error().message.find("kubernetes API " + mtls_->url()), std::string::npos)
      << list.error().message;
  EXPECT_TRUE(fake_->Requests().empty());
}

// Pins: without a client certificate (and no token) the request is not authenticated: 401,
// so the passing certificate tests really were authenticated by the certificate.
TEST_F(KubeTlsTest, NoClientCertificateIsUnauthorized) {
  fake_->SetToken(kCertUserToken);
  Credentials credentials;
  credentials.server = mtls_->url();
  credentials.ca_file = pki_->ca_cert;
  auto list = ListWith(credentials);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kAuth) << list.error().message;
  EXPECT_NE(list.error().message.find("401"), std::string::npos) << list.error().message;
  EXPECT_EQ(mtls_->LastClientSubject(), "");
}

}  // namespace
}  // namespace dbcanary::kube
