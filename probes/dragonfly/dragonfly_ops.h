#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/deadline.h"
#include "core/metric.h"
#include "probes/probe.h"

namespace dbcanary {

inline constexpr char kDragonflyOpDurationMetric[] = "dbcanary_dragonfly_op_duration_seconds";
inline constexpr char kDragonflyOpSuccessMetric[] = "dbcanary_dragonfly_op_success";

// HELP/TYPE of the per-operation families every Dragonfly probe emits.
const std::vector<MetricDesc>& DragonflyOpMetricDescs();

// The time and outcome of each operation of one Dragonfly probe run. A probe declares its
// fixed op list up front; every op of it is exported each run, with duration 0 and success 0
// when the run never reached it, so the series of a failing target do not vanish.
class DragonflyOpRecorder {
 public:
  DragonflyOpRecorder(std::string target, std::span<const std::string_view> ops);

  // Runs `step` (returning a Result or Status), records its duration and whether it returned a
  // value, and passes its result on.
  template <typename Step>
  auto Time(std::string_view op, Step&& step) {
    auto start = SteadyClock::now();
    auto outcome = step();
    Record(op, SecondsSince(start), outcome.has_value());
    return outcome;
  }

  // Records an op; one outside the declared list is appended (it is still exported).
  void Record(std::string_view op, double seconds, bool success);
  bool Reached(std::string_view op) const;
  double Seconds(std::string_view op) const;
  // Adds both samples of every op to `result`, label target first, then op.
  void AppendTo(ProbeResult& result) const;
  // "connect=0.412ms ping=0.088ms ..." (ops reached so far), for debug logs.
  std::string Summary() const;

 private:
  struct Op {
    std::string name;
    double seconds = 0;
    bool reached = false;
    bool success = false;
  };
  Op* Find(std::string_view op);
  const Op* Find(std::string_view op) const;

  std::string target_;
  std::vector<Op> ops_;
};

}  // namespace dbcanary
