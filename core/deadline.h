#pragma once

#include <algorithm>
#include <chrono>

namespace dbcanary {

using SteadyClock = std::chrono::steady_clock;

// The instant a probe run must have returned by. Every network wait is bounded by it.
class Deadline {
 public:
  explicit Deadline(SteadyClock::time_point at) : at_(at) {}
  static Deadline In(std::chrono::milliseconds budget) {
    return Deadline(SteadyClock::now() + budget);
  }

  SteadyClock::time_point at() const { return at_; }
  bool Expired() const { return SteadyClock::now() >= at_; }
  // Time left, never negative.
  std::chrono::milliseconds Remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - SteadyClock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
  // Time left in (fractional) seconds.
  double RemainingSeconds() const {
    return std::max(0.0, std::chrono::duration<double>(at_ - SteadyClock::now()).count());
  }

 private:
  SteadyClock::time_point at_;
};

// Seconds elapsed since `start` on the steady clock.
inline double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace dbcanary
