// SPDX-License-Identifier: MIT
// The MEMSCOPE_* environment variables: the table, the parsers, the policy for a bad value,
// and that docs/configuration.md and the product's sources agree with the table.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <memscope/log.hpp>
#include <memscope/options.hpp>

#include "test_support.hpp"

namespace {

using Env = memscope_test::ScopedEnv;

// Every line logged while it lives, as one text.
struct Log : memscope_test::LogCapture {
    std::string all() const {
        std::string text;
        for (const auto& [level, line] : lines()) text += line + "\n";
        return text;
    }
};

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("unset and empty variables are absent") {
    Env port("MEMSCOPE_PORT", nullptr);
    Env config("MEMSCOPE_CONFIG", "");
    const memscope::Environment env = memscope::read_environment();
    CHECK_FALSE(env.port);
    CHECK_FALSE(env.config);
}

TEST_CASE("valid values are read as they are") {
    Env port("MEMSCOPE_PORT", "0");
    Env disable("MEMSCOPE_DISABLE", "1");
    Env bind("MEMSCOPE_BIND", "::1");
    Env token("MEMSCOPE_TOKEN", "s3cret");
    Env config("MEMSCOPE_CONFIG", "/etc/game/memscope.json");
    const memscope::Environment env = memscope::read_environment();
    CHECK(env.port == 0);
    CHECK(env.disable == true);
    CHECK(env.bind == "::1");
    CHECK(env.token == "s3cret");
    CHECK(env.config == "/etc/game/memscope.json");
    Env port2("MEMSCOPE_PORT", "65535");
    Env enable("MEMSCOPE_DISABLE", "0");
    CHECK(memscope::read_environment().port == 65535);
    CHECK(memscope::read_environment().disable == false);
}

TEST_CASE("a bad value: one warning naming variable and value, and the default kept") {
    Log log;
    SUBCASE("ports") {
        for (const char* bad : {"-1", "65536", "80x", " 80", "0x50", "99999999999"}) {
            Env port("MEMSCOPE_PORT", bad);
            CHECK_FALSE(memscope::read_environment().port);
            CHECK(log.all().find("MEMSCOPE_PORT=\"" + std::string(bad) + "\" is not valid") !=
                  std::string::npos);
        }
    }
    SUBCASE("flags") {
        Env disable("MEMSCOPE_DISABLE", "true");
        CHECK_FALSE(memscope::read_environment().disable);
        CHECK(log.all() ==
              "memscope: MEMSCOPE_DISABLE=\"true\" is not valid (expected 1 or 0); the default "
              "is kept\n");
    }
    SUBCASE("the same bad value read again is not logged again") {
        Env disable("MEMSCOPE_DISABLE", "maybe");
        (void)memscope::read_environment();
        (void)memscope::read_environment();
        CHECK(log.lines().size() == 1);
    }
    SUBCASE("a token is never logged, even a malformed one") {
        Env token("MEMSCOPE_TOKEN", "pass word\x01");
        CHECK_FALSE(memscope::read_environment().token);
        CHECK(log.all().find("pass word") == std::string::npos);
        CHECK(log.all().find("MEMSCOPE_TOKEN is not valid") != std::string::npos);
    }
}

TEST_CASE("is_valid_token: printable ASCII without spaces, not empty") {
    CHECK(memscope::is_valid_token("s3cret-T0ken_~!"));
    CHECK_FALSE(memscope::is_valid_token(""));
    CHECK_FALSE(memscope::is_valid_token("two words"));
    CHECK_FALSE(memscope::is_valid_token("tab\there"));
    CHECK_FALSE(memscope::is_valid_token("caf\xc3\xa9"));
}

TEST_CASE("docs/configuration.md lists every variable of the table, as the table says") {
    const std::string doc =
        read_text(std::filesystem::path(MEMSCOPE_SOURCE_DIR) / "docs" / "configuration.md");
    REQUIRE_FALSE(doc.empty());
    for (const memscope::EnvironmentVariable& v : memscope::environment_variables()) {
        std::string row = "| `";
        ((((row += v.name) += "` | ") += v.accepts) += " | ") += v.default_text;
        ((row += " | ") += v.effect) += " |";
        CAPTURE(row);
        CHECK(doc.find(row) != std::string::npos);
    }
}

TEST_CASE("the product reads no MEMSCOPE_* variable outside the table") {
    std::set<std::string> table;
    for (const auto& v : memscope::environment_variables()) table.emplace(v.name);
    const std::regex getenv_call(R"(getenv\s*\()");
    const std::regex name(R"("(MEMSCOPE_[A-Z_]+)\")");
    const std::filesystem::path root(MEMSCOPE_SOURCE_DIR);
    for (const char* dir : {"lib", "web", "examples"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
            const auto ext = entry.path().extension();
            if (ext != ".cpp" && ext != ".hpp") continue;
            const std::string text = read_text(entry.path());
            CAPTURE(entry.path().string());
            // The environment is read by lib/src/options.cpp alone.
            if (entry.path().filename() != "options.cpp")
                CHECK_FALSE(std::regex_search(text, getenv_call));
            for (auto it = std::sregex_iterator(text.begin(), text.end(), name);
                 it != std::sregex_iterator(); ++it) {
                CAPTURE((*it)[1].str());
                CHECK(table.count((*it)[1].str()) == 1);
            }
        }
    }
}
