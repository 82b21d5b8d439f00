# SPDX-License-Identifier: MIT
# Fails when tests/e2e/package-lock.json records where packages were downloaded from
# ("resolved" URLs, registry host names): the lock pins versions and integrity hashes only.
file(READ "${LOCKFILE}" lock)
foreach(pattern "\"resolved\"" "://" "registry" "npmjs")
  string(FIND "${lock}" "${pattern}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${LOCKFILE} contains ${pattern}: regenerate it in tests/e2e/ with "
                        "`npm install --package-lock-only` (tests/e2e/.npmrc omits resolved URLs)")
  endif()
endforeach()
foreach(pattern "\"integrity\": \"sha512-" "\"lockfileVersion\": 3")
  string(FIND "${lock}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${LOCKFILE} lacks ${pattern}")
  endif()
endforeach()
message(STATUS "package-lock.json pins versions and hashes only")
