#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/result.h"

namespace dbcanary {

// Runs config reloads on a thread of its own, one at a time, so that neither an HTTP worker
// nor the signal loop ever blocks on one. Requests coalesce: any number of requests made
// while a reload runs are served by a single reload that starts after it (each must see the
// file as it was when asked, so the running one cannot serve them).
class Reloader {
 public:
  explicit Reloader(std::function<Status()> reload);
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Asks for a reload that starts after this call and returns at once with a ticket for
  // Wait(). After Stop(): 0, and nothing runs.
  uint64_t Request();
  // The outcome of the first reload that served `ticket`, or nullopt when none finished
  // within `timeout` (or the reloader stopped).
  std::optional<Status> Wait(uint64_t ticket, std::chrono::milliseconds timeout);
  // Lets the reload in progress finish, drops pending requests and joins the thread.
  // Idempotent.
  void Stop();
  // Reloads run so far (for tests: coalescing).
  uint64_t runs() const;

 private:
  void Loop();

  std::function<Status()> reload_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t requested_ = 0;  // tickets handed out; guarded by mutex_
  uint64_t started_ = 0;    // the last ticket covered by a started reload; guarded by mutex_
  uint64_t finished_ = 0;   // the last ticket covered by a finished reload; guarded by mutex_
  Status last_ = Ok{};      // the outcome of the last finished reload; guarded by mutex_
  uint64_t runs_ = 0;       // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;
};

}  // namespace dbcanary
