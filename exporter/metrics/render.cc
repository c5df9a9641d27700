#include "exporter/metrics/render.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "core/deadline.h"
#include "core/families.h"
#include "drills/runtime/drill_metrics.h"
#include "probes/runtime/expectation_metrics.h"

namespace dbcanary {
namespace {

using Type = MetricType;

const MetricDesc kProbeSuccess{"dbcanary_probe_success",
                               "1 if the last run of the probe succeeded, 0 if it failed or has "
                               "not run yet.",
                               Type::kGauge};
const MetricDesc kProbeDuration{"dbcanary_probe_duration_seconds",
                                "How long the last run of the probe took, in seconds.",
                                Type::kGauge};
const MetricDesc kProbeLastRun{"dbcanary_probe_last_run_timestamp_seconds",
                               "Unix time at which the last run of the probe finished.",
                               Type::kGauge};
const MetricDesc kProbeLastSuccess{"dbcanary_probe_last_success_timestamp_seconds",
                                   "Unix time at which the last successful run of the probe "
                                   "finished.",
                                   Type::kGauge};
const MetricDesc kProbeRuns{"dbcanary_probe_runs_total", "Finished runs of the probe.",
                            Type::kCounter};
const MetricDesc kProbeFailures{"dbcanary_probe_failures_total",
                                "Failed runs of the probe, by reason (an error code name).",
                                Type::kCounter};
const MetricDesc kProbeSkipped{"dbcanary_probe_skipped_total",
                               "Runs not started because the previous run of the probe was "
                               "still in flight.",
                               Type::kCounter};
const MetricDesc kProbeInterval{"dbcanary_probe_interval_seconds",
                                "Configured interval between runs of the probe, in seconds.",
                                Type::kGauge};
const MetricDesc kProbeTimeout{"dbcanary_probe_timeout_seconds",
                               "Configured deadline of one run of the probe, in seconds.",
                               Type::kGauge};

// Labelled {probe, target} by the probe's key: never two equal series from two probes.
constexpr std::array kProbeStateFamilies = {
    &kProbeSuccess,  &kProbeDuration, &kProbeLastRun,  &kProbeLastSuccess, &kProbeRuns,
    &kProbeFailures, &kProbeSkipped,  &kProbeInterval, &kProbeTimeout,
};

double UnixSeconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

double Seconds(std::chrono::milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

// A builder that refuses the self metrics' names, with the families every probe shares.
FamilyBuilder ProbeFamilyBuilder() {
  FamilyBuilder builder;
  for (std::string_view name : SelfMetrics::FamilyNames()) builder.Refuse(name);
  for (const auto* desc : kProbeStateFamilies) builder.Describe(*desc);
  DescribeExpectationFamilies(builder);
  return builder;
}

void AddProbeState(const ProbeSnapshot& probe, FamilyBuilder& builder) {
  const ProbeInfo& info = *probe.info;
  const ProbeCounters& counters = probe.counters;
  Labels labels{{"probe", info.key.kind}, {"target", info.key.target}};
  const ProbeResult* latest = probe.latest.get();
  // Never-ran is not failed: until the first result the success series is absent (runs_total 0
  // says the probe exists), so a restart or rollout raises no alert while probes first run.
  if (latest != nullptr) {
    builder.Add({kProbeSuccess.name, labels, latest->success ? 1.0 : 0.0});
    builder.Add({kProbeDuration.name, labels, latest->duration_seconds});
    builder.Add({kProbeLastRun.name, labels, UnixSeconds(latest->finished_at)});
  }
  if (counters.last_success) {
    builder.Add({kProbeLastSuccess.name, labels, UnixSeconds(*counters.last_success)});
  }
  builder.Add({kProbeRuns.name, labels, static_cast<double>(counters.runs)});
  for (size_t i = 0; i < kAllErrorCodes.size(); ++i) {
    Labels reason = labels;
    reason.emplace_back("reason", std::string(ErrorCodeName(kAllErrorCodes[i])));
    builder.Add(
        {kProbeFailures.name, std::move(reason), static_cast<double>(counters.failures[i])});
  }
  builder.Add({kProbeSkipped.name, labels, static_cast<double>(counters.skipped)});
  builder.Add({kProbeInterval.name, labels, Seconds(info.interval)});
  builder.Add({kProbeTimeout.name, std::move(labels), Seconds(info.timeout)});
}

void AddProbe(const ProbeSnapshot& probe, FamilyBuilder& builder) {
  AddProbeState(probe, builder);
  if (!probe.latest) return;
  AddExpectationSamples(probe.latest->expectations, probe.info->key.target, builder);
  // Only families this probe described: a sample outside them is dropped, not rendered
  // without HELP/TYPE or into another probe's family.
  for (const auto& sample : probe.latest->samples) {
    for (const auto& desc : probe.info->descriptors) {
      if (desc.name == sample.name) {
        builder.Add(sample);
        break;
      }
    }
  }
}

// Describes every family of the probes and drills, in exposition order.
void DescribeAll(const std::vector<ProbeSnapshot>& probes, const std::vector<DrillState>& drills,
                 FamilyBuilder& builder) {
  for (const auto& probe : probes) {
    for (const auto& desc : probe.info->descriptors) builder.Describe(desc);
  }
  DescribeDrillMetrics(drills, builder);
}

// One family's sample lines (TextSerializer's output without its HELP and TYPE lines).
std::string SampleLines(prometheus::MetricFamily family) {
  family.help.clear();  // then the serializer writes one TYPE line before the samples
  std::vector<prometheus::MetricFamily> one;
  one.push_back(std::move(family));
  std::string text;
  AppendText(one, text);
  text.erase(0, text.find('\n') + 1);
  return text;
}

// HELP and TYPE of a family: what the serializer writes for it with no samples.
std::string Header(const prometheus::MetricFamily& described) {
  std::vector<prometheus::MetricFamily> one{{described.name, described.help, described.type, {}}};
  std::ostringstream stream;
  static const prometheus::TextSerializer kSerializer;
  kSerializer.Serialize(stream, one);
  return std::move(stream).str();
}

}  // namespace

std::vector<prometheus::MetricFamily> ResultCollector::CollectFrom(
    const std::vector<ProbeSnapshot>& probes, const std::vector<DrillState>& drills) {
  FamilyBuilder builder = ProbeFamilyBuilder();
  DescribeAll(probes, drills, builder);
  for (const auto& probe : probes) AddProbe(probe, builder);
  AddDrillMetrics(drills, builder);
  return builder.Take();
}

std::vector<prometheus::MetricFamily> ResultCollector::Collect() const {
  std::vector<DrillState> drills;
  if (drills_ != nullptr) drills = drills_->Snapshot();
  return CollectFrom(store_.Snapshot(), drills);
}

std::string RenderMetrics(const MetricsInput& input, SelfMetrics& self) {
  self.SetProbes(input.probes.size());
  std::string body;
  AppendText(ResultCollector::CollectFrom(input.probes, input.drills), body);
  AppendText(self.Collect(), body);
  return body;
}

// ---------------------------------------------------------------------------------------------
// The render cache: per-probe segments spliced per family.

namespace {

// One probe's (or the drills') lines of one family.
struct Chunk {
  std::string family;
  uint32_t index = 0;  // in the layout of `layout_version`
  std::string text;
};

std::vector<Chunk> Chunks(std::vector<prometheus::MetricFamily> families) {
  std::vector<Chunk> chunks;
  chunks.reserve(families.size());
  for (auto& family : families) {
    std::string name = family.name;
    chunks.push_back({std::move(name), 0, SampleLines(std::move(family))});
  }
  return chunks;
}

struct Segment {
  // What the text was rendered from; holding the pointers keeps them from being reused.
  std::shared_ptr<const ProbeInfo> info;
  std::shared_ptr<const ProbeResult> latest;
  uint64_t runs = 0;
  uint64_t skipped = 0;
  uint64_t layout_version = 0;
  std::vector<Chunk> chunks;

  bool Matches(const ProbeSnapshot& probe) const {
    return info == probe.info && latest == probe.latest && runs == probe.counters.runs &&
           skipped == probe.counters.skipped;
  }
};

Segment RenderSegment(const ProbeSnapshot& probe) {
  FamilyBuilder builder = ProbeFamilyBuilder();
  for (const auto& desc : probe.info->descriptors) builder.Describe(desc);
  AddProbe(probe, builder);
  return Segment{probe.info, probe.latest,          probe.counters.runs, probe.counters.skipped,
                 0,          Chunks(builder.Take())};
}

// The families in exposition order with their HELP/TYPE text, for one probe set and drill state.
struct Layout {
  uint64_t version = 0;
  std::vector<const ProbeInfo*> infos;
  uint64_t drills_generation = 0;
  std::vector<std::string> headers;
  // Two segments may hold the same series of these families (an expectation two probes
  // report, a family two probe kinds describe): the first one is kept, as the collector does.
  std::vector<bool> may_repeat;
  std::unordered_map<std::string, uint32_t> index;
};

void Resolve(const Layout& layout, Segment& segment) {
  if (segment.layout_version == layout.version) return;
  for (auto& chunk : segment.chunks) {
    auto found = layout.index.find(chunk.family);
    chunk.index =
        found == layout.index.end() ? std::numeric_limits<uint32_t>::max() : found->second;
  }
  segment.layout_version = layout.version;
}

// The series of a sample line: everything before the value.
std::string_view SeriesOf(std::string_view line) { return line.substr(0, line.rfind(' ')); }

}  // namespace

struct RenderCache::State {
  uint64_t store_generation = 0;
  uint64_t drills_generation = 0;
  bool have_drills = false;
  Layout layout;
  std::vector<Segment> probes;  // in the store's order
  Segment drills;
  std::shared_ptr<const Text> text;
};

RenderCache::RenderCache() : state_(std::make_unique<State>()) {}
RenderCache::~RenderCache() = default;

namespace {

bool SameProbeSet(const std::vector<ProbeSnapshot>& probes,
                  const std::vector<const ProbeInfo*>& infos) {
  if (probes.size() != infos.size()) return false;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].info.get() != infos[i]) return false;
  }
  return true;
}

void RebuildLayout(const std::vector<ProbeSnapshot>& probes, const std::vector<DrillState>& drills,
                   uint64_t drills_generation, Layout& layout) {
  FamilyBuilder builder = ProbeFamilyBuilder();
  DescribeAll(probes, drills, builder);
  const auto& described = builder.Described();
  layout.version += 1;
  layout.infos.clear();
  for (const auto& probe : probes) layout.infos.push_back(probe.info.get());
  layout.drills_generation = drills_generation;
  layout.headers.clear();
  layout.may_repeat.clear();
  layout.index.clear();
  std::unordered_set<std::string_view> described_by_probes;
  for (const auto& probe : probes) {
    for (const auto& desc : probe.info->descriptors) described_by_probes.insert(desc.name);
  }
  for (const auto& family : described) {
    bool state = std::any_of(kProbeStateFamilies.begin(), kProbeStateFamilies.end(),
                             [&](const MetricDesc* desc) { return desc->name == family.name; });
    layout.index.emplace(family.name, static_cast<uint32_t>(layout.headers.size()));
    layout.headers.push_back(Header(family));
    layout.may_repeat.push_back(!state || described_by_probes.contains(family.name));
  }
}

// Updates the probe segments to `probes`, re-rendering only the ones that changed.
void UpdateSegments(const std::vector<ProbeSnapshot>& probes, std::vector<Segment>& segments) {
  std::vector<Segment> next;
  next.reserve(probes.size());
  std::unordered_map<const ProbeInfo*, size_t> old_at;
  bool aligned = probes.size() == segments.size();
  for (size_t i = 0; aligned && i < probes.size(); ++i) {
    aligned = segments[i].info == probes[i].info;
  }
  if (!aligned) {
    for (size_t i = 0; i < segments.size(); ++i) old_at.emplace(segments[i].info.get(), i);
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    Segment* old = nullptr;
    if (aligned) {
      old = &segments[i];
    } else if (auto found = old_at.find(probes[i].info.get()); found != old_at.end()) {
      old = &segments[found->second];
    }
    if (old != nullptr && old->Matches(probes[i])) {
      next.push_back(std::move(*old));
    } else {
      next.push_back(RenderSegment(probes[i]));
    }
  }
  segments = std::move(next);
}

std::string Splice(Layout& layout, std::vector<Segment>& probes, Segment& drills) {
  std::vector<std::vector<const Chunk*>> by_family(layout.headers.size());
  size_t size = 0;
  auto collect = [&](Segment& segment) {
    Resolve(layout, segment);
    for (const auto& chunk : segment.chunks) {
      if (chunk.index >= by_family.size()) continue;
      by_family[chunk.index].push_back(&chunk);
      size += chunk.text.size();
    }
  };
  for (auto& segment : probes) collect(segment);
  collect(drills);
  for (size_t i = 0; i < by_family.size(); ++i) {
    if (!by_family[i].empty()) size += layout.headers[i].size();
  }
  std::string text;
  text.reserve(size);
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < by_family.size(); ++i) {
    const auto& chunks = by_family[i];
    if (chunks.empty()) continue;
    text += layout.headers[i];
    if (!layout.may_repeat[i] || chunks.size() == 1) {
      for (const Chunk* chunk : chunks) text += chunk->text;
      continue;
    }
    seen.clear();
    for (const Chunk* chunk : chunks) {
      std::string_view rest = chunk->text;
      while (!rest.empty()) {
        size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end + 1);
        rest.remove_prefix(line.size());
        if (seen.insert(SeriesOf(line.substr(0, line.size() - 1))).second) text += line;
      }
    }
  }
  return text;
}

}  // namespace

std::shared_ptr<const RenderCache::Text> RenderCache::Get(const ResultStore& store,
                                                          const DrillStateStore* drills) {
  std::lock_guard lock(mutex_);
  State& state = *state_;
  // Generations are unique per store object, so a text never matches another store.
  uint64_t drills_now = drills != nullptr ? drills->generation() : 0;
  if (state.text && state.store_generation == store.generation() &&
      state.drills_generation == drills_now && state.have_drills == (drills != nullptr)) {
    return state.text;
  }
  uint64_t store_at = 0;
  uint64_t drills_at = 0;
  std::vector<ProbeSnapshot> probes = store.Snapshot(&store_at);
  std::vector<DrillState> drill_states;
  if (drills != nullptr) drill_states = drills->Snapshot(&drills_at);

  bool drills_changed = !state.text || drills_at != state.drills_generation ||
                        state.have_drills != (drills != nullptr);
  if (drills_changed || !SameProbeSet(probes, state.layout.infos)) {
    RebuildLayout(probes, drill_states, drills_at, state.layout);
  }
  UpdateSegments(probes, state.probes);
  if (drills_changed) {
    FamilyBuilder builder;
    for (std::string_view name : SelfMetrics::FamilyNames()) builder.Refuse(name);
    DescribeDrillMetrics(drill_states, builder);
    AddDrillMetrics(drill_states, builder);
    state.drills = Segment{};
    state.drills.chunks = Chunks(builder.Take());
  }
  auto text = std::make_shared<Text>();
  text->probes = probes.size();
  text->text = Splice(state.layout, state.probes, state.drills);
  state.store_generation = store_at;
  state.drills_generation = drills_at;
  state.have_drills = drills != nullptr;
  state.text = text;
  return text;
}

std::string Scrape(const ResultStore& store, SelfMetrics& self, const DrillStateStore* drills,
                   RenderCache* cache) {
  auto started = SteadyClock::now();
  self.CountScrape();
  if (auto process = ReadProcessStats()) self.SetProcessStats(*process);
  std::shared_ptr<const RenderCache::Text> part;
  if (cache != nullptr) {
    part = cache->Get(store, drills);
  } else {
    auto fresh = std::make_shared<RenderCache::Text>();
    std::vector<ProbeSnapshot> probes = store.Snapshot();
    std::vector<DrillState> states;
    if (drills != nullptr) states = drills->Snapshot();
    fresh->probes = probes.size();
    AppendText(ResultCollector::CollectFrom(probes, states), fresh->text);
    part = std::move(fresh);
  }
  self.SetProbes(part->probes);
  std::string body;
  body.reserve(part->text.size() + 8192);
  body = part->text;
  AppendText(self.Collect(), body);
  self.ObserveScrapeDuration(SecondsSince(started));
  return body;
}

}  // namespace dbcanary
