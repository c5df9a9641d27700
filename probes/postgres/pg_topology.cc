#include "probes/postgres/pg_topology.h"

#include <cmath>
#include <limits>
#include <thread>

namespace dbcanary {

Status ParseInstanceRow(const PgTable& table, InstanceFacts& facts) {
  if (table.size() != 1) {
    return MakeError(ErrorCode::kProtocol,
                     "instance query returned " + std::to_string(table.size()) + " rows, want 1");
  }
  auto version = table.Text(0, "version");
  auto version_num = table.Number(0, "version_num");
  auto in_recovery = table.Bool(0, "in_recovery");
  auto start_time = table.Number(0, "start_time");
  auto system_id = table.Text(0, "system_identifier");
  auto timeline = table.Number(0, "timeline");
  for (const Error* error :
       {version ? nullptr : &version.error(), version_num ? nullptr : &version_num.error(),
        in_recovery ? nullptr : &in_recovery.error(), start_time ? nullptr : &start_time.error(),
        system_id ? nullptr : &system_id.error(), timeline ? nullptr : &timeline.error()}) {
    if (error != nullptr) return *error;
  }
  if (!version->has_value() || !version_num->has_value() || !in_recovery->has_value() ||
      !start_time->has_value() || !system_id->has_value()) {
    return MakeError(ErrorCode::kProtocol, "instance query returned NULL facts");
  }
  const std::string& full = **version;
  facts.version = full.substr(0, full.find(' '));
  facts.version_num = **version_num;
  facts.in_recovery = **in_recovery;
  facts.start_time = **start_time;
  facts.system_identifier = **system_id;
  facts.timeline = timeline->value_or(std::numeric_limits<double>::quiet_NaN());
  return Ok{};
}

int PgTopology::Primaries() const {
  int count = 0;
  for (const auto& member : members) count += member.facts.up && !member.facts.in_recovery;
  return count;
}

int PgTopology::Answering() const {
  int count = 0;
  for (const auto& member : members) count += member.facts.up;
  return count;
}

const PgMember* PgTopology::Primary() const {
  const PgMember* best = nullptr;
  for (const auto& member : members) {
    if (!member.facts.up || member.facts.in_recovery) continue;
    // A promoted instance starts a new timeline; the fenced-off old primary stays on its own.
    const double timeline = std::isnan(member.facts.timeline) ? 0 : member.facts.timeline;
    const double best_timeline =
        best == nullptr || std::isnan(best->facts.timeline) ? 0 : best->facts.timeline;
    if (best == nullptr || timeline > best_timeline) best = &member;
  }
  return best;
}

std::vector<const PgMember*> PgTopology::Standbys() const {
  const PgMember* primary = Primary();
  std::vector<const PgMember*> standbys;
  for (const auto& member : members) {
    if (&member != primary) standbys.push_back(&member);
  }
  return standbys;
}

Result<PgEndpoint> PgTopology::WriteEndpoint() const {
  if (read_write) return *read_write;
  if (const PgMember* primary = Primary()) return primary->endpoint;
  return NoPrimary();
}

Error PgTopology::NoPrimary() const {
  const std::string counts = Answering() == 0 ? std::string("no member answers")
                                              : std::to_string(Answering()) + " of " +
                                                    std::to_string(members.size()) +
                                                    " members answer, all in recovery";
  // A member that did not answer is most likely the primary: its own error (connect, timeout,
  // auth, ...) is the reason, so a primary that is down reads as one.
  for (const auto& member : members) {
    if (member.error) {
      return MakeError(member.error->code,
                       "cluster " + cluster + ": no primary (" + counts + "); " +
                           member.endpoint.name + ": " + member.error->message,
                       member.error->cause);
    }
  }
  return MakeError(ErrorCode::kUnexpected, "cluster " + cluster + ": no primary (" + counts + ")");
}

const PgMember* PgTopology::Find(const std::string& name) const {
  for (const auto& member : members) {
    if (member.endpoint.name == name) return &member;
  }
  return nullptr;
}

namespace {

void AskMember(PgMember& member, Deadline deadline, std::stop_token stop) {
  member.facts.server = member.endpoint.name;
  PgConnectOptions options;
  options.statement_timeout = deadline.Remaining();
  auto session = PgSession::Connect(member.endpoint, options, deadline, stop);
  if (!session) {
    member.error = session.error();
    return;
  }
  auto table = session->Query(kPgInstanceQuery, deadline, stop);
  session->Close();
  if (!table) {
    member.error = table.error();
    return;
  }
  auto parsed = ParseInstanceRow(*table, member.facts);
  if (!parsed) {
    member.error =
        MakeError(parsed.error().code, member.endpoint.Describe() + ": " + parsed.error().message);
    return;
  }
  member.facts.up = true;
}

}  // namespace

PgTopology ResolveTopology(const std::string& cluster, const std::vector<PgEndpoint>& members,
                           const std::optional<PgEndpoint>& read_write, Deadline deadline,
                           std::stop_token stop) {
  PgTopology topology;
  topology.cluster = cluster;
  topology.read_write = read_write;
  topology.members.resize(members.size());
  {
    // In parallel: one member that hangs costs its own wait, not the others'.
    std::vector<std::jthread> askers;
    askers.reserve(members.size());
    for (size_t i = 0; i < members.size(); ++i) {
      topology.members[i].endpoint = members[i];
      askers.emplace_back(
          [&topology, i, deadline, stop] { AskMember(topology.members[i], deadline, stop); });
    }
  }
  topology.resolved_at = SteadyClock::now();
  return topology;
}

}  // namespace dbcanary
