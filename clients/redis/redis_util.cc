#include "clients/redis/redis_util.h"

#include "config/secret.h"

namespace dbcanary {

std::string ShowRedisReply(const RedisReply& reply) {
  std::string shown(RedisTypeName(reply.type()));
  switch (reply.type()) {
    case RedisType::kStatus: {
      std::string text;
      for (char c : reply.text().substr(0, 40)) {
        text.push_back(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f ? c : '?');
      }
      return shown + " \"" + text + "\"";
    }
    case RedisType::kInteger:
      return shown + " " + std::to_string(reply.integer());
    case RedisType::kString:
      return shown + " of " + std::to_string(reply.text().size()) + " bytes";
    case RedisType::kArray:
      return shown + " of " + std::to_string(reply.size()) + " elements";
    default:
      return shown;
  }
}

Error RedisProblem(const RedisClient& client, ErrorCode code, std::string_view op,
                   const std::string& what, ErrorCause cause) {
  return MakeError(code, RedactSecrets(client.describe() + ": " + std::string(op) + ": " + what),
                   std::move(cause));
}

Result<std::string> RedisInfoText(RedisClient& client, std::string_view section) {
  auto reply = client.Command({"INFO", section});
  if (!reply) return reply.error();
  // Dragonfly sends a verbatim string, which RESP2 delivers as a bulk string.
  if (!reply->Is(RedisType::kString)) {
    return RedisProblem(client, ErrorCode::kProtocol, "INFO",
                        "expected a string, got " + ShowRedisReply(*reply));
  }
  return std::string(reply->text());
}

}  // namespace dbcanary
