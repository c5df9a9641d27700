#pragma once

// The web configuration file (--web.config.file), in the format of the Prometheus
// exporter-toolkit: TLS for the listener and basic-auth users with bcrypt hashes.
//
//   tls_server_config:
//     cert_file: /etc/dbcanary/tls/tls.crt     # PEM, certificate (chain)
//     key_file: /etc/dbcanary/tls/tls.key      # PEM, private key
//     client_auth_type: RequireAndVerifyClientCert  # default NoClientCert
//     client_ca_file: /etc/dbcanary/tls/ca.crt # needed by the Verify* modes
//     min_version: TLS13                       # TLS12 (default) or TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...                   # bcrypt hash
//
// See docs/web-security.md.

#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dbcanary {

enum class ClientAuth {
  kNoClientCert,                // no certificate asked for
  kRequestClientCert,           // asked for, not required, not verified
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // not required; verified against client_ca_file if sent
  kRequireAndVerifyClientCert,  // required and verified against client_ca_file
};

enum class TlsVersion { kTls12, kTls13 };

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  std::string client_ca_file;  // empty: none
  TlsVersion min_version = TlsVersion::kTls12;
};

struct WebConfig {
  std::string source;                  // the file name, for messages
  std::optional<TlsServerConfig> tls;  // absent: plain HTTP
  // user -> bcrypt hash; empty: no authentication. Never logged.
  std::map<std::string, std::string, std::less<>> basic_auth_users;
};

// Parses the YAML text of a web config file strictly (unknown keys are errors). Errors
// are kConfig, "SOURCE:LINE:COLUMN: key.path: what is wrong", and never contain a hash.
Result<WebConfig> ParseWebConfig(const std::string& text, const std::string& source);
// Reads and parses `path`; also checks that the files it names can be opened.
Result<WebConfig> LoadWebConfigFile(const std::string& path);

// Sets up an OpenSSL server context from `tls`: certificate chain and key (checked to
// match), minimum protocol version, client CA list and verification mode. Errors are
// kConfig and name the file and OpenSSL's reason.
Status ConfigureTlsContext(ssl_ctx_st* context, const TlsServerConfig& tls);

// Compares without an early exit, so the time taken does not depend on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// True when `password` matches the crypt(3) hash `hash` (bcrypt $2a$/$2b$/$2y$ here),
// verified with libxcrypt's crypt_rn; false for a malformed hash.
bool VerifyCryptHash(std::string_view password, const std::string& hash);

// The user and password of an "Authorization: Basic BASE64" header value.
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header);

// Checks basic-auth credentials against the configured bcrypt hashes. bcrypt is slow on
// purpose (tens of ms per check), so successful checks are remembered: the cache holds
// SHA-256(user, password, hash) digests only, at most `cache_limit` of them (the oldest
// goes first), and is searched in full with constant-time compares. A failed check is
// never cached; an unknown user costs one bcrypt too, so timing does not tell which
// users exist. Thread-safe.
class BasicAuthenticator {
 public:
  explicit BasicAuthenticator(std::map<std::string, std::string, std::less<>> users,
                              size_t cache_limit = 256);

  bool Check(std::string_view user, std::string_view password);
  // Check() on the value of an Authorization header; false when it is not Basic.
  bool CheckHeader(std::string_view authorization);

  // How many bcrypt verifications ran (for tests and docs).
  size_t bcrypt_runs() const;
  size_t cached() const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Key(std::string_view user, std::string_view password, const std::string& hash);

  const std::map<std::string, std::string, std::less<>> users_;
  const size_t cache_limit_;
  mutable std::mutex mutex_;
  std::deque<Digest> cache_;  // guarded by mutex_
  size_t bcrypt_runs_ = 0;    // guarded by mutex_
};

}  // namespace dbcanary
