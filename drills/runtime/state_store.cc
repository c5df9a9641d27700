#include "drills/runtime/state_store.h"

#include "drills/runtime/report.h"

namespace dbcanary {
namespace {

std::atomic<uint64_t> g_last_generation{0};

uint64_t NextGeneration() { return g_last_generation.fetch_add(1, std::memory_order_relaxed) + 1; }

}  // namespace

DrillStateStore::DrillStateStore() : generation_(NextGeneration()) {}

void DrillStateStore::Bump() { generation_.store(NextGeneration(), std::memory_order_release); }

void DrillStateStore::SetDrills(std::vector<DrillInfo> drills, std::string reports_dir) {
  // Reports are read outside the lock: a scrape never waits for the disk.
  std::map<std::string, std::shared_ptr<const DrillRecord>> restored;
  {
    std::lock_guard lock(mutex_);
    for (const auto& info : drills) {
      if (!states_.contains(info.name) || reports_dir != reports_dir_) restored[info.name];
    }
  }
  for (auto& [name, record] : restored) {
    if (auto loaded = LoadNewestRecord(reports_dir, name)) {
      record = std::make_shared<const DrillRecord>(std::move(*loaded));
    }
  }
  std::lock_guard lock(mutex_);
  std::map<std::string, DrillState> next;
  order_.clear();
  for (auto& info : drills) {
    order_.push_back(info.name);
    DrillState state;
    if (auto found = states_.find(info.name); found != states_.end()) {
      state = std::move(found->second);
    }
    if (auto found = restored.find(info.name); found != restored.end() && found->second) {
      const auto& record = found->second;
      if (!state.last || state.last->finished_at < record->finished_at) state.last = record;
      std::optional<SystemTime> success = record->last_success_at;
      if (record->outcome == DrillOutcome::kPass) success = record->finished_at;
      if (success && (!state.last_success || *state.last_success < *success)) {
        state.last_success = success;
      }
    }
    state.info = std::move(info);
    next.emplace(state.info.name, std::move(state));
  }
  states_ = std::move(next);
  reports_dir_ = std::move(reports_dir);
  Bump();
}

void DrillStateStore::SetRunning(const std::string& drill, bool running) {
  std::lock_guard lock(mutex_);
  auto found = states_.find(drill);
  if (found == states_.end()) return;
  found->second.running = running;
  if (running) {
    found->second.running_since = std::chrono::system_clock::now();
  } else {
    found->second.running_since.reset();
  }
  Bump();
}

void DrillStateStore::SetNextRun(const std::string& drill, std::optional<SystemTime> at) {
  std::lock_guard lock(mutex_);
  if (auto found = states_.find(drill); found != states_.end()) {
    found->second.next_run = at;
    Bump();
  }
}

void DrillStateStore::Record(std::shared_ptr<const DrillRecord> record) {
  std::lock_guard lock(mutex_);
  auto found = states_.find(record->drill);
  if (found == states_.end()) return;
  DrillState& state = found->second;
  state.runs[static_cast<size_t>(record->outcome)]++;
  if (record->outcome == DrillOutcome::kPass) state.last_success = record->finished_at;
  state.last = std::move(record);
  Bump();
}

std::vector<DrillState> DrillStateStore::Snapshot() const {
  uint64_t generation = 0;
  return Snapshot(&generation);
}

std::vector<DrillState> DrillStateStore::Snapshot(uint64_t* generation) const {
  std::lock_guard lock(mutex_);
  *generation = generation_.load(std::memory_order_relaxed);
  std::vector<DrillState> states;
  states.reserve(order_.size());
  for (const auto& name : order_) states.push_back(states_.at(name));
  return states;
}

std::optional<DrillState> DrillStateStore::Find(const std::string& drill) const {
  std::lock_guard lock(mutex_);
  auto found = states_.find(drill);
  if (found == states_.end()) return std::nullopt;
  return found->second;
}

std::string DrillStateStore::reports_dir() const {
  std::lock_guard lock(mutex_);
  return reports_dir_;
}

std::optional<SystemTime> DrillStateStore::LastSuccess(const std::string& drill) const {
  std::lock_guard lock(mutex_);
  auto found = states_.find(drill);
  if (found == states_.end()) return std::nullopt;
  return found->second.last_success;
}

}  // namespace dbcanary
