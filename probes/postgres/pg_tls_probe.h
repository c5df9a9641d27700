#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/probe.h"

// OpenSSL's time type, kept out of this header's includes.
struct asn1_string_st;

namespace dbcanary {

// Kind "pg_tls", target: a postgres.clusters[] entry. Each run opens one connection (no query)
// to every member (whatever its role now), the read_write endpoint and each pooler of the cluster,
// with that endpoint's own sslmode/sslrootcert, and reports whether TLS was negotiated, the
// protocol version and the notAfter of the server certificate and of its issuing CA
// (docs/probes/pg_tls.md). Params: poolers (list; default: every pooler whose `cluster` is this
// cluster), require_tls (default true), expect: { min_cert_validity: DURATION }.
Result<std::unique_ptr<Probe>> CreatePgTlsProbe(const ProbeSettings& settings,
                                                const Config& config);

inline constexpr std::string_view kTlsNegotiated = "dbcanary_tls_negotiated";
inline constexpr std::string_view kTlsVersionInfo = "dbcanary_tls_version_info";
inline constexpr std::string_view kTlsCertNotAfter =
    "dbcanary_tls_cert_not_after_timestamp_seconds";
inline constexpr std::string_view kTlsCaNotAfter = "dbcanary_tls_ca_not_after_timestamp_seconds";

// What one endpoint's handshake showed.
struct TlsFacts {
  std::string server;  // instance or pooler name
  bool connected = false;
  bool negotiated = false;
  std::string version;                   // "TLSv1.3"
  std::optional<double> cert_not_after;  // Unix seconds
  std::optional<double> ca_not_after;
  std::optional<ErrorCode> error;  // why it did not connect
};

const std::vector<MetricDesc>& TlsMetricDescs();

// An ASN1_TIME (UTCTime or GeneralizedTime) as Unix seconds; nullopt when malformed.
std::optional<double> Asn1TimeToUnixSeconds(const asn1_string_st* time);

// Certificate facts of an established connection: `ssl` is the SSL* of PQsslStruct.
void ReadPeerCertificates(void* ssl, TlsFacts& facts);

// Samples and expectations (`tls_required` when `require_tls`, `min_cert_validity_seconds` when
// declared; target = server) of one endpoint of cluster `target`. `now` is Unix seconds.
void ReportTls(const std::string& target, const TlsFacts& facts, bool require_tls,
               std::optional<std::chrono::seconds> min_validity, double now, ProbeResult& result);

}  // namespace dbcanary
