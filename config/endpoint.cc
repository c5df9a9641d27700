#include "config/endpoint.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dbcanary {

std::string PgEndpoint::Describe() const {
  const std::string where = hostaddr.empty() ? host : host + "(" + hostaddr + ")";
  return user + "@" + where + ":" + std::to_string(port) + "/" + dbname;
}

std::string RedisEndpoint::Describe() const {
  return (username.empty() ? "" : username + "@") + host + ":" + std::to_string(port);
}

constexpr uintmax_t kMaxPasswordFileBytes = uintmax_t{64} * 1024;

std::optional<Secret> ReadPassword(YamlMap& map) {
  auto file = map.String("password_file");
  auto reference = map.String("password");
  if (file && reference) map.Fail("password", "set either password or password_file, not both");
  if (file) {
    // Only a small regular file: a FIFO would hang the loader, /dev/zero would eat memory.
    std::error_code error;
    auto status = std::filesystem::status(*file, error);
    if (!error && !std::filesystem::is_regular_file(status)) {
      map.Fail("password_file", "\"" + *file + "\" is not a regular file");
    }
    if (!error && std::filesystem::file_size(*file, error) > kMaxPasswordFileBytes && !error) {
      map.Fail("password_file", "\"" + *file + "\" is larger than " +
                                    std::to_string(kMaxPasswordFileBytes) + " bytes");
    }
    std::ifstream in(*file, std::ios::binary);
    if (!in) map.Fail("password_file", "cannot read \"" + *file + "\"");
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string value = buffer.str();
    // Kubernetes Secrets and `echo` leave a trailing newline that is not part of the password.
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) map.Fail("password_file", "\"" + *file + "\" is empty");
    return Secret(std::move(value), "file " + *file);
  }
  if (reference) {
    const std::string& text = *reference;
    if (text.size() < 4 || !text.starts_with("${") || text.back() != '}') {
      map.Fail("password",
               "must be an environment reference like \"${DB_PASSWORD}\"; put literal "
               "passwords in a file and use password_file");
    }
    std::string variable = text.substr(2, text.size() - 3);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0') {
      map.Fail("password", "environment variable " + variable + " is not set or empty");
    }
    return Secret(value, "env " + variable);
  }
  return std::nullopt;
}

PgEndpoint ReadPgEndpoint(YamlMap& map, const PgEndpoint& defaults) {
  PgEndpoint connection = defaults;
  if (auto value = map.String("name")) connection.name = *value;
  if (auto value = map.String("host")) connection.host = *value;
  if (auto value = map.Int("port", 1, 65535)) connection.port = static_cast<int>(*value);
  if (auto value = map.String("dbname")) connection.dbname = *value;
  if (auto value = map.String("user")) connection.user = *value;
  if (auto value = ReadPassword(map)) connection.password = *value;
  if (auto value = map.Enum(
          "sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})) {
    connection.sslmode = *value;
  }
  if (auto value = map.String("sslrootcert")) connection.sslrootcert = *value;
  if (auto value = map.String("sslcert")) connection.sslcert = *value;
  if (auto value = map.String("sslkey")) connection.sslkey = *value;
  if (auto value = map.Duration("connect_timeout")) connection.connect_timeout = *value;
  return connection;
}

RedisEndpoint ReadRedisEndpoint(YamlMap& map, const RedisEndpoint& defaults) {
  RedisEndpoint connection = defaults;
  if (auto value = map.String("name")) connection.name = *value;
  if (auto value = map.String("host")) connection.host = *value;
  if (auto value = map.Int("port", 1, 65535)) connection.port = static_cast<int>(*value);
  if (auto value = map.String("username")) connection.username = *value;
  if (auto value = ReadPassword(map)) connection.password = *value;
  if (auto value = map.Duration("connect_timeout")) connection.connect_timeout = *value;
  return connection;
}

}  // namespace dbcanary
