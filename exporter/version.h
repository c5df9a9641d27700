#pragma once

#include <string>
#include <string_view>

namespace dbcanary {

// The project version and the git revision the binary was built from.
std::string_view Version();
std::string_view Revision();
// When the build was configured (UTC, RFC 3339; SOURCE_DATE_EPOCH when set, for reproducible
// builds) and the target it was built for, as GOOS/GOARCH name it ("linux/amd64").
std::string_view BuildDate();
std::string_view Platform();

// "dbcanary VERSION (revision REV)": one line, for logs and bench output.
std::string VersionLine();

// What `dbcanary --version` prints, in the multi-line form of Prometheus exporters:
//   dbcanary, version 0.1.0 (revision: 0123456789ab)
//     build date:       2026-12-03T17:00:00Z
//     compiler:         GCC 12.2.0
//     platform:         linux/amd64
std::string VersionText();

}  // namespace dbcanary
