// SPDX-License-Identifier: MIT
// Reads the lines of a recording once into rows (samples) and instants (marks, events),
// then writes them as CSV or as a Chrome trace.

#include "recording_convert.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>

#include "memscope/json.hpp"
#include "memscope/recording.hpp"

namespace memscope::tools {
namespace {

struct Row {
    std::int64_t unix_ms = 0;
    std::uint64_t pid = 0;
    std::uint64_t tracked_bytes = 0;
    std::uint64_t reported_bytes = 0;
    std::uint64_t resident_bytes = 0;
    std::uint64_t committed_bytes = 0;
    std::vector<std::optional<std::uint64_t>> subsystems;  // indexed like Recording::names
};

struct Instant {
    std::int64_t unix_ms = 0;
    std::uint64_t pid = 0;
    std::string name;                    // "mark: level2", "warning: Chunks"
    std::string category;                // "mark" or "event"
    std::string message;                 // an event's
    std::optional<std::uint64_t> frame;  // a mark's, when the game gave one
};

struct Recording {
    std::vector<std::string> names;  // subsystems, first seen first
    std::map<std::string, std::size_t, std::less<>> index;
    std::vector<Row> rows;
    std::vector<Instant> instants;
    std::map<std::uint64_t, std::string> programs;  // pid -> program, from the headers
};

std::uint64_t uint_of(const JsonValue& object, std::string_view key) {
    const JsonValue* v = object.find(key);
    if (v == nullptr || v->number() == nullptr) return 0;
    if (auto u = v->number()->as_uint64()) return *u;
    return v->number()->value > 0 ? static_cast<std::uint64_t>(v->number()->value) : 0;
}

std::optional<std::int64_t> unix_ms_of(const JsonValue& line) {
    const JsonValue* v = line.find("unix_ms");
    if (v == nullptr || v->number() == nullptr || !v->number()->integral) return std::nullopt;
    return static_cast<std::int64_t>(v->number()->value);
}

std::string string_of(const JsonValue& object, std::string_view key) {
    const JsonValue* v = object.find(key);
    return v != nullptr && v->string() != nullptr ? *v->string() : std::string();
}

// Takes one parsed line into `rec`; returns a problem, or "" when the line was taken.
std::string take(const JsonValue& line, std::uint64_t& pid, Recording& rec) {
    if (line.object() == nullptr) return "expected a JSON object";
    const std::string type = string_of(line, "type");
    if (type == "header") {
        if (string_of(line, "format") != kRecordingFormat)
            return "not a memscope recording (format \"" + string_of(line, "format") + "\")";
        if (uint_of(line, "version") > static_cast<std::uint64_t>(kRecordingVersion))
            return "recording version " + std::to_string(uint_of(line, "version")) +
                   " is newer than this tool reads (" + std::to_string(kRecordingVersion) + ")";
        pid = uint_of(line, "pid");
        rec.programs.emplace(pid, string_of(line, "program"));
        return {};
    }
    if (type != "sample" && type != "event" && type != "mark") return {};  // budgets, newer kinds
    const auto unix_ms = unix_ms_of(line);
    if (!unix_ms) return "a " + type + " line needs an integer unix_ms";
    if (type == "sample") {
        Row row;
        row.unix_ms = *unix_ms;
        row.pid = pid;
        row.reported_bytes = uint_of(line, "reported_bytes");
        if (const JsonValue* a = line.find("allocator"))
            row.tracked_bytes = uint_of(*a, "total_allocated_bytes");
        if (const JsonValue* p = line.find("process")) {
            row.resident_bytes = uint_of(*p, "resident_bytes");
            row.committed_bytes = uint_of(*p, "committed_bytes");
        }
        const JsonValue* subsystems = line.find("subsystems");
        if (subsystems != nullptr && subsystems->object() != nullptr) {
            for (const JsonMember& m : *subsystems->object()) {
                auto [it, added] = rec.index.try_emplace(m.key, rec.names.size());
                if (added) rec.names.push_back(m.key);
                if (row.subsystems.size() <= it->second) row.subsystems.resize(it->second + 1);
                row.subsystems[it->second] = uint_of(*subsystems, m.key);
            }
        }
        rec.rows.push_back(std::move(row));
    } else if (type == "event") {
        rec.instants.push_back({*unix_ms, pid,
                                string_of(line, "kind") + ": " + string_of(line, "subsystem"),
                                "event", string_of(line, "message"), std::nullopt});
    } else {
        const JsonValue* frame = line.find("frame");
        rec.instants.push_back({*unix_ms,
                                pid,
                                "mark: " + string_of(line, "name"),
                                "mark",
                                {},
                                frame != nullptr && frame->number() != nullptr
                                    ? frame->number()->as_uint64()
                                    : std::nullopt});
    }
    return {};
}

Recording read_all(const std::vector<RecordingFile>& files, Conversion& out) {
    Recording rec;
    for (const RecordingFile& file : files) {
        std::uint64_t pid = 0;
        std::string_view rest = file.text;
        for (std::size_t number = 1; !rest.empty(); ++number) {
            const std::size_t end = rest.find('\n');
            const bool cut = end == std::string_view::npos;
            const std::string_view text = rest.substr(0, end);
            rest.remove_prefix(cut ? rest.size() : end + 1);
            if (text.empty()) continue;
            const std::string where = file.name + ":" + std::to_string(number);
            JsonError error;
            const auto line = read_json(text, &error);
            std::string problem;
            if (!line)
                problem = std::to_string(error.position.column) + ": " + error.message;
            else
                problem = take(*line, pid, rec);
            if (problem.empty()) continue;
            if (cut && !line)
                out.warnings.push_back(where +
                                       ": the last line is cut short (the recording "
                                       "stopped mid-write); skipped");
            else
                out.errors.push_back(where + ": " + problem + "; line skipped");
        }
    }
    out.samples = rec.rows.size();
    return rec;
}

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

}  // namespace

Conversion recording_to_csv(const std::vector<RecordingFile>& files) {
    Conversion out;
    const Recording rec = read_all(files, out);
    std::string& csv = out.output;
    csv = "unix_ms,seconds,tracked_bytes,reported_bytes,resident_bytes,committed_bytes";
    for (const std::string& name : rec.names) (csv += ',') += csv_field(name);
    csv += "\r\n";
    const std::int64_t first = rec.rows.empty() ? 0 : rec.rows.front().unix_ms;
    char seconds[32];
    for (const Row& row : rec.rows) {
        std::snprintf(seconds, sizeof seconds, "%.3f",
                      static_cast<double>(row.unix_ms - first) / 1000.0);
        csv += std::to_string(row.unix_ms) + ',' + seconds + ',' +
               std::to_string(row.tracked_bytes) + ',' + std::to_string(row.reported_bytes) + ',' +
               std::to_string(row.resident_bytes) + ',' + std::to_string(row.committed_bytes);
        for (std::size_t i = 0; i < rec.names.size(); ++i) {
            csv += ',';
            if (i < row.subsystems.size() && row.subsystems[i])
                csv += std::to_string(*row.subsystems[i]);
        }
        csv += "\r\n";
    }
    return out;
}

Conversion recording_to_chrome_trace(const std::vector<RecordingFile>& files) {
    Conversion out;
    const Recording rec = read_all(files, out);
    JsonWriter w(out.output);
    w.begin_object();
    w.key("displayTimeUnit").value("ms");
    w.key("traceEvents").begin_array();
    const auto common = [&w](const char* phase, std::int64_t unix_ms, std::uint64_t pid) {
        w.key("ph").value(phase);
        w.key("ts").value(unix_ms * 1000);  // microseconds
        w.key("pid").value(pid);
        w.key("tid").value(0);
    };
    for (const auto& [pid, program] : rec.programs) {
        w.begin_object().key("name").value("process_name");
        common("M", 0, pid);
        w.key("args").begin_object().key("name").value(program + " (memscope recording)");
        w.end_object().end_object();
    }
    const auto counter = [&](std::string_view name, const Row& row, std::uint64_t bytes) {
        w.begin_object().key("name").value(name).key("cat").value("memory");
        common("C", row.unix_ms, row.pid);
        w.key("args").begin_object().key("bytes").value(bytes).end_object();
        w.end_object();
    };
    for (const Row& row : rec.rows) {
        counter("tracked bytes", row, row.tracked_bytes);
        counter("reported bytes", row, row.reported_bytes);
        counter("resident bytes", row, row.resident_bytes);
        for (std::size_t i = 0; i < row.subsystems.size(); ++i)
            if (row.subsystems[i]) counter(rec.names[i], row, *row.subsystems[i]);
    }
    for (const Instant& instant : rec.instants) {
        w.begin_object().key("name").value(instant.name).key("cat").value(instant.category);
        common("i", instant.unix_ms, instant.pid);
        w.key("s").value("p");  // drawn across the process's tracks
        w.key("args").begin_object();
        if (!instant.message.empty()) w.key("message").value(instant.message);
        if (instant.frame) w.key("frame").value(*instant.frame);
        w.end_object().end_object();
    }
    w.end_array();
    w.end_object();
    out.output += '\n';
    return out;
}

}  // namespace memscope::tools
