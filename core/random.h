#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace dbcanary {

// The process's one source of randomness: a std::mt19937_64 per thread, seeded from
// std::random_device. For tokens, jitter, keys and workload choices; not for cryptography.
std::mt19937_64& RandomEngine();

// 64 random bits; also the seed of an engine of its own (a benchmark client's).
uint64_t RandomUint64();

// 16 random lower-case hex digits.
std::string RandomHex64();

// `count` random bytes, any value.
std::string RandomBytes(size_t count);

// Uniform in [low, high]; low when high < low.
int64_t UniformInt(int64_t low, int64_t high);

// Uniform whole milliseconds in [low, high]; low when high < low.
std::chrono::milliseconds UniformDuration(std::chrono::milliseconds low,
                                          std::chrono::milliseconds high);

}  // namespace dbcanary
