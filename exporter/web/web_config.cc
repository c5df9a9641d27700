#include "exporter/web/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "config/yaml_reader.h"
#include "core/base64.h"

namespace dbcanary {
namespace {

struct ClientAuthName {
  std::string_view name;
  ClientAuth value;
};
constexpr ClientAuthName kClientAuthNames[] = {
    {"NoClientCert", ClientAuth::kNoClientCert},
    {"RequestClientCert", ClientAuth::kRequestClientCert},
    {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert},
};

bool Verifies(ClientAuth auth) {
  return auth == ClientAuth::kVerifyClientCertIfGiven ||
         auth == ClientAuth::kRequireAndVerifyClientCert;
}

// exporter-toolkit keys that dbcanary knows but does not implement: a clear error
// rather than "unknown key", and never silently ignored.
constexpr std::string_view kUnsupportedTlsKeys[] = {"cipher_suites", "curve_preferences",
                                                    "max_version", "prefer_server_cipher_suites",
                                                    "client_allowed_sans"};
constexpr std::string_view kUnsupportedTopKeys[] = {"http_server_config"};

// bcrypt hashes: "$2a$", "$2b$" or "$2y$", two cost digits, "$", 53 characters.
bool LooksLikeBcrypt(const std::string& hash) {
  if (hash.size() != 60) return false;
  if (hash.compare(0, 2, "$2") != 0 || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '3' || hash[5] < '0' || hash[5] > '9') return false;
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;  // what bcrypt itself accepts
  for (size_t i = 7; i < hash.size(); ++i) {
    char c = hash[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// The cost digits of a hash that LooksLikeBcrypt().
int BcryptCost(const std::string& hash) { return (hash[4] - '0') * 10 + (hash[5] - '0'); }

void RejectUnsupported(YamlMap& map, std::span<const std::string_view> keys) {
  for (auto key : keys) {
    if (map.Has(key)) map.Fail(key, "not supported by dbcanary (see docs/web-security.md)");
  }
}

TlsServerConfig ReadTls(YamlMap tls) {
  RejectUnsupported(tls, kUnsupportedTlsKeys);
  TlsServerConfig config;
  config.cert_file = tls.RequiredString("cert_file");
  config.key_file = tls.RequiredString("key_file");
  config.client_ca_file = tls.String("client_ca_file").value_or("");
  std::vector<std::string> names;
  for (const auto& entry : kClientAuthNames) names.emplace_back(entry.name);
  auto auth = tls.Enum("client_auth_type", names);
  if (auth) {
    for (const auto& entry : kClientAuthNames) {
      if (entry.name == *auth) config.client_auth = entry.value;
    }
  } else if (!config.client_ca_file.empty()) {
    // As exporter-toolkit: a client CA without a mode means verify every client.
    config.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  }
  if (Verifies(config.client_auth) && config.client_ca_file.empty()) {
    tls.Fail("client_auth_type", *auth + " needs client_ca_file");
  }
  if (!Verifies(config.client_auth) && !config.client_ca_file.empty()) {
    tls.Fail("client_ca_file",
             "set, but client_auth_type " + *auth +
                 " does not verify client certificates (use VerifyClientCertIfGiven or "
                 "RequireAndVerifyClientCert)");
  }
  auto version = tls.Enum("min_version", {"TLS12", "TLS13"});
  if (version == "TLS13") config.min_version = TlsVersion::kTls13;
  tls.Finish();
  return config;
}

// The keys of the basic_auth_users mapping, read through YamlMap so that locations,
// strictness and "expected a string" errors are the loader's own.
std::map<std::string, std::string, std::less<>> ReadUsers(const YAML::Node& node, YamlMap users) {
  std::map<std::string, std::string, std::less<>> result;
  for (const auto& entry : node) {
    std::string user = entry.first.Scalar();
    if (user.empty()) users.FailHere("a user name must not be empty");
    if (user.find(':') != std::string::npos) users.Fail(user, "a user name cannot contain ':'");
    auto hash = users.String(user);
    // The hash itself is never part of a message; its cost is not secret.
    if (!hash || !LooksLikeBcrypt(*hash)) {
      users.Fail(user, "not a bcrypt hash (want $2a$, $2b$ or $2y$, cost 04-" +
                           std::to_string(kMaxBcryptCost) + ", 60 characters)");
    }
    if (int cost = BcryptCost(*hash); cost > kMaxBcryptCost) {
      users.Fail(user, "bcrypt cost " + std::to_string(cost) + " is above the maximum " +
                           std::to_string(kMaxBcryptCost) +
                           ": every uncached check would hold a CPU for seconds (hash the "
                           "password again with a lower cost, see docs/web-security.md)");
    }
    result.emplace(std::move(user), std::move(*hash));
  }
  users.Finish();
  return result;
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

Result<WebConfig> ParseWebConfig(const std::string& text, const std::string& source) {
  try {
    YAML::Node document = YAML::Load(text);
    WebConfig config;
    config.source = source;
    if (document.IsNull()) return config;  // an empty file: neither TLS nor auth
    auto file = std::make_shared<const std::string>(source);
    YamlMap top(document, "", file);
    RejectUnsupported(top, kUnsupportedTopKeys);
    if (auto tls = top.Map("tls_server_config")) config.tls = ReadTls(std::move(*tls));
    if (auto users = top.Map("basic_auth_users")) {
      config.basic_auth_users = ReadUsers(document["basic_auth_users"], std::move(*users));
    }
    top.Finish();
    return config;
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kConfig, source + ":" + std::to_string(error.mark.line + 1) + ":" +
                                             std::to_string(error.mark.column + 1) +
                                             ": invalid YAML: " + error.msg);
  }
}

Result<WebConfig> LoadWebConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kConfig, path + ": cannot open the web config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = ParseWebConfig(buffer.str(), path);
  if (!config || !config->tls) return config;
  const TlsServerConfig& tls = *config->tls;
  for (const auto& [key, file] :
       {std::pair<std::string_view, const std::string&>{"cert_file", tls.cert_file},
        {"key_file", tls.key_file},
        {"client_ca_file", tls.client_ca_file}}) {
    if (!file.empty() && !Readable(file)) {
      return MakeError(ErrorCode::kConfig,
                       path + ": tls_server_config." + std::string(key) + ": cannot read " + file);
    }
  }
  return config;
}

namespace {

// OpenSSL's queued errors, appended to `what`.
Error TlsError(const std::string& what) {
  std::string message = "TLS: " + what;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    message += std::string(": ") + text;
  }
  return MakeError(ErrorCode::kConfig, message);
}

// Client certificates that are requested but not verified: accept whatever came.
int AcceptAnyCertificate(int /*preverified*/, X509_STORE_CTX* /*store*/) { return 1; }

}  // namespace

Status ConfigureTlsContext(SSL_CTX* context, const TlsServerConfig& tls) {
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(context, tls.cert_file.c_str()) != 1) {
    return TlsError("cannot load cert_file " + tls.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(context, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return TlsError("cannot load key_file " + tls.key_file);
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return TlsError("key_file " + tls.key_file + " does not match cert_file " + tls.cert_file);
  }
  int version = tls.min_version == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(context, version) != 1) {
    return TlsError("cannot set min_version");
  }
  // Sessions resumed with a client certificate need an id context.
  static constexpr unsigned char kSessionContext[] = "dbcanary";
  SSL_CTX_set_session_id_context(context, kSessionContext, sizeof(kSessionContext) - 1);
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(context, tls.client_ca_file.c_str(), nullptr) != 1) {
      return TlsError("cannot load client_ca_file " + tls.client_ca_file);
    }
    // The CA names sent in the CertificateRequest, so clients pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(context, names);
    }
  }
  switch (tls.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER, &AcceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         &AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return Ok{};
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool VerifyCryptHash(std::string_view password, const std::string& hash) {
  // crypt_data is ~32 KiB: on the heap, not a CivetWeb worker's stack.
  auto data = std::make_unique<crypt_data>();
  std::string phrase(password);
  const char* result = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  bool match = result != nullptr && result[0] != '*' && ConstantTimeEquals(result, hash);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return match;
}

std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = DecodeBase64(encoded);  // padding required, no whitespace inside
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  BasicCredentials credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return credentials;
}

// Runs one job at a time on a thread of its own at nice 19 (the lowest CPU priority): the
// job then only takes CPU that threads at normal priority leave over.
class LowPriorityThread {
 public:
  LowPriorityThread() : thread_([this] { Loop(); }) {}
  ~LowPriorityThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    thread_.join();
  }
  LowPriorityThread(const LowPriorityThread&) = delete;
  LowPriorityThread& operator=(const LowPriorityThread&) = delete;

  // Runs `job` there and waits for it. Callers take turns (BasicAuthenticator's
  // bcrypt_mutex_).
  void Run(const std::function<void()>& job) {
    std::unique_lock lock(mutex_);
    job_ = &job;
    done_ = false;
    changed_.notify_all();
    changed_.wait(lock, [&] { return done_; });
  }

 private:
  void Loop() {
    // Lowering one's own priority needs no privilege; failing to is harmless.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stopping_ || job_ != nullptr; });
      if (stopping_) return;
      const std::function<void()>* job = job_;
      lock.unlock();
      (*job)();
      lock.lock();
      job_ = nullptr;
      done_ = true;
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  const std::function<void()>* job_ = nullptr;  // guarded by mutex_
  bool done_ = false;                           // guarded by mutex_
  bool stopping_ = false;                       // guarded by mutex_
  std::thread thread_;
};

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string, std::less<>> users,
                                       size_t cache_limit, size_t failure_limit,
                                       std::chrono::milliseconds failure_ttl)
    : users_(std::move(users)),
      cache_limit_(cache_limit),
      failure_limit_(failure_limit),
      failure_ttl_(failure_ttl),
      bcrypt_thread_(std::make_unique<LowPriorityThread>()) {
  if (RAND_bytes(hmac_key_.data(), static_cast<int>(hmac_key_.size())) != 1) {
    // No entropy from OpenSSL: remember nothing rather than keep guessable entries.
    cache_limit_ = 0;
    failure_limit_ = 0;
  }
}

BasicAuthenticator::~BasicAuthenticator() { OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size()); }

BasicAuthenticator::Digest BasicAuthenticator::Key(std::string_view user, std::string_view password,
                                                   const std::string& hash) const {
  // Length-prefixed fields, so ("ab", "c") and ("a", "bc") differ.
  std::string input;
  for (std::string_view part : {user, password, std::string_view(hash)}) {
    input += std::to_string(part.size());
    input += ':';
    input += part;
  }
  Digest digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data(), &size);
  OPENSSL_cleanse(input.data(), input.size());
  return digest;
}

std::optional<bool> BasicAuthenticator::LookupLocked(const Digest& key, bool known,
                                                     Clock::time_point now) {
  while (!refused_.empty() && refused_.front().until <= now) refused_.pop_front();
  bool verified = false;
  for (const auto& entry : cache_) {
    verified |= CRYPTO_memcmp(entry.data(), key.data(), key.size()) == 0;
  }
  bool refused = false;
  for (const auto& entry : refused_) {
    refused |= CRYPTO_memcmp(entry.key.data(), key.data(), key.size()) == 0;
  }
  if (verified && known) return true;
  if (refused) return false;
  return std::nullopt;
}

std::optional<bool> BasicAuthenticator::CachedLocked(const Digest& key, bool known,
                                                     Clock::time_point now) {
  std::optional<bool> cached = LookupLocked(key, known, now);
  if (cached) ++(*cached ? stats_.success_hits : stats_.failure_hits);
  return cached;
}

void BasicAuthenticator::RememberLocked(const Digest& key, bool match, Clock::time_point now) {
  if (match) {
    if (cache_limit_ == 0) return;
    while (cache_.size() >= cache_limit_) cache_.pop_front();
    cache_.push_back(key);
    return;
  }
  if (failure_limit_ == 0) return;
  while (refused_.size() >= failure_limit_) refused_.pop_front();
  refused_.push_back({key, now + failure_ttl_});
}

AuthVerdict BasicAuthenticator::Verify(std::string_view user, std::string_view password) {
  if (users_.empty()) return AuthVerdict::kDenied;
  auto it = users_.find(user);
  bool known = it != users_.end();
  // An unknown user is checked against some real hash (same cost), then refused.
  const std::string& hash = known ? it->second : users_.begin()->second;
  Digest key = Key(user, password, hash);
  {
    std::lock_guard lock(mutex_);
    if (auto cached = CachedLocked(key, known, Clock::now())) {
      return *cached ? AuthVerdict::kAllowed : AuthVerdict::kDenied;
    }
    // One running, one waiting: whatever else arrives now is not worth an HTTP worker.
    if (bcrypt_in_flight_ >= 2) {
      ++stats_.busy;
      return AuthVerdict::kBusy;
    }
    ++bcrypt_in_flight_;
  }
  bool match = false;
  bool ran = false;
  {
    std::lock_guard one_at_a_time(bcrypt_mutex_);
    std::optional<bool> cached;
    {
      // The same credentials may have been checked while this one waited.
      std::lock_guard lock(mutex_);
      cached = CachedLocked(key, known, Clock::now());
      if (!cached) ++stats_.bcrypt_runs;
    }
    ran = !cached;
    if (cached) {
      match = *cached;
    } else {
      // Outside mutex_: bcrypt takes tens of milliseconds.
      bcrypt_thread_->Run([&] { match = VerifyCryptHash(password, hash) && known; });
    }
  }
  std::lock_guard lock(mutex_);
  --bcrypt_in_flight_;
  if (ran) RememberLocked(key, match, Clock::now());
  return match ? AuthVerdict::kAllowed : AuthVerdict::kDenied;
}

AuthVerdict BasicAuthenticator::VerifyHeader(std::string_view authorization) {
  auto credentials = ParseBasicAuthorization(authorization);
  if (!credentials) return AuthVerdict::kDenied;
  AuthVerdict verdict = Verify(credentials->user, credentials->password);
  OPENSSL_cleanse(credentials->password.data(), credentials->password.size());
  return verdict;
}

std::optional<AuthVerdict> BasicAuthenticator::Remembered(std::string_view authorization) {
  if (users_.empty()) return std::nullopt;
  auto credentials = ParseBasicAuthorization(authorization);
  if (!credentials) return std::nullopt;
  auto it = users_.find(credentials->user);
  bool known = it != users_.end();
  Digest key =
      Key(credentials->user, credentials->password, known ? it->second : users_.begin()->second);
  OPENSSL_cleanse(credentials->password.data(), credentials->password.size());
  std::lock_guard lock(mutex_);
  std::optional<bool> cached = LookupLocked(key, known, Clock::now());
  if (!cached && bcrypt_in_flight_ >= 2) {
    ++stats_.busy;
    return AuthVerdict::kBusy;
  }
  if (!cached) return std::nullopt;
  if (*cached) return AuthVerdict::kAllowed;
  ++stats_.failure_hits;
  return AuthVerdict::kDenied;
}

BasicAuthStats BasicAuthenticator::stats() const {
  std::lock_guard lock(mutex_);
  BasicAuthStats stats = stats_;
  stats.cached_success = cache_.size();
  stats.cached_failure = refused_.size();
  return stats;
}

}  // namespace dbcanary
