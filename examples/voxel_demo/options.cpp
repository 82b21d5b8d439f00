// SPDX-License-Identifier: MIT
// The voxel demo's command line: flags, validation, help text.

#include "options.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace voxel {
namespace {

template <class T>
bool parse_number(const std::string& text, T& out) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

ParsedOptions parse_options(const std::vector<std::string>& args) {
    ParsedOptions result;
    DemoOptions& o = result.options;
    std::optional<double> seconds;

    // Flags that take a value, and what to do with it; each returns an error or "".
    using Setter = std::function<std::string(const std::string&)>;
    const std::map<std::string, Setter, std::less<>> with_value = {
        {"--frames",
         [&](const std::string& v) -> std::string {
             std::uint64_t n = 0;
             if (!parse_number(v, n) || n == 0) return "--frames needs a positive whole number";
             o.frames = n;
             return "";
         }},
        {"--seconds",
         [&](const std::string& v) -> std::string {
             double s = 0;
             if (!parse_number(v, s) || !(s > 0) || !std::isfinite(s))
                 return "--seconds needs a positive number";
             seconds = s;
             return "";
         }},
        {"--linger",
         [&](const std::string& v) -> std::string {
             double s = 0;
             if (!parse_number(v, s) || s < 0 || !std::isfinite(s))
                 return "--linger needs a number of seconds (0: until Ctrl-C)";
             o.linger_seconds = s;
             return "";
         }},
        {"--port",
         [&](const std::string& v) -> std::string {
             int p = 0;
             if (!parse_number(v, p) || p < 0 || p > 65535)
                 return "--port needs a port number from 0 to 65535";
             o.port = p;
             return "";
         }},
        {"--bind",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--bind needs an address";
             o.bind = v;
             return "";
         }},
        {"--token",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--token needs a non-empty token";
             o.token = v;
             return "";
         }},
        {"--config",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--config needs a file name";
             o.config_path = v;
             return "";
         }},
        {"--verdict",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--verdict needs a file name (or - for standard output)";
             o.verdict_path = v;
             return "";
         }},
        {"--junit",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--junit needs a file name";
             o.junit_path = v;
             return "";
         }},
        {"--baseline",
         [&](const std::string& v) -> std::string {
             if (v.empty()) return "--baseline needs a file name (an earlier --verdict file)";
             o.baseline_path = v;
             return "";
         }},
        {"--baseline-tolerance",
         [&](const std::string& v) -> std::string {
             double f = 0;
             if (!parse_number(v, f) || !(f >= 0) || f > 100)
                 return "--baseline-tolerance needs a fraction of 0 or more (e.g. 0.05)";
             o.baseline_tolerance = f;
             return "";
         }},
        {"--scale-budgets",
         [&](const std::string& v) -> std::string {
             double f = 0;
             if (!parse_number(v, f) || !(f > 0) || f > 1000)
                 return "--scale-budgets needs a factor above 0 (e.g. 0.1)";
             o.budget_scale = f;
             return "";
         }},
    };
    const std::map<std::string, bool*, std::less<>> switches = {
        {"--leak", &o.leak}, {"--churn", &o.churn}, {"--fail-on-leak", &o.fail_on_leak},
        {"--help", &o.help}, {"-h", &o.help},
    };
    bool no_pacing = false;

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string name = args[i];
        std::optional<std::string> value;
        if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        if (name == "--no-pacing") {
            if (value) return {o, "--no-pacing takes no value"};
            no_pacing = true;
            continue;
        }
        if (const auto it = switches.find(name); it != switches.end()) {
            if (value) return {o, name + " takes no value"};
            *it->second = true;
            continue;
        }
        const auto it = with_value.find(name);
        if (it == with_value.end()) return {o, "unknown option '" + args[i] + "'"};
        if (!value) {
            if (i + 1 >= args.size()) return {o, name + " needs a value"};
            value = args[++i];
        }
        if (std::string error = it->second(*value); !error.empty())
            return {o, error + " (got '" + *value + "')"};
    }

    if (seconds && o.frames) return {o, "give --frames or --seconds, not both"};
    if (seconds) o.frames = static_cast<std::uint64_t>(std::llround(*seconds * 60.0));
    if (o.frames && *o.frames == 0) o.frames = 1;
    if (o.linger_seconds && !o.frames)
        return {o, "--linger only makes sense with --frames or --seconds"};
    o.pacing = !no_pacing;
    return result;
}

std::string usage_text(const std::string& program) {
    return "usage: " + program + R"( [options]

A simulated voxel engine whose six subsystems (Chunks, Meshes, Textures, Entities,
Audio, Physics) really allocate what they report to memscope, 60 frames a second,
while a camera flies over a world of sectors. The memory dashboard runs on
http://127.0.0.1:9090/ unless told otherwise.

Run length (default: until Ctrl-C)
  --frames N          stop after N frames
  --seconds S         stop after S seconds of simulated time (S * 60 frames)
  --no-pacing         do not sleep between frames: simulate as fast as possible
  --linger S          after --frames/--seconds, keep the dashboard up S more seconds
                      with the simulation frozen (0: until Ctrl-C)

Budgets
  --config FILE       load budgets from a memscope config file (docs/configuration.md)
  --scale-budgets F   multiply every budget by F, after --config (default 1). With 0.1
                      each sector transition takes Chunks over its budget
  --leak              the mesh system forgets to free edited chunks' meshes on unload
  --churn             every 2 s, Entities spawns a burst of short-lived particles:
                      tens of thousands of allocations in one frame, past the frame
                      budgets (docs/frames.md)
  --verdict FILE      write the budget verdict as JSON at exit ('-': standard output);
                      the exit status is then 1 when a budget was exceeded
  --fail-on-leak      a suspected leak fails the verdict too
  --junit FILE        write the verdict as JUnit XML at exit too (docs/verdict.md)
  --baseline FILE     the --verdict file of an earlier run: fail when a subsystem's
                      peak rose over its peak there by more than the tolerance, and
                      report those that fell (the baseline can then be lowered)
  --baseline-tolerance F
                      how far a peak may move, as a fraction (default 0.05: 5%)

Dashboard (these override MEMSCOPE_PORT, MEMSCOPE_BIND and MEMSCOPE_TOKEN;
MEMSCOPE_DISABLE=1 turns it off)
  --port P            TCP port (default 9090; 0 picks a free one and prints it)
  --bind ADDR         address to listen on (default 127.0.0.1)
  --token T           enables the control endpoints for clients sending this token

  -h, --help          print this help

Exit status: 0 done (verdict passed), 1 verdict failed, 2 usage error or a baseline
that cannot be read.
)";
}

}  // namespace voxel
