#pragma once

#include <set>
#include <string>

// Which label names a scrape of dbcanary adds to every series, read from the scrape objects we
// ship (deploy/kustomize/components/servicemonitor, vmservicescrape): an exporter label with one
// of these names is renamed to exported_<name> by Prometheus and vmagent (honor_labels is off).

namespace dbcanary::testing {

// The target labels of the shipped ServiceMonitor and VMServiceScrape: what both operators add
// to an endpoints-role scrape of a Service (job, instance, namespace, service, pod, container,
// endpoint, and node when an address is a Node: prometheus-operator's and the VictoriaMetrics
// operator's generated relabelings), plus every targetLabels, podTargetLabels and relabeling
// targetLabel the shipped objects declare. Empty with `*error` set when a file cannot be read or
// has no endpoints.
std::set<std::string> ShippedScrapeTargetLabels(std::string* error);

// The label names dbcanary keeps free besides those: `cluster`, the usual external label naming
// a platform in a shared store and the dashboard's $cluster variable (docs/metrics.md).
std::set<std::string> ReservedPlatformLabels();

// Every label name on a sample line of a Prometheus text exposition (comments skipped).
std::set<std::string> ExpositionLabelNames(const std::string& body);

}  // namespace dbcanary::testing
