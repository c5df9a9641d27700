#pragma once

#include <string>
#include <string_view>

#include "clients/redis/redis_client.h"
#include "core/result.h"

namespace dbcanary {

// How messages show a reply: its type, and short status/integer text. Never the bytes of a
// string reply (they are data).
std::string ShowRedisReply(const RedisReply& reply);

// An Error naming the client's target and the op, redacted of secrets. `cause` is what the
// server said, typed (RedisErrorCause(reply) for an error reply read by the caller).
Error RedisProblem(const RedisClient& client, ErrorCode code, std::string_view op,
                   const std::string& what, ErrorCause cause = {});

// Runs INFO `section` and returns its text; kProtocol unless the reply is a string.
Result<std::string> RedisInfoText(RedisClient& client, std::string_view section);

}  // namespace dbcanary
