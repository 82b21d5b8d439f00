// SPDX-License-Identifier: MIT
// The log sink and the periodic statistics line.

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <memscope/log.hpp>

namespace {
struct Capture {
    std::vector<std::pair<memscope::LogLevel, std::string>> lines;
    Capture() {
        memscope::set_log_sink([this](memscope::LogLevel level, std::string_view m) {
            lines.emplace_back(level, std::string(m));
        });
    }
    ~Capture() {
        memscope::set_log_sink({});
        memscope::set_log_level(memscope::LogLevel::info);
    }
};
}  // namespace

TEST_CASE("a replaced sink receives messages with their level") {
    Capture cap;
    memscope::log(memscope::LogLevel::warning, "hello");
    REQUIRE(cap.lines.size() == 1);
    CHECK(cap.lines[0].first == memscope::LogLevel::warning);
    CHECK(cap.lines[0].second == "hello");
    CHECK(memscope::to_string(memscope::LogLevel::error) == "error");
}

TEST_CASE("messages below the minimum level are dropped") {
    Capture cap;
    memscope::log(memscope::LogLevel::debug, "hidden by default");
    CHECK(cap.lines.empty());
    memscope::set_log_level(memscope::LogLevel::error);
    memscope::log(memscope::LogLevel::warning, "hidden");
    memscope::log(memscope::LogLevel::error, "shown");
    REQUIRE(cap.lines.size() == 1);
    CHECK(cap.lines[0].second == "shown");
    CHECK(memscope::log_level() == memscope::LogLevel::error);
}

TEST_CASE("log_periodic_stats prints the specification's line every 300 frames") {
    Capture cap;
    CHECK(memscope::log_periodic_stats(300));
    CHECK_FALSE(memscope::log_periodic_stats(301));
    CHECK(memscope::log_periodic_stats(600));
    CHECK_FALSE(memscope::log_periodic_stats(10, 0));
    CHECK(memscope::log_periodic_stats(20, 10));
    REQUIRE(cap.lines.size() == 3);
    // "Frame 300: Memory 1.2MB (peak 3.4MB), Allocs: 56 net" (no std::regex: GCC 12 warns
    // falsely about it under the sanitizers, and CI builds with -Werror).
    double memory = -1, peak = -1;
    long long net = 0;
    char tail[8] = {};
    CHECK(std::sscanf(cap.lines[0].second.c_str(),
                      "Frame 300: Memory %lfMB (peak %lfMB), Allocs: %lld %3s", &memory, &peak,
                      &net, tail) == 4);
    CHECK(std::string(tail) == "net");
    CHECK(memory >= 0);
    CHECK(peak >= memory);
    CHECK(cap.lines[0].second.find(".") != std::string::npos);
    CHECK(cap.lines[0].first == memscope::LogLevel::info);
    CHECK(cap.lines[2].second.rfind("Frame 20: ", 0) == 0);
}
