#include "probes/postgres/pg_tls_probe.h"

#include <openssl/asn1.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <ctime>
#include <utility>

#include "probes/postgres/pg_topology_source.h"

namespace dbcanary {
namespace {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class PgTlsProbe final : public Probe {
 public:
  PgTlsProbe(std::string target, std::shared_ptr<PgTopologySource> topology,
             std::vector<PgEndpoint> poolers, bool require_tls,
             std::optional<std::chrono::seconds> min_validity)
      : target_(std::move(target)),
        topology_(std::move(topology)),
        poolers_(std::move(poolers)),
        require_tls_(require_tls),
        min_validity_(min_validity) {}

  const std::vector<MetricDesc>& Describe() const override { return TlsMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    // Every member as the cluster has them now (discovered ones included), whatever its role.
    auto topology = topology_->Current(ctx);
    if (!topology) {
      result.Fail(topology.error());
      return result;
    }
    std::vector<PgEndpoint> endpoints;
    for (const auto& member : (*topology)->members) endpoints.push_back(member.endpoint);
    if ((*topology)->read_write) endpoints.push_back(*(*topology)->read_write);
    endpoints.insert(endpoints.end(), poolers_.begin(), poolers_.end());
    std::optional<Error> first_error;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const PgEndpoint& endpoint = endpoints[i];
      // A fair share of what is left, so one hung endpoint cannot starve the others.
      const Deadline deadline =
          Deadline::In(ctx.deadline.Remaining() / static_cast<int64_t>(endpoints.size() - i));
      TlsFacts facts;
      facts.server = endpoint.name;
      // No startup options: PgBouncer refuses ones it does not know, and no query is sent.
      auto session = PgSession::Connect(endpoint, PgConnectOptions{}, deadline, ctx.stop);
      if (session) {
        facts.connected = true;
        facts.negotiated = session->TlsInUse();
        if (facts.negotiated) {
          facts.version = session->SslAttribute("protocol");
          ReadPeerCertificates(session->SslStruct("OpenSSL"), facts);
        }
        session->Close();
      } else {
        facts.error = session.error().code;
        if (!first_error) first_error = session.error();
      }
      ReportTls(target_, facts, require_tls_, min_validity_, UnixNow(), result);
    }
    // Every endpoint is a measurement: a refused handshake (kTls) or an unreachable endpoint
    // fails the run, after the others were still measured.
    if (first_error) {
      result.Fail(*first_error);
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  std::string target_;
  std::shared_ptr<PgTopologySource> topology_;
  std::vector<PgEndpoint> poolers_;
  bool require_tls_;
  std::optional<std::chrono::seconds> min_validity_;
};

}  // namespace

const std::vector<MetricDesc>& TlsMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kTlsNegotiated), "Whether the connection to the endpoint negotiated TLS (1/0).",
       MetricType::kGauge},
      {std::string(kTlsVersionInfo), "Always 1; label version is the negotiated TLS protocol.",
       MetricType::kGauge},
      {std::string(kTlsCertNotAfter),
       "notAfter of the endpoint's server certificate, Unix seconds.", MetricType::kGauge},
      {std::string(kTlsCaNotAfter),
       "notAfter of the CA at the top of the endpoint's certificate chain, Unix seconds.",
       MetricType::kGauge},
  };
  return descs;
}

std::optional<double> Asn1TimeToUnixSeconds(const asn1_string_st* time) {
  if (time == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  const time_t seconds = timegm(&tm);  // ASN1 times are UTC
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<double>(seconds);
}

void ReadPeerCertificates(void* handle, TlsFacts& facts) {
  SSL* ssl = static_cast<SSL*>(handle);
  if (ssl == nullptr) return;
  // SSL_get0_peer_certificate does not take a reference (OpenSSL 3).
  const X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf != nullptr) facts.cert_not_after = Asn1TimeToUnixSeconds(X509_get0_notAfter(leaf));
  // The CA: the top of the chain verified against sslrootcert (verify-ca/verify-full), else the
  // last certificate the server sent beyond its own. Absent when neither has one.
  const X509* ca = nullptr;
  STACK_OF(X509)* verified = SSL_get0_verified_chain(ssl);
  if (verified != nullptr && sk_X509_num(verified) > 1) {
    ca = sk_X509_value(verified, sk_X509_num(verified) - 1);
  } else {
    STACK_OF(X509)* sent = SSL_get_peer_cert_chain(ssl);
    if (sent != nullptr && sk_X509_num(sent) > 1) ca = sk_X509_value(sent, sk_X509_num(sent) - 1);
  }
  if (ca != nullptr) facts.ca_not_after = Asn1TimeToUnixSeconds(X509_get0_notAfter(ca));
}

void ReportTls(const std::string& target, const TlsFacts& facts, bool require_tls,
               std::optional<std::chrono::seconds> min_validity, double now, ProbeResult& result) {
  const Labels labels = {{"target", target}, {"server", facts.server}};
  if (facts.connected) {
    result.Add(std::string(kTlsNegotiated), labels, facts.negotiated ? 1 : 0);
    if (facts.negotiated && !facts.version.empty()) {
      result.Add(std::string(kTlsVersionInfo),
                 {{"target", target}, {"server", facts.server}, {"version", facts.version}}, 1);
    }
    if (facts.cert_not_after)
      result.Add(std::string(kTlsCertNotAfter), labels, *facts.cert_not_after);
    if (facts.ca_not_after) result.Add(std::string(kTlsCaNotAfter), labels, *facts.ca_not_after);
  }
  if (require_tls) {
    // Without a connection only a refused handshake says something about TLS.
    if (facts.connected || facts.error == ErrorCode::kTls) {
      auto check = ExpectText(
          "tls_required", facts.server,
          facts.negotiated ? "tls" : (facts.connected ? "plaintext" : "handshake failed"), "tls");
      check.threshold = 1;
      result.expectations.push_back(std::move(check));
    }
  }
  if (min_validity && facts.cert_not_after) {
    result.expectations.push_back(ExpectNumber("min_cert_validity_seconds", facts.server,
                                               *facts.cert_not_after - now,
                                               ">=", static_cast<double>(min_validity->count())));
  }
}

Result<std::unique_ptr<Probe>> CreatePgTlsProbe(const ProbeSettings& settings,
                                                const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const PostgresCluster* cluster = config.FindCluster(settings.target);
    bool require_tls = true;
    std::optional<std::chrono::seconds> min_validity;
    std::optional<std::vector<std::string>> pooler_names;
    if (settings.params) {
      require_tls = settings.params->Bool("require_tls").value_or(true);
      if (settings.params->Has("poolers")) pooler_names = settings.params->ListOfStrings("poolers");
      if (auto expect = settings.params->Map("expect")) {
        if (auto validity = expect->Duration("min_cert_validity")) {
          min_validity = std::chrono::duration_cast<std::chrono::seconds>(*validity);
        }
        expect->Finish();
      }
      if (cluster != nullptr && pooler_names) {
        for (const auto& name : *pooler_names) {
          const Pooler* pooler = config.FindPooler(name);
          if (pooler == nullptr || pooler->cluster != cluster->name) {
            settings.params->Fail("poolers", "pg_tls: no pooler \"" + name + "\" of cluster \"" +
                                                 cluster->name + "\"");
          }
        }
      }
      settings.params->Finish();
    }
    // Only now: an error in the params is the one to report first.
    RequireTarget(settings, cluster, "pg_tls: no postgres cluster");
    std::vector<PgEndpoint> endpoints;
    if (pooler_names) {
      for (const auto& name : *pooler_names)
        endpoints.push_back(config.FindPooler(name)->connection);
    } else {
      for (const auto& pooler : config.poolers) {
        if (pooler.cluster == cluster->name) endpoints.push_back(pooler.connection);
      }
    }
    return std::unique_ptr<Probe>(
        std::make_unique<PgTlsProbe>(cluster->name, PgTopologySource::For(*cluster, config),
                                     std::move(endpoints), require_tls, min_validity));
  });
}

}  // namespace dbcanary
