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
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dbcanary {

class LowPriorityThread;  // web_config.cc

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

// The highest bcrypt cost accepted in basic_auth_users. Each step doubles the time of a
// check; cost 12 is about 0.2-1 s of one core, and every uncached check costs that.
inline constexpr int kMaxBcryptCost = 12;

enum class AuthVerdict {
  kAllowed,
  kDenied,
  kBusy,  // not checked: too many bcrypt checks at once (answered 503, try again)
};

struct BasicAuthStats {
  size_t bcrypt_runs = 0;     // bcrypt verifications run
  size_t success_hits = 0;    // answered from the cache of verified credentials
  size_t failure_hits = 0;    // answered from the cache of refused credentials
  size_t busy = 0;            // refused unchecked: too many bcrypt checks at once
  size_t cached_success = 0;  // entries now
  size_t cached_failure = 0;  // entries now
};

// Checks basic-auth credentials against the configured bcrypt hashes. bcrypt is slow on
// purpose (tens of ms per check), so outcomes are remembered:
// - verified credentials: at most `cache_limit` of them (the oldest goes first);
// - refused ones: at most `failure_limit`, each for `failure_ttl` (a client retrying a wrong
//   password, or a flood repeating one, costs no bcrypt after its first try).
// Entries are HMAC-SHA-256(user, password, hash) under a key drawn at start: no password is
// kept, and an entry cannot be tested against guesses without the key. They are searched in
// full with constant-time compares. An unknown user costs one bcrypt too, so timing does
// not tell which users exist. At most one bcrypt runs at a time, on a thread of its own at
// nice 19, and one more waits; a check beyond that is not run (kBusy), so bcrypt never holds
// more than two HTTP workers, nor CPU that a scrape wants. Thread-safe.
class BasicAuthenticator {
 public:
  explicit BasicAuthenticator(std::map<std::string, std::string, std::less<>> users,
                              size_t cache_limit = 256, size_t failure_limit = 1024,
                              std::chrono::milliseconds failure_ttl = std::chrono::seconds(30));
  ~BasicAuthenticator();
  BasicAuthenticator(const BasicAuthenticator&) = delete;
  BasicAuthenticator& operator=(const BasicAuthenticator&) = delete;

  AuthVerdict Verify(std::string_view user, std::string_view password);
  // Verify() on the value of an Authorization header; kDenied when it is not Basic.
  AuthVerdict VerifyHeader(std::string_view authorization);
  // The same, kBusy counted as a refusal.
  bool Check(std::string_view user, std::string_view password) {
    return Verify(user, password) == AuthVerdict::kAllowed;
  }
  bool CheckHeader(std::string_view authorization) {
    return VerifyHeader(authorization) == AuthVerdict::kAllowed;
  }
  // What the caches alone say about an Authorization header value, never running bcrypt (the
  // front's triage, tls_front.h): kAllowed for verified credentials (not counted: the check
  // that then serves the request counts it), kDenied for credentials refused within the
  // failure TTL (counted as a failure hit: that answer is final), kBusy when only bcrypt can
  // tell and two checks are in flight (counted as busy, as Verify would), nullopt when only
  // bcrypt can tell (or the value is not Basic).
  std::optional<AuthVerdict> Remembered(std::string_view authorization);

  BasicAuthStats stats() const;
  // How many bcrypt verifications ran (for tests and docs).
  size_t bcrypt_runs() const { return stats().bcrypt_runs; }
  size_t cached() const { return stats().cached_success; }

 private:
  using Digest = std::array<unsigned char, 32>;
  using Clock = std::chrono::steady_clock;
  struct Refused {
    Digest key;
    Clock::time_point until;
  };
  Digest Key(std::string_view user, std::string_view password, const std::string& hash) const;
  // Answers from the caches, or nullopt; needs mutex_. LookupLocked counts nothing.
  std::optional<bool> LookupLocked(const Digest& key, bool known, Clock::time_point now);
  std::optional<bool> CachedLocked(const Digest& key, bool known, Clock::time_point now);
  void RememberLocked(const Digest& key, bool match, Clock::time_point now);

  const std::map<std::string, std::string, std::less<>> users_;
  size_t cache_limit_;  // 0 when no key could be drawn: nothing is remembered
  size_t failure_limit_;
  const std::chrono::milliseconds failure_ttl_;
  std::array<unsigned char, 32> hmac_key_{};  // random, per process
  mutable std::mutex mutex_;
  std::deque<Digest> cache_;     // guarded by mutex_
  std::deque<Refused> refused_;  // guarded by mutex_, oldest first
  BasicAuthStats stats_;         // guarded by mutex_ (the counters)
  int bcrypt_in_flight_ = 0;     // guarded by mutex_: running or waiting for bcrypt_mutex_
  std::mutex bcrypt_mutex_;      // one bcrypt at a time
  // Where bcrypt runs: at the lowest CPU priority, so it only takes CPU scrapes leave over.
  std::unique_ptr<LowPriorityThread> bcrypt_thread_;
};

}  // namespace dbcanary
