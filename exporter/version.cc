#include "exporter/version.h"

namespace dbcanary {
namespace {

#if defined(__x86_64__)
constexpr std::string_view kArch = "amd64";
#elif defined(__aarch64__)
constexpr std::string_view kArch = "arm64";
#elif defined(__i386__)
constexpr std::string_view kArch = "386";
#elif defined(__arm__)
constexpr std::string_view kArch = "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr std::string_view kArch = "ppc64le";
#elif defined(__s390x__)
constexpr std::string_view kArch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
constexpr std::string_view kArch = "riscv64";
#else
constexpr std::string_view kArch = "unknown";
#endif

#if defined(__clang__)
constexpr std::string_view kCompiler = "Clang " __clang_version__;
#elif defined(__GNUC__)
constexpr std::string_view kCompiler = "GCC " __VERSION__;
#else
constexpr std::string_view kCompiler = "unknown";
#endif

std::string Field(std::string_view name, std::string_view value) {
  std::string line = "  " + std::string(name) + ":";
  line.resize(20, ' ');
  return line + std::string(value) + "\n";
}

}  // namespace

std::string_view Version() { return DBCANARY_VERSION; }
std::string_view Revision() { return DBCANARY_REVISION; }
std::string_view BuildDate() { return DBCANARY_BUILD_DATE; }

std::string_view Platform() {
  static const std::string platform = "linux/" + std::string(kArch);
  return platform;
}

std::string VersionLine() {
  return "dbcanary " + std::string(Version()) + " (revision " + std::string(Revision()) + ")";
}

std::string VersionText() {
  return "dbcanary, version " + std::string(Version()) + " (revision: " + std::string(Revision()) +
         ")\n" + Field("build date", BuildDate()) + Field("compiler", kCompiler) +
         Field("platform", Platform());
}

}  // namespace dbcanary
