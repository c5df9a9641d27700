#include "exporter/version.h"

namespace dbcanary {

std::string_view Version() { return DBCANARY_VERSION; }
std::string_view Revision() { return DBCANARY_REVISION; }

std::string VersionLine() {
  return "dbcanary " + std::string(Version()) + " (revision " + std::string(Revision()) + ")";
}

}  // namespace dbcanary
