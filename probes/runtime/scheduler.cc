#include "probes/runtime/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <stop_token>
#include <utility>

#include "core/deadline.h"
#include "core/random.h"
#include "probes/runtime/run_guarded.h"

namespace dbcanary {
namespace {

struct Entry {
  std::shared_ptr<const ProbeInfo> info;
  std::unique_ptr<Probe> probe;
  std::shared_ptr<spdlog::logger> log;
  bool busy = false;  // queued or running; guarded by State::mutex
};

struct Due {
  SteadyClock::time_point at;
  size_t index;
  bool operator>(const Due& other) const { return at > other.at; }
};

void LogStateChange(const Entry& entry, std::optional<bool> before, const ProbeResult& result) {
  if (before == result.success) return;
  if (!result.success) {
    entry.log->warn("probe failing on target {}: {}: {}", entry.info->key.target,
                    ErrorCodeName(result.error->code), result.error->message);
  } else if (before.has_value()) {
    entry.log->info("probe recovered on target {}", entry.info->key.target);
  } else {
    entry.log->debug("first run succeeded on target {}", entry.info->key.target);
  }
}

}  // namespace

struct Scheduler::State {
  State(ResultStore& result_store, SchedulerOptions scheduler_options)
      : store(result_store), options(std::move(scheduler_options)) {}

  ResultStore& store;
  SchedulerOptions options;
  std::vector<Entry> entries;
  std::stop_source stop;

  std::mutex mutex;
  std::condition_variable_any due_changed;  // wakes the scheduler thread
  std::condition_variable_any work_ready;   // wakes workers
  std::condition_variable thread_ended;     // wakes Join()
  std::priority_queue<Due, std::vector<Due>, std::greater<>> heap;
  std::deque<size_t> queue;
  int running_threads = 0;
  // Skipped runs since the last "falling behind" warning (at most one a minute).
  uint64_t skipped_unwarned = 0;
  SteadyClock::time_point last_lag_warning{};

  void CountSkipped(Entry& entry, SteadyClock::time_point now);

  void ScheduleLoop(std::stop_token token);
  void WorkerLoop(std::stop_token token);
  void ThreadEnded();
};

void Scheduler::State::ScheduleLoop(std::stop_token token) {
  std::unique_lock lock(mutex);
  while (!token.stop_requested()) {
    if (heap.empty()) {
      due_changed.wait(lock, token, [] { return false; });
      continue;
    }
    Due due = heap.top();
    auto now = SteadyClock::now();
    if (now < due.at) {
      due_changed.wait_until(lock, token, due.at, [] { return false; });
      continue;
    }
    heap.pop();
    Entry& entry = entries[due.index];
    if (entry.busy) {
      CountSkipped(entry, now);
    } else {
      entry.busy = true;
      queue.push_back(due.index);
      work_ready.notify_one();
    }
    // Fixed rate from the first run; after a stall (suspend, overloaded host) resume
    // at the next slot instead of firing the missed ones in a burst.
    auto interval = std::max(entry.info->interval, std::chrono::milliseconds(1));
    auto next = due.at + interval;
    if (next <= now) next += ((now - next) / interval + 1) * interval;
    heap.push(Due{next, due.index});
  }
}

void Scheduler::State::CountSkipped(Entry& entry, SteadyClock::time_point now) {
  store.CountSkipped(entry.info->key);  // dbcanary_probe_skipped_total
  entry.log->debug("run skipped: the previous run is still in flight");
  ++skipped_unwarned;
  if (now - last_lag_warning < std::chrono::minutes(1)) return;
  // Runs waiting for a worker mean the pool is too small for the load; say so once a minute
  // rather than once per probe per interval.
  spdlog::warn(
      "probes are falling behind their interval: {} run(s) skipped because the previous run was "
      "still queued or running ({} run(s) waiting for one of {} workers); raise exporter.workers "
      "or the intervals, or see dbcanary_probe_skipped_total for the slow probes",
      skipped_unwarned, queue.size(), std::max(options.workers, 1));
  skipped_unwarned = 0;
  last_lag_warning = now;
}

void Scheduler::State::WorkerLoop(std::stop_token token) {
  while (true) {
    size_t index = 0;
    {
      std::unique_lock lock(mutex);
      if (!work_ready.wait(lock, token, [&] { return !queue.empty(); })) return;
      index = queue.front();
      queue.pop_front();
    }
    Entry& entry = entries[index];
    auto result = std::make_shared<const ProbeResult>(
        RunGuarded(*entry.probe, entry.info->timeout, stop.get_token(), *entry.log));
    std::optional<bool> before;
    {
      // Publishing under the mutex means that once Stop() has taken it, no further
      // publish can reach a store that may be about to be destroyed.
      std::lock_guard lock(mutex);
      entry.busy = false;
      if (stop.stop_requested()) return;  // an interrupted run says nothing about the target
      before = store.Publish(entry.info->key, result);
    }
    LogStateChange(entry, before, *result);
  }
}

void Scheduler::State::ThreadEnded() {
  {
    std::lock_guard lock(mutex);
    --running_threads;
  }
  thread_ended.notify_all();
}

Scheduler::Scheduler(std::vector<ScheduledProbe> probes, ResultStore& store,
                     const SchedulerOptions& options)
    : state_(std::make_shared<State>(store, options)) {
  state_->entries.reserve(probes.size());
  for (auto& scheduled : probes) {
    Entry entry;
    entry.log = options.make_logger
                    ? options.make_logger(scheduled.info->key.kind, scheduled.info->key.target)
                    : spdlog::default_logger();
    entry.info = std::move(scheduled.info);
    entry.probe = std::move(scheduled.probe);
    state_->entries.push_back(std::move(entry));
  }
}

Scheduler::~Scheduler() { Join(kDefaultJoinLimit); }

void Scheduler::Start() {
  auto& state = *state_;
  auto now = SteadyClock::now();
  {
    std::lock_guard lock(state.mutex);
    for (size_t i = 0; i < state.entries.size(); ++i) {
      auto spread = std::min(state.entries[i].info->interval, state.options.first_run_spread);
      auto jitter =
          UniformDuration(std::chrono::milliseconds(0), spread - std::chrono::milliseconds(1));
      state.heap.push(Due{now + jitter, i});
    }
    state.running_threads = 1 + std::max(state.options.workers, 1);
  }
  auto token = state.stop.get_token();
  // Each thread holds the state, so a thread detached by Join() never dangles.
  threads_.emplace_back([state = state_, token] {
    state->ScheduleLoop(token);
    state->ThreadEnded();
  });
  for (int i = 0; i < std::max(state.options.workers, 1); ++i) {
    threads_.emplace_back([state = state_, token] {
      state->WorkerLoop(token);
      state->ThreadEnded();
    });
  }
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop.request_stop();
  }
  state_->due_changed.notify_all();
  state_->work_ready.notify_all();
}

bool Scheduler::Join(std::chrono::milliseconds limit) {
  Stop();
  // Threads already detached by an earlier Join are not waited for again.
  if (threads_.empty()) return Finished();
  bool ended = false;
  {
    std::unique_lock lock(state_->mutex);
    ended =
        state_->thread_ended.wait_for(lock, limit, [&] { return state_->running_threads == 0; });
  }
  for (auto& thread : threads_) {
    if (ended) {
      thread.join();
    } else {
      thread.detach();
    }
  }
  threads_.clear();
  return ended;
}

bool Scheduler::Finished() const {
  std::lock_guard lock(state_->mutex);
  return state_->running_threads == 0;
}

}  // namespace dbcanary
