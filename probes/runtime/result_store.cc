#include "probes/runtime/result_store.h"

#include <utility>

namespace dbcanary {
namespace {

constexpr bool ErrorCodesAreIndexable() {
  for (size_t i = 0; i < kAllErrorCodes.size(); ++i) {
    if (static_cast<size_t>(kAllErrorCodes[i]) != i) return false;
  }
  return true;
}
static_assert(ErrorCodesAreIndexable(), "kAllErrorCodes must list ErrorCode in enum order");
static_assert(static_cast<size_t>(ErrorCode::kStopped) == kAllErrorCodes.size(),
              "kAllErrorCodes must list every ErrorCode but kStopped, the last one");

std::atomic<uint64_t> g_last_generation{0};

uint64_t NextGeneration() { return g_last_generation.fetch_add(1, std::memory_order_relaxed) + 1; }

}  // namespace

ResultStore::ResultStore() : generation_(NextGeneration()) {}

void ResultStore::Bump() { generation_.store(NextGeneration(), std::memory_order_release); }

void ResultStore::SetProbes(std::vector<std::shared_ptr<const ProbeInfo>> probes) {
  std::lock_guard lock(mutex_);
  std::vector<ProbeSnapshot> next;
  std::map<ProbeKey, size_t> next_index;
  next.reserve(probes.size());
  for (auto& info : probes) {
    ProbeSnapshot entry;
    if (auto it = index_.find(info->key); it != index_.end()) {
      entry = std::move(probes_[it->second]);
    }
    next_index.emplace(info->key, next.size());
    entry.info = std::move(info);
    next.push_back(std::move(entry));
  }
  probes_ = std::move(next);
  index_ = std::move(next_index);
  Bump();
}

std::optional<bool> ResultStore::Publish(const ProbeKey& key,
                                         std::shared_ptr<const ProbeResult> result) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  auto& entry = probes_[it->second];
  std::optional<bool> before;
  if (entry.latest) before = entry.latest->success;
  ++entry.counters.runs;
  if (result->success) {
    entry.counters.last_success = result->finished_at;
  } else {
    // The scheduler fills in an error for every failure; kInternal covers a bare one, and a
    // kStopped that should never have been published (see kAllErrorCodes).
    auto code = result->error ? result->error->code : ErrorCode::kInternal;
    auto reason = static_cast<size_t>(code);
    if (reason >= entry.counters.failures.size())
      reason = static_cast<size_t>(ErrorCode::kInternal);
    ++entry.counters.failures[reason];
  }
  entry.latest = std::move(result);
  Bump();
  return before;
}

void ResultStore::CountSkipped(const ProbeKey& key) {
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) {
    ++probes_[it->second].counters.skipped;
    Bump();
  }
}

std::vector<ProbeSnapshot> ResultStore::Snapshot() const {
  uint64_t generation = 0;
  return Snapshot(&generation);
}

std::vector<ProbeSnapshot> ResultStore::Snapshot(uint64_t* generation) const {
  std::lock_guard lock(mutex_);
  *generation = generation_.load(std::memory_order_relaxed);
  return probes_;
}

}  // namespace dbcanary
