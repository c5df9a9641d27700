#include "probes/pooler/pooler_roundtrip_probe.h"

#include <iterator>
#include <optional>
#include <utility>

#include "probes/postgres/pg_connection.h"

namespace dbcanary {
namespace {

// Simple query protocol, one statement, no prepared statement and no SET: nothing depends on
// getting the same server connection twice.
const std::string kReadQuery = "SELECT 1 AS one";

Status ReadOne(PgSession& session, const ProbeContext& ctx) {
  auto rows = session.Query(kReadQuery, ctx.deadline, ctx.stop);
  if (!rows) return rows.error();
  if (rows->size() != 1) {
    return MakeError(ErrorCode::kUnexpected, "SELECT 1 through " + session.describe() +
                                                 " returned " + std::to_string(rows->size()) +
                                                 " rows");
  }
  auto one = rows->Text(0, "one");
  if (!one) return one.error();
  if (*one != PgValue("1")) {
    return MakeError(ErrorCode::kUnexpected, "SELECT 1 through " + session.describe() +
                                                 " returned \"" + one->value_or("NULL") + "\"");
  }
  return Ok{};
}

// The statements of a run, after "connect". A later issue adds a write and a read-only proof
// here; each step is one phase.
struct Step {
  std::string_view phase;
  Status (*run)(PgSession& session, const ProbeContext& ctx);
};
constexpr Step kSteps[] = {
    {"query", &ReadOne},
};

class PoolerRoundtripProbe final : public Probe {
 public:
  PoolerRoundtripProbe(std::string target, PgConnection connection)
      : target_(std::move(target)), connection_(std::move(connection)) {}

  const std::vector<MetricDesc>& Describe() const override { return PoolerRoundtripMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    std::vector<PhaseOutcome> outcomes;
    for (auto phase : PoolerRoundtripPhases()) outcomes.push_back(PhaseOutcome{phase});
    auto finish = [&](std::optional<Error> error) {
      if (error) {
        result.Fail(std::move(*error));
      } else {
        result.success = true;
      }
      AppendPhaseSamples(target_, outcomes, result);
      return std::move(result);
    };

    auto started = SteadyClock::now();
    auto session = PgSession::Connect(connection_, PgConnectOptions{}, ctx.deadline, ctx.stop);
    outcomes[0] = {outcomes[0].phase, true, session.has_value(), SecondsSince(started)};
    if (!session) return finish(session.error());

    for (size_t i = 0; i < std::size(kSteps); ++i) {
      started = SteadyClock::now();
      Status status = kSteps[i].run(*session, ctx);
      outcomes[i + 1] = {outcomes[i + 1].phase, true, status.has_value(), SecondsSince(started)};
      if (!status) return finish(status.error());
    }
    session->Close();
    return finish(std::nullopt);
  }

 private:
  std::string target_;
  PgConnection connection_;
};

}  // namespace

const std::vector<MetricDesc>& PoolerRoundtripMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPoolerPhaseSeconds),
       "Time spent in each phase of the last round trip through the pooler (connect: TCP, TLS "
       "and authentication; query: SELECT 1), also when the phase failed; 0 if not reached.",
       MetricType::kGauge},
      {std::string(kPoolerPhaseSuccess),
       "Whether each phase of the last round trip through the pooler succeeded (1) or failed "
       "or was not reached (0).",
       MetricType::kGauge},
  };
  return descs;
}

const std::vector<std::string_view>& PoolerRoundtripPhases() {
  static const std::vector<std::string_view> phases = [] {
    std::vector<std::string_view> names = {"connect"};
    for (const auto& step : kSteps) names.push_back(step.phase);
    return names;
  }();
  return phases;
}

void AppendPhaseSamples(const std::string& target, const std::vector<PhaseOutcome>& outcomes,
                        ProbeResult& out) {
  for (const auto& outcome : outcomes) {
    Labels labels = {{"target", target}, {"phase", std::string(outcome.phase)}};
    out.Add(std::string(kPoolerPhaseSeconds), labels, outcome.reached ? outcome.seconds : 0);
    out.Add(std::string(kPoolerPhaseSuccess), std::move(labels),
            outcome.reached && outcome.success ? 1 : 0);
  }
}

Result<std::unique_ptr<Probe>> CreatePoolerRoundtripProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    if (settings.params) settings.params->Finish();  // no kind-specific keys (yet)
    const Pooler* pooler = config.FindPooler(settings.target);
    if (pooler == nullptr) {
      std::string message = "pooler_roundtrip: no pooler named \"" + settings.target + "\"";
      if (settings.params) settings.params->FailHere(message);
      return MakeError(ErrorCode::kConfig, message);
    }
    return std::unique_ptr<Probe>(
        std::make_unique<PoolerRoundtripProbe>(pooler->name, pooler->connection));
  });
}

}  // namespace dbcanary
