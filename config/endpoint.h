#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "config/secret.h"
#include "config/yaml_reader.h"

namespace dbcanary {

// How to reach one PostgreSQL server or PgBouncer: libpq connection settings.
struct PgEndpoint {
  std::string name;  // instance or pooler name; a label value
  std::string host;
  // When set, libpq connects to this IP and checks the certificate against `host` (a discovered
  // pod reached by its IP, verified against the cluster's service name).
  std::string hostaddr;
  int port = 5432;
  std::string dbname = "postgres";
  std::string user;
  Secret password;
  std::string sslmode = "prefer";
  std::string sslrootcert;
  std::string sslcert;
  std::string sslkey;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};

  // "user@host:port/dbname": what logs may say about the target. Never the password.
  std::string Describe() const;
};

// How to reach one Redis-protocol server (Dragonfly, or redis-server locally).
struct RedisEndpoint {
  std::string name;
  std::string host;
  int port = 6379;
  std::string username;  // ACL user; empty for the default user
  Secret password;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};

  std::string Describe() const;
};

// Reads the password of `map`: `password_file: PATH` or `password: "${ENV}"`.
// A literal password in the config is refused: secrets live in files or the environment.
std::optional<Secret> ReadPassword(YamlMap& map);

// Reads libpq settings from `map`, starting from `defaults` (inherited fields).
PgEndpoint ReadPgEndpoint(YamlMap& map, const PgEndpoint& defaults);
RedisEndpoint ReadRedisEndpoint(YamlMap& map, const RedisEndpoint& defaults);

}  // namespace dbcanary
