#include "probes/dragonfly/dragonfly_ops.h"

#include <fmt/format.h>

namespace dbcanary {

const std::vector<MetricDesc>& DragonflyOpMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kDragonflyOpDurationMetric,
       "Duration of each operation of the last Dragonfly probe run in seconds, by op (0 when "
       "the run did not reach it).",
       MetricType::kGauge},
      {kDragonflyOpSuccessMetric,
       "Whether each operation of the last Dragonfly probe run succeeded (1) or not (0), by op.",
       MetricType::kGauge},
  };
  return descs;
}

DragonflyOpRecorder::DragonflyOpRecorder(std::string target, std::span<const std::string_view> ops)
    : target_(std::move(target)) {
  ops_.reserve(ops.size());
  for (std::string_view op : ops) ops_.push_back(Op{std::string(op)});
}

DragonflyOpRecorder::Op* DragonflyOpRecorder::Find(std::string_view op) {
  for (auto& entry : ops_) {
    if (entry.name == op) return &entry;
  }
  return nullptr;
}

const DragonflyOpRecorder::Op* DragonflyOpRecorder::Find(std::string_view op) const {
  for (const auto& entry : ops_) {
    if (entry.name == op) return &entry;
  }
  return nullptr;
}

void DragonflyOpRecorder::Record(std::string_view op, double seconds, bool success) {
  Op* entry = Find(op);
  if (entry == nullptr) entry = &ops_.emplace_back(Op{std::string(op)});
  entry->seconds = seconds;
  entry->reached = true;
  entry->success = success;
}

bool DragonflyOpRecorder::Reached(std::string_view op) const {
  const Op* entry = Find(op);
  return entry != nullptr && entry->reached;
}

double DragonflyOpRecorder::Seconds(std::string_view op) const {
  const Op* entry = Find(op);
  return entry == nullptr ? 0 : entry->seconds;
}

void DragonflyOpRecorder::AppendTo(ProbeResult& result) const {
  for (const auto& op : ops_) {
    result.Add(kDragonflyOpDurationMetric, {{"target", target_}, {"op", op.name}}, op.seconds);
  }
  for (const auto& op : ops_) {
    result.Add(kDragonflyOpSuccessMetric, {{"target", target_}, {"op", op.name}},
               op.success ? 1 : 0);
  }
}

std::string DragonflyOpRecorder::Summary() const {
  std::string out;
  for (const auto& op : ops_) {
    if (!op.reached) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={:.3f}ms{}", op.name, op.seconds * 1000, op.success ? "" : "(failed)");
  }
  return out;
}

}  // namespace dbcanary
