#include "drills/failover/write_log.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dbcanary {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using Acks = std::vector<const WriteAttempt*>;  // acknowledged attempts by finish time

// Longest gap between consecutive acknowledgements ending after the trigger. Before the first
// acknowledgement after the trigger, the previous one is the last before it (or the trigger
// itself when nothing was acknowledged before). Returns whether any ended after the trigger.
bool FindLongestGap(const Acks& acks, double trigger_at, WriteLogAnalysis& out) {
  out.downtime_seconds = kNaN;
  double previous = trigger_at;
  bool have_after = false;
  for (const WriteAttempt* ack : acks) {
    if (ack->finished <= trigger_at) {
      previous = ack->finished;
      continue;
    }
    const double gap = ack->finished - previous;
    if (!have_after || gap > out.downtime_seconds) {
      out.downtime_seconds = gap;
      out.downtime_from = previous;
      out.downtime_to = ack->finished;
    }
    have_after = true;
    previous = ack->finished;
  }
  return have_after;
}

// First failure after the trigger -> the next acknowledgement.
double FirstFailureToAck(const std::vector<WriteAttempt>& log, const Acks& acks, double trigger_at,
                         bool acknowledged_after_trigger) {
  const WriteAttempt* first_failure = nullptr;
  for (const auto& attempt : log) {
    if (!attempt.acknowledged && attempt.started >= trigger_at &&
        (first_failure == nullptr || attempt.started < first_failure->started)) {
      first_failure = &attempt;
    }
  }
  if (first_failure == nullptr) return acknowledged_after_trigger ? 0 : kNaN;
  for (const WriteAttempt* ack : acks) {
    if (ack->started >= first_failure->started) return ack->finished - first_failure->started;
  }
  return kNaN;
}

// first_ack_after and resumed_write_started, then the before/during/after windows they bound.
void SplitWindows(const std::vector<WriteAttempt>& log, const Acks& acks, double trigger_at,
                  double resumed_after, WriteLogAnalysis& out) {
  out.first_ack_after = kNaN;
  out.resumed_write_started = kNaN;
  for (const WriteAttempt* ack : acks) {
    if (ack->finished > trigger_at && ack->started >= resumed_after) {
      out.first_ack_after = ack->finished;
      out.resumed_write_started = ack->started;
      break;
    }
  }
  const double after_from = std::isnan(out.resumed_write_started)
                                ? std::numeric_limits<double>::infinity()
                                : out.resumed_write_started;
  for (const auto& attempt : log) {
    WriteWindow& window = attempt.started < trigger_at   ? out.before
                          : attempt.started < after_from ? out.during
                                                         : out.after;
    ++(attempt.acknowledged ? window.acknowledged : window.failed);
  }
}

}  // namespace

WriteLogAnalysis AnalyzeWrites(const std::vector<WriteAttempt>& log, double trigger_at,
                               const std::set<int64_t>* present, double resumed_after) {
  WriteLogAnalysis out;
  Acks acks;
  for (const auto& attempt : log) {
    ++out.attempts;
    if (attempt.acknowledged) {
      ++out.acknowledged;
      acks.push_back(&attempt);
    } else {
      ++out.failed;
    }
  }
  std::sort(acks.begin(), acks.end(),
            [](const WriteAttempt* a, const WriteAttempt* b) { return a->finished < b->finished; });
  const bool acknowledged_after_trigger = FindLongestGap(acks, trigger_at, out);
  out.first_failure_to_ack_seconds =
      FirstFailureToAck(log, acks, trigger_at, acknowledged_after_trigger);
  SplitWindows(log, acks, trigger_at, resumed_after, out);
  if (present != nullptr) {
    for (const auto& attempt : log) {
      const bool there = present->count(attempt.seq) > 0;
      if (attempt.acknowledged && !there) out.lost.push_back(attempt.seq);
      if (!attempt.acknowledged && there) ++out.ambiguous_committed;
    }
    std::sort(out.lost.begin(), out.lost.end());
  }
  return out;
}

std::string FormatSeqs(const std::vector<int64_t>& seqs, size_t max_items) {
  std::string text;
  for (size_t i = 0; i < seqs.size() && i < max_items; ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(seqs[i]);
  }
  if (seqs.size() > max_items) text += ", ... (" + std::to_string(seqs.size()) + " in all)";
  return text;
}

}  // namespace dbcanary
