#pragma once

#include <string>
#include <string_view>

#include "exporter/core/result.h"
#include "probes/dragonfly/redis_connection.h"

namespace dbcanary {

// How messages show a reply: its type, and short status/integer text. Never the bytes of a
// string reply (they are data).
std::string ShowRedisReply(const RedisReply& reply);

// An Error naming the client's target and the op, redacted of secrets.
Error RedisProblem(const RedisClient& client, ErrorCode code, std::string_view op,
                   const std::string& what);

// 16 random hex digits (thread-local engine seeded from std::random_device).
std::string RandomHex64();

// Runs INFO `section` and returns its text; kProtocol unless the reply is a string.
Result<std::string> RedisInfoText(RedisClient& client, std::string_view section);

}  // namespace dbcanary
