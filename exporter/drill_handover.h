#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace dbcanary {

// What runs the drills of one config generation (the daemon's: a DrillScheduler). Started
// once; Stop() asks a running drill to stop and waits for it to clean up, which can take the
// drill's whole cleanup budget (minutes).
class DrillGeneration {
 public:
  virtual ~DrillGeneration() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

// Swaps drill generations on a reload without making the reload wait: the old generation is
// stopped on this object's own thread, and the new one starts only once the old one has
// stopped (never two drills at once). Until then the new one waits; a later Replace() takes
// its place, so any number of reloads during a long cleanup start one generation, the newest.
class DrillHandover {
 public:
  DrillHandover();
  ~DrillHandover();
  DrillHandover(const DrillHandover&) = delete;
  DrillHandover& operator=(const DrillHandover&) = delete;

  // Makes `next` (null: no drills) the generation to run, and returns at once.
  void Replace(std::unique_ptr<DrillGeneration> next);
  // Drops a generation still waiting, stops the running one and waits for it (its cleanup),
  // then joins the thread. Idempotent; Replace() does nothing afterwards.
  void Shutdown();
  // True while an old generation is being stopped (for tests and the log).
  bool switching() const;

 private:
  void Loop();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unique_ptr<DrillGeneration> running_;  // guarded by mutex_
  std::unique_ptr<DrillGeneration> waiting_;  // guarded by mutex_; valid when has_waiting_
  bool has_waiting_ = false;                  // guarded by mutex_
  bool switching_ = false;                    // guarded by mutex_
  bool shutdown_ = false;                     // guarded by mutex_
  std::thread thread_;
};

}  // namespace dbcanary
