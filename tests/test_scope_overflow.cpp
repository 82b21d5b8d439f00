// SPDX-License-Identifier: MIT
// The tag table's limit, in a process of its own: it fills the table for good.

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <memscope/allocator.hpp>
#include <memscope/scope.hpp>

#include "test_support.hpp"

TEST_CASE("names past the limit, and bad names, are charged to Other with one warning each") {
    if (!memscope::tracking_enabled()) return;
    memscope_test::LogCapture log;
    // Ids 0 and 1 are reserved; 509 names take 2..510; the last id goes to Other.
    const std::size_t named = memscope::kMaxTags - 3;
    for (std::size_t i = 0; i < named; ++i) {
        const memscope::TagId id = memscope::tag("tag-" + std::to_string(i));
        CHECK(id == i + 2);
    }
    CHECK(log.warnings().empty());

    const memscope::TagId other = memscope::tag("one-too-many");
    CHECK(other == memscope::kMaxTags - 1);
    CHECK(memscope::tag("and-another") == other);
    CHECK(memscope::tag("Other") == other);
    for (int i = 0; i < 100; ++i) CHECK(memscope::tag("late-" + std::to_string(i)) == other);
    CHECK(log.count("charged to the tag Other") == 1);
    CHECK(log.count("'one-too-many'") == 1);

    // Names seen before the limit keep their ids.
    CHECK(memscope::tag("tag-0") == 2);
    CHECK(memscope::tag("tag-508") == 510);

    const auto all = memscope::tag_stats();
    REQUIRE(all.size() == memscope::kMaxTags);
    CHECK(all[other].name == "Other");
    const auto before = all[other].current_bytes;
    std::unique_ptr<char[]> block;
    {
        const memscope::Scope s("yet-another-name");
        block.reset(new char[1000]);
    }
    CHECK(memscope::tag_stats()[other].current_bytes - before ==
          memscope::usable_size(block.get()));
    block.reset();
    CHECK(memscope::tag_stats()[other].current_bytes == before);

    // A name that could not name a subsystem: Other too, with its own single warning.
    CHECK(memscope::tag("") == other);
    CHECK(memscope::tag(std::string(200, 'x')) == other);
    CHECK(memscope::tag("bad\nname") == other);
    CHECK(log.count("is empty") == 1);
    CHECK(log.count("later bad names are not reported") == 1);
}
