#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "probes/dragonfly/dragonfly_roles.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "dragonfly_pubsub" on a `dragonfly[]` target, on the master. A subscriber connection
// SUBSCRIBEs to <prefix>pubsub:<random>; a second connection PUBLISHes a random payload there;
// the subscriber must receive ["message", channel, payload]. PUBLISH must report at least one
// receiver. Delivery latency (PUBLISH sent to message read) is
// dbcanary_dragonfly_pubsub_delivery_seconds{target}. Channels hold no data: nothing to expire.
// Ops: pubsub_connect, subscribe, publish, deliver.
// Params: none.
class DragonflyPubsubProbe : public Probe {
 public:
  DragonflyPubsubProbe(const Dragonfly& target, DragonflyMemberLister members);

  const std::vector<MetricDesc>& Describe() const override;
  ProbeResult Run(const ProbeContext& ctx) override;

 private:
  std::string target_;
  DragonflyMemberLister members_;  // configured or discovered; roles are asked each run
  std::string key_prefix_;
};

Result<std::unique_ptr<Probe>> CreateDragonflyPubsubProbe(const ProbeSettings& settings,
                                                          const Config& config);

}  // namespace dbcanary
