// pg_tls against the local stack's real PostgreSQL instances and PgBouncer poolers (TLS on).

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "probes/postgres/pg_tls_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
const std::vector<std::string> kInstances = {"shared-postgres-1", "shared-postgres-2",
                                             "shared-postgres-3"};
const std::vector<std::string> kPoolers = {"gitlab-pooler-rw", "gitlab-pooler-ro",
                                           "harbor-pooler-rw", "keycloak-pooler-rw",
                                           "synergyflow-pooler-rw"};

// The stack's config with `probes: { pg_tls: PARAMS }` on the cluster.
std::shared_ptr<Config> StackConfigWith(const std::string& params) {
  YAML::Node root = YAML::LoadFile(Stack::Get().ConfigPath());
  for (YAML::Node cluster : root["postgres"]["clusters"]) {
    if (cluster["name"].as<std::string>() == kCluster)
      cluster["probes"]["pg_tls"] = YAML::Load(params);
  }
  auto config = ParseConfig(YAML::Dump(root), Stack::Get().ConfigPath());
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return std::make_shared<Config>(**config);
}

// notAfter of the PEM certificate at `path`, read with OpenSSL independently of the probe.
std::optional<double> PemNotAfter(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return std::nullopt;
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) return std::nullopt;
  int days = 0;
  int seconds = 0;
  std::optional<double> result;
  // Difference from the epoch (NULL "from" means now; so measure from a fixed epoch time).
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  if (ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert)) == 1) {
    result = static_cast<double>(days) * 86400.0 + seconds;
  }
  ASN1_TIME_free(epoch);
  X509_free(cert);
  return result;
}

class PgTlsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { DBCANARY_REQUIRE_STACK(); }

  std::unique_ptr<Probe> TlsProbe(const Config& config) {
    auto probe = testing::MakeProbe(config, "pg_tls", kCluster);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }
};

// Pins the exported expiry dates to the stack's real certificates, through verify-full + CA.
TEST_F(PgTlsIntegrationTest, VerifyFullReportsRealCertificateDates) {
  auto config = StackConfigWith("{expect: {min_cert_validity: 720h}}");
  ASSERT_NE(config, nullptr);
  ASSERT_EQ(config->FindCluster(kCluster)->instances.front().sslmode, "verify-full");
  auto probe = TlsProbe(*config);
  ASSERT_NE(probe, nullptr);
  std::vector<double> runs_ms;
  ProbeResult result;
  for (int i = 0; i < 5; ++i) {
    auto run = RunProbeOnce(*probe, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    result = std::move(run.result);
  }
  std::printf(
      "[ measure  ] pg_tls run: median %.2f ms, max %.2f ms over %zu runs "
      "(8 TLS connects, no query)\n",
      testing::Median(runs_ms), *std::max_element(runs_ms.begin(), runs_ms.end()), runs_ms.size());

  auto cert_not_after = PemNotAfter(Stack::Get().dir() + "/tls/server.crt");
  auto ca_not_after = PemNotAfter(Stack::Get().Env("DBCANARY_STACK_CA_CERT"));
  ASSERT_TRUE(cert_not_after);
  ASSERT_TRUE(ca_not_after);
  std::vector<std::string> servers = kInstances;
  servers.insert(servers.end(), kPoolers.begin(), kPoolers.end());
  for (const auto& server : servers) {
    Labels labels = {{"target", kCluster}, {"server", server}};
    EXPECT_EQ(FindSample(result, kTlsNegotiated, labels), 1) << server;
    EXPECT_EQ(FindSample(result, kTlsCertNotAfter, labels), *cert_not_after) << server;
    EXPECT_EQ(FindSample(result, kTlsCaNotAfter, labels), *ca_not_after) << server;
    auto version = FindSample(result, kTlsVersionInfo,
                              {{"target", kCluster}, {"server", server}, {"version", "TLSv1.3"}});
    EXPECT_EQ(version, 1) << server;
    const auto* required = FindExpectation(result, "tls_required", server);
    ASSERT_NE(required, nullptr) << server;
    EXPECT_TRUE(required->pass) << server;
    const auto* validity = FindExpectation(result, "min_cert_validity_seconds", server);
    ASSERT_NE(validity, nullptr) << server;
    EXPECT_TRUE(validity->pass) << server << ": " << validity->observed_text;
  }
}

// Pins min_cert_validity: a certificate valid for less than declared fails the expectation.
TEST_F(PgTlsIntegrationTest, ShortValidityFailsMinCertValidity) {
  // The stack's certificate is valid for 365 days; ask for more.
  auto config = StackConfigWith("{poolers: [], expect: {min_cert_validity: 9000h}}");
  ASSERT_NE(config, nullptr);
  auto probe = TlsProbe(*config);
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  EXPECT_FALSE(FindSample(run.result, kTlsNegotiated,
                          {{"target", kCluster}, {"server", "gitlab-pooler-rw"}}));
  const auto* validity = FindExpectation(run.result, "min_cert_validity_seconds", kInstances[0]);
  ASSERT_NE(validity, nullptr);
  EXPECT_FALSE(validity->pass);
  EXPECT_GT(validity->observed, 300 * 86400.0);
  EXPECT_EQ(validity->threshold, 9000 * 3600.0);
}

// Pins tls_required: a plaintext connection (pooler with client TLS "allow", sslmode=disable)
// fails the expectation without failing the run.
TEST_F(PgTlsIntegrationTest, PlaintextEndpointFailsTlsRequired) {
  auto config = StackConfigWith("{poolers: [gitlab-pooler-rw]}");
  ASSERT_NE(config, nullptr);
  for (auto& pooler : config->poolers) {
    if (pooler.name == "gitlab-pooler-rw") pooler.connection.sslmode = "disable";
  }
  auto probe = TlsProbe(*config);
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  Labels labels = {{"target", kCluster}, {"server", "gitlab-pooler-rw"}};
  EXPECT_EQ(FindSample(run.result, kTlsNegotiated, labels), 0);
  EXPECT_FALSE(FindSample(run.result, kTlsCertNotAfter, labels));
  const auto* required = FindExpectation(run.result, "tls_required", "gitlab-pooler-rw");
  ASSERT_NE(required, nullptr);
  EXPECT_FALSE(required->pass);
  EXPECT_EQ(required->observed_text, "plaintext");
  const auto* primary = FindExpectation(run.result, "tls_required", kInstances[0]);
  ASSERT_NE(primary, nullptr);
  EXPECT_TRUE(primary->pass);
}

// Pins verification: verify-full against a CA that did not sign the server fails with kTls.
TEST_F(PgTlsIntegrationTest, WrongCaFailsWithTlsError) {
  const std::string dir = "/tmp/pg-tls-test-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string ca = dir + "/wrong-ca.crt";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
      "'/CN=wrong CA' -keyout " +
      dir + "/wrong-ca.key -out " + ca + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto config = StackConfigWith("{poolers: []}");
  ASSERT_NE(config, nullptr);
  for (auto& cluster : config->postgres_clusters) {
    if (cluster.name == kCluster) cluster.instances.front().sslrootcert = ca;
  }
  auto probe = TlsProbe(*config);
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(run.result.error->code, ErrorCode::kTls) << run.result.error->message;
  const auto* required = FindExpectation(run.result, "tls_required", kInstances[0]);
  ASSERT_NE(required, nullptr);
  EXPECT_FALSE(required->pass);
  // The standbys, still with the right CA, were measured all the same.
  EXPECT_EQ(
      FindSample(run.result, kTlsNegotiated, {{"target", kCluster}, {"server", kInstances[1]}}), 1);
}

}  // namespace
}  // namespace dbcanary
