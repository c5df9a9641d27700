#include "exporter/web/web_config.h"

#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A bcrypt hash of `password` made now with libxcrypt (cost 4: the minimum, fast).
std::string BcryptHash(const std::string& password, const char* prefix = "$2b$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 4, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  const char* hash = crypt_rn(password.c_str(), salt, &data, sizeof(data));
  EXPECT_NE(hash, nullptr);
  return hash != nullptr ? hash : "";
}

// A hash fixed for the whole test binary, so parser tests need no bcrypt of their own.
const std::string& TestHash() {
  static const std::string hash = BcryptHash("secret");
  return hash;
}

std::string ParseError(const std::string& text) {
  auto config = ParseWebConfig(text, "web.yml");
  EXPECT_FALSE(config) << text;
  return config ? "" : config.error().message;
}

TEST(WebConfigParseTest, ReadsTheExporterToolkitFormat) {
  auto config = ParseWebConfig(
      "tls_server_config:\n"
      "  cert_file: /tls/tls.crt\n"
      "  key_file: /tls/tls.key\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  client_ca_file: /tls/ca.crt\n"
      "  min_version: TLS13\n"
      "basic_auth_users:\n"
      "  prometheus: " +
          TestHash() +
          "\n"
          "  vmagent: " +
          TestHash() + "\n",
      "web.yml");
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(config->tls);
  EXPECT_EQ(config->tls->cert_file, "/tls/tls.crt");
  EXPECT_EQ(config->tls->key_file, "/tls/tls.key");
  EXPECT_EQ(config->tls->client_ca_file, "/tls/ca.crt");
  EXPECT_EQ(config->tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(config->tls->min_version, TlsVersion::kTls13);
  ASSERT_EQ(config->basic_auth_users.size(), 2u);
  EXPECT_EQ(config->basic_auth_users.at("prometheus"), TestHash());
}

TEST(WebConfigParseTest, DefaultsAndEmptyFile) {
  auto empty = ParseWebConfig("", "web.yml");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_FALSE(empty->tls);
  EXPECT_TRUE(empty->basic_auth_users.empty());

  auto tls = ParseWebConfig("tls_server_config: {cert_file: a.crt, key_file: a.key}\n", "web.yml");
  ASSERT_TRUE(tls) << tls.error().message;
  EXPECT_EQ(tls->tls->client_auth, ClientAuth::kNoClientCert);
  EXPECT_EQ(tls->tls->min_version, TlsVersion::kTls12);

  // A client CA without a mode means verify every client, as in exporter-toolkit.
  auto ca = ParseWebConfig(
      "tls_server_config: {cert_file: a.crt, key_file: a.key, client_ca_file: ca.crt}\n",
      "web.yml");
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ(ca->tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);

  for (const char* mode : {"NoClientCert", "RequestClientCert", "RequireAnyClientCert"}) {
    auto parsed = ParseWebConfig(std::string("tls_server_config: {cert_file: a, key_file: b, "
                                             "client_auth_type: ") +
                                     mode + "}\n",
                                 "web.yml");
    EXPECT_TRUE(parsed) << mode << ": " << parsed.error().message;
  }
}

TEST(WebConfigParseTest, EveryErrorNamesFileLineAndKey) {
  EXPECT_THAT(ParseError("tls_server_config: [\n"), HasSubstr("web.yml:"));
  EXPECT_THAT(ParseError("tls_server_config: [\n"), HasSubstr("invalid YAML"));
  EXPECT_THAT(ParseError("- a\n- b\n"), HasSubstr("expected a mapping"));
  EXPECT_THAT(ParseError("basic_auth_user: {}\n"), HasSubstr("basic_auth_user: unknown key"));
  EXPECT_THAT(ParseError("http_server_config: {http2: true}\n"),
              HasSubstr("http_server_config: not supported by dbcanary"));
  EXPECT_THAT(ParseError("tls_server_config: 3\n"), HasSubstr("tls_server_config"));
  EXPECT_THAT(ParseError("tls_server_config: {key_file: a}\n"),
              HasSubstr("web.yml:1:20: tls_server_config.cert_file: required but missing"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a}\n"),
              HasSubstr("tls_server_config.key_file: required but missing"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: '', key_file: a}\n"),
              HasSubstr("tls_server_config.cert_file: required but missing"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: ''}\n"),
              HasSubstr("tls_server_config.key_file: required but missing"));
  EXPECT_THAT(ParseError("tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n"),
              HasSubstr("web.yml:4:3: tls_server_config.certfile: unknown key"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [x]}\n"),
              HasSubstr("tls_server_config.cipher_suites: not supported by dbcanary"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, max_version: TLS13}\n"),
              HasSubstr("tls_server_config.max_version: not supported"));
  EXPECT_THAT(
      ParseError("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Always}\n"),
      HasSubstr("tls_server_config.client_auth_type"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, "
                         "client_auth_type: RequireAndVerifyClientCert}\n"),
              HasSubstr("RequireAndVerifyClientCert needs client_ca_file"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, "
                         "client_auth_type: VerifyClientCertIfGiven}\n"),
              HasSubstr("VerifyClientCertIfGiven needs client_ca_file"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, client_ca_file: c, "
                         "client_auth_type: RequireAnyClientCert}\n"),
              HasSubstr("tls_server_config.client_ca_file: set, but client_auth_type "
                        "RequireAnyClientCert does not verify"));
  EXPECT_THAT(ParseError("tls_server_config: {cert_file: a, key_file: b, min_version: TLS11}\n"),
              HasSubstr("tls_server_config.min_version"));
  EXPECT_THAT(ParseError("basic_auth_users: [a, b]\n"), HasSubstr("basic_auth_users"));
  EXPECT_THAT(ParseError("basic_auth_users: {alice: {x: 1}}\n"),
              HasSubstr("basic_auth_users.alice: expected a string"));
  EXPECT_THAT(ParseError("basic_auth_users: {alice: }\n"),
              HasSubstr("basic_auth_users.alice: not a bcrypt hash"));
  EXPECT_THAT(ParseError("basic_auth_users: {'a:b': " + TestHash() + "}\n"),
              HasSubstr("cannot contain ':'"));
  EXPECT_THAT(ParseError("basic_auth_users: {'': " + TestHash() + "}\n"),
              HasSubstr("a user name must not be empty"));
}

TEST(WebConfigParseTest, RejectsNonBcryptHashesWithoutPrintingThem) {
  std::string sha512 = "$6$saltsalt$" + std::string(86, 'a');
  std::string bad_cost = TestHash();
  bad_cost.replace(4, 2, "99");
  std::string bad_char = TestHash();
  bad_char[20] = '!';
  for (const std::string& hash :
       {std::string("plaintext-password"), sha512, TestHash().substr(0, 59), bad_cost, bad_char,
        "$2x$" + TestHash().substr(4)}) {
    std::string message = ParseError("basic_auth_users:\n  alice: '" + hash + "'\n");
    EXPECT_THAT(message, HasSubstr("web.yml:2:10: basic_auth_users.alice: not a bcrypt hash"));
    EXPECT_THAT(message, Not(HasSubstr(hash)));
  }
  // $2a$ and $2y$ are accepted as well as $2b$.
  for (const char* prefix : {"$2a$", "$2y$"}) {
    std::string hash = prefix + TestHash().substr(4);
    EXPECT_TRUE(ParseWebConfig("basic_auth_users: {alice: '" + hash + "'}\n", "web.yml"));
  }
}

// Pins: a cost above kMaxBcryptCost (each step doubles every uncached check) is refused at
// load, naming the user's key and the cost, never the hash; the maximum itself is accepted.
TEST(WebConfigParseTest, RefusesABcryptCostAboveTheMaximum) {
  for (int cost : {kMaxBcryptCost + 1, 31}) {
    std::string hash = TestHash();
    std::string digits = std::to_string(cost);
    hash.replace(4, 2, digits.size() == 1 ? "0" + digits : digits);
    std::string message = ParseError("basic_auth_users:\n  alice: '" + hash + "'\n");
    EXPECT_THAT(message, HasSubstr("web.yml:2:10: basic_auth_users.alice: bcrypt cost " + digits +
                                   " is above the maximum " + std::to_string(kMaxBcryptCost)));
    EXPECT_THAT(message, Not(HasSubstr(hash.substr(7))));
  }
  std::string at_maximum = TestHash();
  at_maximum.replace(4, 2, std::to_string(kMaxBcryptCost));
  EXPECT_TRUE(ParseWebConfig("basic_auth_users: {alice: '" + at_maximum + "'}\n", "web.yml"));
}

TEST(WebConfigLoadTest, NamesUnreadableFiles) {
  testing::TempDir dir;
  auto missing = LoadWebConfigFile(dir.path() + "/none.yml");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("none.yml: cannot open the web config file"));

  std::string file = dir.Write("web.yml", "tls_server_config: {cert_file: " + dir.path() +
                                              "/no.crt, key_file: " + dir.path() + "/no.key}\n");
  auto unreadable = LoadWebConfigFile(file);
  ASSERT_FALSE(unreadable);
  EXPECT_THAT(unreadable.error().message,
              HasSubstr("web.yml: tls_server_config.cert_file: cannot read"));

  std::string users = dir.Write("users.yml", "basic_auth_users: {alice: " + TestHash() + "}\n");
  auto loaded = LoadWebConfigFile(users);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->source, users);
}

TEST(BcryptTest, VerifiesHashesOfEveryPrefix) {
  EXPECT_TRUE(VerifyCryptHash("secret", TestHash()));
  EXPECT_FALSE(VerifyCryptHash("Secret", TestHash()));
  EXPECT_FALSE(VerifyCryptHash("", TestHash()));
  EXPECT_FALSE(VerifyCryptHash("secret", "garbage"));
  EXPECT_FALSE(VerifyCryptHash("secret", ""));
  // The same digest under $2y$ (htpasswd -B writes $2y$) verifies too.
  EXPECT_TRUE(VerifyCryptHash("secret", "$2y$" + TestHash().substr(4)));
  EXPECT_TRUE(VerifyCryptHash("pässwörd:with colon", BcryptHash("pässwörd:with colon", "$2y$")));
}

TEST(BcryptTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(BasicAuthorizationTest, ParsesTheHeader) {
  // "alice:open sesame" and "bob:a:b" in base64.
  auto alice = ParseBasicAuthorization("Basic YWxpY2U6b3BlbiBzZXNhbWU=");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->user, "alice");
  EXPECT_EQ(alice->password, "open sesame");
  auto bob = ParseBasicAuthorization("basic   Ym9iOmE6Yg== ");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->user, "bob");
  EXPECT_EQ(bob->password, "a:b");
  auto empty_password = ParseBasicAuthorization("Basic dTo=");  // "u:"
  ASSERT_TRUE(empty_password);
  EXPECT_EQ(empty_password->password, "");

  EXPECT_FALSE(ParseBasicAuthorization(""));
  EXPECT_FALSE(ParseBasicAuthorization("Basic "));
  EXPECT_FALSE(ParseBasicAuthorization("Bearer YWxpY2U6eA=="));
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWxpY2U="));      // "alice": no colon
  EXPECT_FALSE(ParseBasicAuthorization("Basic YWxpY2U6eA"));    // not padded
  EXPECT_FALSE(ParseBasicAuthorization("Basic YW*pY2U6eA=="));  // not base64
  EXPECT_FALSE(ParseBasicAuthorization("Basic YQ==YWFh"));      // data after padding
}

TEST(BasicAuthenticatorTest, CachesSuccessesAndFailures) {
  BasicAuthenticator auth({{"alice", TestHash()}});
  EXPECT_TRUE(auth.Check("alice", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(auth.Check("alice", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);  // every repeat came from the cache
  EXPECT_EQ(auth.cached(), 1u);

  EXPECT_FALSE(auth.Check("alice", "wrong"));
  EXPECT_FALSE(auth.Check("alice", "wrong"));
  EXPECT_EQ(auth.bcrypt_runs(), 2u);  // the repeated failure came from the failure cache
  EXPECT_EQ(auth.stats().failure_hits, 1u);
  EXPECT_EQ(auth.cached(), 1u);

  // An unknown user costs a bcrypt too, even with a password that matches some hash.
  EXPECT_FALSE(auth.Check("mallory", "secret"));
  EXPECT_FALSE(auth.Check("mallory", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), 3u);

  // Header form.
  EXPECT_TRUE(auth.CheckHeader("Basic YWxpY2U6c2VjcmV0"));  // alice:secret
  EXPECT_FALSE(auth.CheckHeader("Basic YWxpY2U6c2VjcmV"));
  EXPECT_FALSE(auth.CheckHeader("Digest username=alice"));
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
}

// Pins: a refused password is remembered for the TTL only, then checked again; the right
// password is never answered from the failure cache.
TEST(BasicAuthenticatorTest, FailuresAreForgottenAfterTheirTtl) {
  BasicAuthenticator auth({{"alice", TestHash()}}, 256, 1024, std::chrono::milliseconds(1));
  EXPECT_FALSE(auth.Check("alice", "wrong"));
  EXPECT_EQ(auth.stats().cached_failure, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the TTL: no upper bound
  EXPECT_FALSE(auth.Check("alice", "wrong"));
  EXPECT_EQ(auth.bcrypt_runs(), 2u);
  EXPECT_EQ(auth.stats().failure_hits, 0u);
  EXPECT_TRUE(auth.Check("alice", "secret"));
}

// Pins: 50 clients repeating wrong credentials (a flood) cost one bcrypt per distinct
// credential, not one per request; a check that finds two bcrypts in flight is not run but
// answered kBusy, so bcrypt never holds more than two HTTP workers.
TEST(BasicAuthenticatorTest, AFloodOfBadCredentialsHitsTheFailureCache) {
  BasicAuthenticator auth({{"alice", TestHash()}});
  std::vector<std::thread> clients;
  std::atomic<int> allowed{0};
  for (int i = 0; i < 50; ++i) {
    clients.emplace_back([&, i] {
      for (int round = 0; round < 20; ++round) {
        if (auth.Verify(i % 2 == 0 ? "alice" : "mallory", "wrong-" + std::to_string(i % 5)) ==
            AuthVerdict::kAllowed) {
          ++allowed;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  BasicAuthStats stats = auth.stats();
  EXPECT_EQ(allowed.load(), 0);
  // 10 distinct credentials (2 users x 5 passwords): at most one bcrypt each.
  EXPECT_LE(stats.bcrypt_runs, 10u);
  EXPECT_EQ(stats.bcrypt_runs + stats.failure_hits + stats.busy, 50u * 20u);
  EXPECT_EQ(stats.cached_failure, stats.bcrypt_runs);
  // Alone (never busy), each repeat is a failure-cache hit, never a bcrypt.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(auth.Verify("alice", "wrong-0"), AuthVerdict::kDenied);
  EXPECT_LE(auth.stats().bcrypt_runs, stats.bcrypt_runs + 1);
  EXPECT_GE(auth.stats().failure_hits, stats.failure_hits + 4);
  // Cached credentials pass whatever the flood does.
  EXPECT_TRUE(auth.Check("alice", "secret"));
}

TEST(BasicAuthenticatorTest, CacheIsBoundedOldestFirst) {
  BasicAuthenticator auth({{"a", TestHash()}, {"b", TestHash()}, {"c", TestHash()}}, 2);
  EXPECT_TRUE(auth.Check("a", "secret"));
  EXPECT_TRUE(auth.Check("b", "secret"));
  EXPECT_TRUE(auth.Check("c", "secret"));  // evicts a
  EXPECT_EQ(auth.cached(), 2u);
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
  EXPECT_TRUE(auth.Check("c", "secret"));
  EXPECT_TRUE(auth.Check("b", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), 3u);
  EXPECT_TRUE(auth.Check("a", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), 4u);

  BasicAuthenticator none({});
  EXPECT_FALSE(none.Check("a", "secret"));
}

// ---- TLS contexts, tested with an in-memory handshake between two OpenSSL endpoints.

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string d = dir_->path();
    // Two CAs; a server certificate for localhost and a client certificate from the first.
    std::string script =
        "cd " + d +
        " && for ca in ca other; do openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:prime256v1 -nodes -keyout $ca.key -out $ca.crt -days 1 -subj /CN=$ca;"
        " done"
        " && for leaf in server client; do openssl req -newkey ec -pkeyopt "
        "ec_paramgen_curve:prime256v1 -nodes -keyout $leaf.key -out $leaf.csr -subj /CN=$leaf"
        " && openssl x509 -req -in $leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-out $leaf.crt -extfile ext; done";
    dir_->Write("ext", "subjectAltName=DNS:localhost\n");
    ok_ = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(ok_) << "openssl CLI could not make test certificates"; }

  static std::string File(const std::string& name) { return dir_->path() + "/" + name; }

  TlsServerConfig Server() const {
    TlsServerConfig tls;
    tls.cert_file = File("server.crt");
    tls.key_file = File("server.key");
    return tls;
  }

  // A client trusting `ca`, offering `client_cert` (if not empty), speaking at most
  // `max_version`. True when both sides complete the handshake.
  static bool Handshake(const TlsServerConfig& server_config, const std::string& ca,
                        const std::string& client_cert = "", int max_version = 0) {
    SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
    bool configured = static_cast<bool>(ConfigureTlsContext(server_ctx, server_config));
    EXPECT_TRUE(configured);
    SSL_CTX_load_verify_locations(client_ctx, File(ca).c_str(), nullptr);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
    if (!client_cert.empty()) {
      SSL_CTX_use_certificate_file(client_ctx, File(client_cert + ".crt").c_str(),
                                   SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(client_ctx, File(client_cert + ".key").c_str(), SSL_FILETYPE_PEM);
    }
    if (max_version != 0) SSL_CTX_set_max_proto_version(client_ctx, max_version);
    SSL* server = SSL_new(server_ctx);
    SSL* client = SSL_new(client_ctx);
    SSL_set1_host(client, "localhost");
    BIO* server_bio = nullptr;
    BIO* client_bio = nullptr;
    BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
    bool server_done = false;
    bool client_done = false;
    bool failed = false;
    auto step = [&failed](SSL* ssl, bool& done) {
      if (done || failed) return;
      int result = SSL_do_handshake(ssl);
      if (result == 1) {
        done = true;
        return;
      }
      int error = SSL_get_error(ssl, result);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) failed = true;
    };
    for (int i = 0; i < 20 && !failed && !(server_done && client_done); ++i) {
      step(client, client_done);
      step(server, server_done);
    }
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    return server_done && client_done && !failed;
  }

  static testing::TempDir* dir_;
  static bool ok_;
};
testing::TempDir* TlsContextTest::dir_ = nullptr;
bool TlsContextTest::ok_ = false;

TEST_F(TlsContextTest, RightCaConnectsWrongCaDoesNot) {
  EXPECT_TRUE(Handshake(Server(), "ca.crt"));
  EXPECT_FALSE(Handshake(Server(), "other.crt"));
}

TEST_F(TlsContextTest, MinVersionTls13RefusesATls12Client) {
  TlsServerConfig tls = Server();
  EXPECT_TRUE(Handshake(tls, "ca.crt", "", TLS1_2_VERSION));
  tls.min_version = TlsVersion::kTls13;
  EXPECT_FALSE(Handshake(tls, "ca.crt", "", TLS1_2_VERSION));
  EXPECT_TRUE(Handshake(tls, "ca.crt"));
}

TEST_F(TlsContextTest, ClientCertificateModes) {
  TlsServerConfig tls = Server();
  tls.client_ca_file = File("ca.crt");
  tls.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  EXPECT_FALSE(Handshake(tls, "ca.crt"));
  EXPECT_TRUE(Handshake(tls, "ca.crt", "client"));
  EXPECT_FALSE(Handshake(tls, "ca.crt", "other"));  // self-signed by another CA

  tls.client_auth = ClientAuth::kVerifyClientCertIfGiven;
  EXPECT_TRUE(Handshake(tls, "ca.crt"));
  EXPECT_TRUE(Handshake(tls, "ca.crt", "client"));
  EXPECT_FALSE(Handshake(tls, "ca.crt", "other"));

  tls.client_ca_file.clear();
  tls.client_auth = ClientAuth::kRequireAnyClientCert;
  EXPECT_FALSE(Handshake(tls, "ca.crt"));
  EXPECT_TRUE(Handshake(tls, "ca.crt", "other"));

  tls.client_auth = ClientAuth::kRequestClientCert;
  EXPECT_TRUE(Handshake(tls, "ca.crt"));
  EXPECT_TRUE(Handshake(tls, "ca.crt", "other"));
}

TEST_F(TlsContextTest, BadFilesAreConfigErrorsNamingTheFile) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  TlsServerConfig tls = Server();
  tls.key_file = File("client.key");  // not the server certificate's key
  auto mismatch = ConfigureTlsContext(context, tls);
  ASSERT_FALSE(mismatch);
  EXPECT_THAT(mismatch.error().message, HasSubstr("cannot load key_file " + File("client.key")));
  EXPECT_THAT(mismatch.error().message, HasSubstr("key values mismatch"));
  tls = Server();
  tls.cert_file = File("ext");  // not PEM
  auto not_pem = ConfigureTlsContext(context, tls);
  ASSERT_FALSE(not_pem);
  EXPECT_THAT(not_pem.error().message, HasSubstr("cannot load cert_file " + File("ext")));
  tls = Server();
  tls.client_ca_file = File("ext");
  tls.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  auto bad_ca = ConfigureTlsContext(context, tls);
  ASSERT_FALSE(bad_ca);
  EXPECT_THAT(bad_ca.error().message, HasSubstr("cannot load client_ca_file"));
  SSL_CTX_free(context);
}

}  // namespace
}  // namespace dbcanary
