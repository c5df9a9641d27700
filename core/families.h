#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/metric.h"

namespace dbcanary {

// Groups the samples probes and drills write into prometheus-cpp MetricFamily values, keeping
// the order in which families are first described. It also applies the rules that
// prometheus-cpp's TextSerializer does not check for families built outside its Registry:
//   - a family with an invalid metric name is refused at Describe() (and its samples dropped);
//   - a sample with an invalid label name (or a "__" prefix) is dropped;
//   - HELP text is escaped here (\\ and \n), since the serializer writes it verbatim;
//   - a duplicate label set of one family is dropped (first one wins);
//   - a family without samples is left out (the serializer would still write HELP/TYPE).
// Samples whose family has no description are dropped (a programmer error caught by tests).
class FamilyBuilder {
 public:
  // False when the name is not a valid metric name or is refused (the family is then ignored).
  bool Describe(const MetricDesc& desc);
  // Refuses any later description of `name`: names another part of /metrics owns.
  void Refuse(std::string_view name);
  // Every family described so far, in order, with the samples added so far.
  const std::vector<prometheus::MetricFamily>& Described() const { return families_; }
  void Add(const Sample& sample);
  std::vector<prometheus::MetricFamily> Take();

 private:
  // Render-path lookups stay O(1): a scrape holds hundreds of samples per family.
  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, size_t> family_index_;
  std::vector<std::unordered_set<std::string>> seen_label_sets_;
  std::unordered_set<std::string> refused_;
};

prometheus::MetricType ToPrometheusType(MetricType type);

// Escapes a HELP text as the exposition format wants it (\\ and \n); label values are escaped
// by the serializer itself.
std::string EscapeHelp(std::string_view help);

// Sets the value field that matches the family's type (gauge, counter or untyped).
void SetValue(prometheus::MetricType type, double value, prometheus::ClientMetric& metric);

// The text exposition format 0.0.4 of `families` from prometheus::TextSerializer, appended to
// `out`; families without samples are left out.
void AppendText(const std::vector<prometheus::MetricFamily>& families, std::string& out);

}  // namespace dbcanary
