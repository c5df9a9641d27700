#include "core/random.h"

#include <cstdio>

namespace dbcanary {

std::mt19937_64& RandomEngine() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  return engine;
}

uint64_t RandomUint64() { return RandomEngine()(); }

std::string RandomHex64() {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(RandomUint64()));
  return text;
}

std::string RandomBytes(size_t count) {
  std::string out(count, '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  for (char& c : out) c = static_cast<char>(byte(RandomEngine()));
  return out;
}

int64_t UniformInt(int64_t low, int64_t high) {
  if (high <= low) return low;
  return std::uniform_int_distribution<int64_t>(low, high)(RandomEngine());
}

std::chrono::milliseconds UniformDuration(std::chrono::milliseconds low,
                                          std::chrono::milliseconds high) {
  return std::chrono::milliseconds(UniformInt(low.count(), high.count()));
}

}  // namespace dbcanary
