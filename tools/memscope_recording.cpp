// SPDX-License-Identifier: MIT
// memscope-recording: converts a recording to CSV or to a Chrome trace.
//
//     memscope-recording csv session.ndjson.1 session.ndjson -o session.csv
//     memscope-recording chrome-trace session.ndjson -o session.json
//
// Exit status: 0 converted; 1 converted, but malformed lines were skipped (each named on
// standard error as file:line); 2 bad usage or a file that cannot be read or written.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "recording_convert.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: memscope-recording csv IN... [-o OUT]\n"
    "       memscope-recording chrome-trace IN... [-o OUT]\n"
    "Converts a memscope recording (NDJSON; rotated files given oldest first are read as one)\n"
    "to CSV, one column per subsystem, or to the Chrome trace event format that Perfetto's\n"
    "UI (ui.perfetto.dev) and chrome://tracing open. Writes to standard output without -o.\n";

int usage_error(const std::string& why) {
    std::cerr << "memscope-recording: " << why << "\n" << kUsage;
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << kUsage;
        return 0;
    }
    if (args.empty()) return usage_error("no command");
    const std::string& command = args[0];
    if (command != "csv" && command != "chrome-trace")
        return usage_error("unknown command \"" + command + "\"");

    std::vector<memscope::tools::RecordingFile> files;
    std::string output_path;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "-o") {
            if (i + 1 == args.size()) return usage_error("-o needs a file");
            output_path = args[++i];
            continue;
        }
        std::ifstream in(args[i], std::ios::binary);
        if (!in) {
            std::cerr << "memscope-recording: " << args[i]
                      << ": cannot read: " << std::strerror(errno) << "\n";
            return 2;
        }
        std::ostringstream text;
        text << in.rdbuf();
        files.push_back({args[i], std::move(text).str()});
    }
    if (files.empty()) return usage_error("no recording given");

    const memscope::tools::Conversion result =
        command == "csv" ? memscope::tools::recording_to_csv(files)
                         : memscope::tools::recording_to_chrome_trace(files);
    for (const std::string& line : result.warnings)
        std::cerr << "memscope-recording: warning: " << line << "\n";
    for (const std::string& line : result.errors)
        std::cerr << "memscope-recording: " << line << "\n";

    if (output_path.empty()) {
        std::cout << result.output;
    } else {
        std::ofstream out(output_path, std::ios::binary | std::ios::trunc);
        out << result.output;
        out.close();
        if (!out) {
            std::cerr << "memscope-recording: " << output_path
                      << ": cannot write: " << std::strerror(errno) << "\n";
            return 2;
        }
    }
    return result.errors.empty() ? 0 : 1;
}
