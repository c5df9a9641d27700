#pragma once

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stop_token>

#include "core/deadline.h"

// The one wait of both load generators: a socket ready for `events`, bounded by the run's
// deadline and interrupted by its stop token within 100 ms.

namespace dbcanary::bench {

enum class Wait { kReady, kExpired, kStopped, kError };

inline Wait WaitFd(int fd, short events, Deadline deadline, const std::stop_token& stop) {
  while (true) {
    if (stop.stop_requested() && !deadline.Expired()) return Wait::kStopped;
    const auto left = deadline.Remaining();
    if (left.count() <= 0) return Wait::kExpired;
    pollfd pfd{fd, events, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (n > 0) return Wait::kReady;
    if (n < 0 && errno != EINTR) return Wait::kError;
  }
}

}  // namespace dbcanary::bench
