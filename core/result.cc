#include "core/result.h"

namespace dbcanary {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kConnect:
      return "connect";
    case ErrorCode::kAuth:
      return "auth";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kQuery:
      return "query";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kTls:
      return "tls";
    case ErrorCode::kUnexpected:
      return "unexpected";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kStopped:
      return "stopped";
  }
  return "internal";
}

}  // namespace dbcanary
