#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

// The failover drill's writer records one entry per numbered write; these pure functions turn
// the record into the figures the drill exports (unit-tested without servers).

namespace dbcanary {

// One write attempt through the pooler: seq is written at most once (a failed seq is not
// retried: it may have committed anyway, so it is "ambiguous", never "lost").
struct WriteAttempt {
  int64_t seq = 0;
  double started = 0;   // seconds since the drill's time origin (steady clock)
  double finished = 0;  // when the acknowledgement or the error arrived
  bool acknowledged = false;
};

// Write attempts of one window of the drill, by outcome.
struct WriteWindow {
  int64_t acknowledged = 0;
  int64_t failed = 0;
};

struct WriteLogAnalysis {
  int64_t attempts = 0;
  int64_t acknowledged = 0;
  int64_t failed = 0;
  // Longest interval between two consecutive acknowledgements (by finish time) that ends after
  // the trigger: the client-visible write unavailability, including writes that hung rather
  // than failed (a pooler queues clients while it has no server). NaN when no write was
  // acknowledged after the trigger.
  double downtime_seconds = 0;
  // The acknowledgements that bound that gap (seconds since the origin).
  double downtime_from = 0;
  double downtime_to = 0;
  // From the start of the first failed write after the trigger to the next acknowledgement;
  // 0 when no write failed after the trigger, NaN when none was acknowledged after it.
  double first_failure_to_ack_seconds = 0;
  // The first acknowledgement after the trigger whose write started after `resumed_after`
  // (see AnalyzeWrites); NaN when there is none.
  double first_ack_after = 0;
  // When the write acknowledged at first_ack_after started; NaN when there is none.
  double resumed_write_started = 0;
  // Attempts by when they started: before the trigger; from the trigger until the write whose
  // acknowledgement is first_ack_after started ("during"); from that write on ("after", which
  // includes it). With no such write, everything from the trigger on is "during".
  WriteWindow before;
  WriteWindow during;
  WriteWindow after;
  // Acknowledged seqs that are not on the new primary: must be empty with synchronous commit.
  std::vector<int64_t> lost;
  // Failed (unacknowledged) seqs that are on the new primary anyway: committed, but the
  // acknowledgement was lost with the connection. Informative, not an error.
  int64_t ambiguous_committed = 0;
};

// `trigger_at`: when the trigger started. `present`: the seqs found on the new primary (pass
// nullptr before the verification: `lost` stays empty). `resumed_after`: see first_ack_after.
WriteLogAnalysis AnalyzeWrites(const std::vector<WriteAttempt>& log, double trigger_at,
                               const std::set<int64_t>* present, double resumed_after);

// "lost 3 acknowledged writes: 17, 18, 19" style list, at most `max_items` numbers.
std::string FormatSeqs(const std::vector<int64_t>& seqs, size_t max_items = 20);

}  // namespace dbcanary
