#pragma once

#include <string>
#include <string_view>

namespace dbcanary {

// The project version and the git revision the binary was built from.
std::string_view Version();
std::string_view Revision();

// "dbcanary VERSION (revision REV)", as `dbcanary --version` prints it.
std::string VersionLine();

}  // namespace dbcanary
