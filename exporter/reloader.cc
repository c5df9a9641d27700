#include "exporter/reloader.h"

#include <exception>
#include <string>

namespace dbcanary {

Reloader::Reloader(std::function<Status()> reload) : reload_(std::move(reload)) {
  thread_ = std::thread([this] { Loop(); });
}

Reloader::~Reloader() { Stop(); }

uint64_t Reloader::Request() {
  std::lock_guard lock(mutex_);
  if (stopping_) return 0;
  uint64_t ticket = ++requested_;
  changed_.notify_all();
  return ticket;
}

std::optional<Status> Reloader::Wait(uint64_t ticket, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (ticket == 0) return std::nullopt;
  // A later reload may have overwritten last_ by now; it started after the ticket too, so its
  // outcome answers the request as well.
  if (!changed_.wait_for(lock, timeout, [&] { return finished_ >= ticket || stopping_; }) ||
      finished_ < ticket) {
    return std::nullopt;
  }
  return last_;
}

void Reloader::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Reloader::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

void Reloader::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || requested_ > started_; });
    if (stopping_) return;
    uint64_t covered = requested_;
    started_ = covered;
    ++runs_;
    lock.unlock();
    Status status = MakeError(ErrorCode::kInternal, "reload failed");
    try {
      status = reload_();
    } catch (const std::exception& error) {
      status = MakeError(ErrorCode::kInternal, std::string("reload failed: ") + error.what());
    } catch (...) {
    }
    lock.lock();
    finished_ = covered;
    last_ = std::move(status);
    changed_.notify_all();
  }
}

}  // namespace dbcanary
