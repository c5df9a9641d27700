#include "exporter/drill_handover.h"

#include <utility>

namespace dbcanary {

DrillHandover::DrillHandover() {
  thread_ = std::thread([this] { Loop(); });
}

DrillHandover::~DrillHandover() { Shutdown(); }

void DrillHandover::Replace(std::unique_ptr<DrillGeneration> next) {
  std::unique_ptr<DrillGeneration> dropped;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  if (shutdown_) return;
  dropped = std::move(waiting_);
  waiting_ = std::move(next);
  has_waiting_ = true;
  changed_.notify_all();
}

void DrillHandover::Shutdown() {
  std::unique_ptr<DrillGeneration> dropped;
  {
    std::lock_guard lock(mutex_);
    shutdown_ = true;
    dropped = std::move(waiting_);
    has_waiting_ = false;
    changed_.notify_all();
  }
  dropped.reset();
  if (thread_.joinable()) thread_.join();  // waits for a stop in progress
  std::unique_ptr<DrillGeneration> running;
  {
    std::lock_guard lock(mutex_);
    running = std::move(running_);
  }
  if (running) running->Stop();
}

bool DrillHandover::switching() const {
  std::lock_guard lock(mutex_);
  return switching_;
}

void DrillHandover::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return shutdown_ || has_waiting_; });
    if (shutdown_) return;
    std::unique_ptr<DrillGeneration> old = std::move(running_);
    if (old) {
      switching_ = true;
      lock.unlock();
      old->Stop();  // the drill's cleanup: may take its whole budget
      old.reset();
      lock.lock();
      switching_ = false;
      if (shutdown_) return;
    }
    // The newest generation asked for while the old one stopped.
    running_ = std::move(waiting_);
    has_waiting_ = false;
    if (running_) running_->Start();
  }
}

}  // namespace dbcanary
