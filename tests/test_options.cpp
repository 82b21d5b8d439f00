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

namespace {

// A token file with `mode`, under `dir`.
std::string token_file(const memscope_test::TempDir& dir, const std::string& text,
                       std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                                     std::filesystem::perms::owner_write) {
    const auto path = dir.write("token", text);
    std::filesystem::permissions(path, mode);
    return path.string();
}

}  // namespace

TEST_CASE("MEMSCOPE_TOKEN_FILE: the token comes from the file, its trailing whitespace dropped") {
    memscope_test::TempDir dir;
    Env file("MEMSCOPE_TOKEN_FILE", token_file(dir, "file-T0ken_42\r\n \n").c_str());
    Env token("MEMSCOPE_TOKEN", nullptr);
    Log log;
    const memscope::Environment env = memscope::read_environment();
    CHECK(env.token == "file-T0ken_42");
    CHECK(env.token_file == (dir.path() / "token").string());
    CHECK(log.warnings().empty());
}

TEST_CASE("MEMSCOPE_TOKEN_FILE wins over MEMSCOPE_TOKEN, and a warning says so") {
    memscope_test::TempDir dir;
    Env file("MEMSCOPE_TOKEN_FILE", token_file(dir, "from-the-file").c_str());
    Env token("MEMSCOPE_TOKEN", "from-the-environment");
    Log log;
    CHECK(memscope::read_environment().token == "from-the-file");
    CHECK(log.count("MEMSCOPE_TOKEN and MEMSCOPE_TOKEN_FILE are both set") == 1);
    CHECK(log.all().find("from-the-environment") == std::string::npos);
}

TEST_CASE("a bad MEMSCOPE_TOKEN_FILE: one warning naming the path, never the token; no token") {
    using std::filesystem::perms;
    memscope_test::TempDir dir;
    const std::string secret = "never-logged-S3cret";
    struct Case {
        std::string path;
        std::string why;
    };
    const std::vector<Case> cases = {
        {(dir.path() / "missing").string(), "cannot read it"},
        {dir.path().string(), "not a regular file"},
        {token_file(dir, secret, perms::owner_read | perms::others_read), "other users"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.path);
        Env file("MEMSCOPE_TOKEN_FILE", c.path.c_str());
        Env token("MEMSCOPE_TOKEN", secret.c_str());  // the file wins even when it is bad
        Log log;
        CHECK_FALSE(memscope::read_environment().token);
        CHECK(log.count("MEMSCOPE_TOKEN_FILE=\"" + c.path + "\" is not valid") == 1);
        CHECK(log.count(c.why) == 1);
        CHECK(log.all().find(secret) == std::string::npos);
    }
}

TEST_CASE("a MEMSCOPE_TOKEN_FILE that is empty or holds a bad token is refused") {
    memscope_test::TempDir dir;
    for (const std::string text : {" \n", "two words\n", "caf\xc3\xa9"}) {
        const std::string path = token_file(dir, text);
        CAPTURE(text);
        Env file("MEMSCOPE_TOKEN_FILE", path.c_str());
        Env token("MEMSCOPE_TOKEN", nullptr);
        Log log;
        CHECK_FALSE(memscope::read_environment().token);
        CHECK(log.all().find("two words") == std::string::npos);
    }
}

TEST_CASE("MEMSCOPE_ALLOWED_HOSTS: a comma-separated list; a bad entry refuses it all") {
    {
        Env hosts("MEMSCOPE_ALLOWED_HOSTS", "game-01.fleet.example, 10.0.0.5 ,*");
        const auto env = memscope::read_environment();
        REQUIRE(env.allowed_hosts);
        CHECK(*env.allowed_hosts ==
              std::vector<std::string>{"game-01.fleet.example", "10.0.0.5", "*"});
    }
    for (const char* bad : {"a.example,,b.example", "http://a.example", "a example"}) {
        CAPTURE(bad);
        Env hosts("MEMSCOPE_ALLOWED_HOSTS", bad);
        Log log;
        CHECK_FALSE(memscope::read_environment().allowed_hosts);
        CHECK(log.count("MEMSCOPE_ALLOWED_HOSTS=") == 1);
    }
}
