#include "probes/postgres/pg_tls_probe.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>

#include "config/config.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line) {
  auto config = ParseConfig(R"(
postgres:
  clusters:
    - name: pg
      defaults: { user: dbcanary }
      primary: { name: pg-1, host: 127.0.0.1 }
      standbys:
        - { name: pg-2, host: 127.0.0.1 }
      probes:
)" + probe_line + R"(
    - name: other
      defaults: { user: dbcanary }
      primary: { name: other-1, host: 127.0.0.1 }
poolers:
  - name: app-rw
    cluster: pg
    connection: { host: 127.0.0.1, port: 6432, dbname: app, user: app }
  - name: other-rw
    cluster: other
    connection: { host: 127.0.0.1, port: 6433, dbname: app, user: app }
)",
                            "test.yaml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return std::make_shared<const Config>();
  }
  return *config;
}

Result<std::unique_ptr<Probe>> Create(const Config& config) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  return registry.Create(config.postgres_clusters.at(0).probes.at(0), config);
}

TEST(PgTlsProbeTest, FactoryAcceptsParams) {
  auto probe = Create(*Load(
      "        pg_tls: { poolers: [app-rw], require_tls: false, expect: { min_cert_validity: 720h "
      "} }"));
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 4u);
  EXPECT_TRUE(Create(*Load("        pg_tls: {}")));
}

TEST(PgTlsProbeTest, FactoryIsStrict) {
  struct Case {
    std::string line;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"        pg_tls: { poolers: [other-rw] }", "no pooler \"other-rw\" of cluster \"pg\""},
           {"        pg_tls: { poolers: [nope] }", "no pooler \"nope\""},
           {"        pg_tls: { expect: { min_cert_validity: 30 } }", "min_cert_validity"},
           {"        pg_tls: { expect: { min_validity: 1h } }", "expect.min_validity"},
           {"        pg_tls: { require_tls: maybe }", "require_tls"},
           {"        pg_tls: { sslmode: require }", "pg_tls.sslmode"},
       }) {
    auto probe = Create(*Load(c.line));
    ASSERT_FALSE(probe) << c.line;
    EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
    EXPECT_NE(probe.error().message.find(c.message), std::string::npos)
        << c.line << " -> " << probe.error().message;
  }
}

TEST(PgTlsProbeTest, Asn1TimeToUnixSecondsReadsBothForms) {
  ASN1_TIME* time = ASN1_TIME_new();
  ASSERT_TRUE(ASN1_TIME_set_string(time, "270101000000Z"));  // UTCTime
  EXPECT_EQ(Asn1TimeToUnixSeconds(time), 1798761600.0);
  ASSERT_TRUE(ASN1_TIME_set_string(time, "20500101000030Z"));  // GeneralizedTime
  EXPECT_EQ(Asn1TimeToUnixSeconds(time), 2524608030.0);
  ASN1_TIME_free(time);
  EXPECT_FALSE(Asn1TimeToUnixSeconds(nullptr));
}

const ExpectationResult* Find(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

TEST(PgTlsProbeTest, ReportsPlaintextAndValidity) {
  TlsFacts plain;
  plain.server = "app-rw";
  plain.connected = true;
  ProbeResult result;
  ReportTls("pg", plain, true, std::chrono::hours(720), 1000, result);
  ASSERT_NE(Find(result, "tls_required"), nullptr);
  EXPECT_FALSE(Find(result, "tls_required")->pass);
  EXPECT_EQ(Find(result, "min_cert_validity_seconds"), nullptr);  // no certificate
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].name, kTlsNegotiated);
  EXPECT_EQ(result.samples[0].value, 0);

  TlsFacts tls;
  tls.server = "pg-1";
  tls.connected = true;
  tls.negotiated = true;
  tls.version = "TLSv1.3";
  tls.cert_not_after = 1000 + 100 * 3600.0;
  ProbeResult short_result;
  ReportTls("pg", tls, true, std::chrono::hours(720), 1000, short_result);
  EXPECT_TRUE(Find(short_result, "tls_required")->pass);
  EXPECT_FALSE(Find(short_result, "min_cert_validity_seconds")->pass);
  EXPECT_EQ(Find(short_result, "min_cert_validity_seconds")->observed, 100 * 3600.0);
  EXPECT_EQ(short_result.samples.size(), 3u);  // negotiated, version, cert (no CA)
}

TEST(PgTlsProbeTest, HandshakeFailureCountsAgainstTlsRequiredOnly) {
  TlsFacts refused;
  refused.server = "pg-1";
  refused.error = ErrorCode::kTls;
  ProbeResult result;
  ReportTls("pg", refused, true, std::nullopt, 0, result);
  ASSERT_EQ(result.expectations.size(), 1u);
  EXPECT_FALSE(result.expectations[0].pass);
  EXPECT_TRUE(result.samples.empty());

  TlsFacts unreachable;
  unreachable.server = "pg-2";
  unreachable.error = ErrorCode::kConnect;
  ProbeResult other;
  ReportTls("pg", unreachable, true, std::nullopt, 0, other);
  EXPECT_TRUE(other.expectations.empty());

  ProbeResult not_required;
  ReportTls("pg", refused, false, std::nullopt, 0, not_required);
  EXPECT_TRUE(not_required.expectations.empty());
}

}  // namespace
}  // namespace dbcanary
