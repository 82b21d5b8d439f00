# SPDX-License-Identifier: MIT
# Compiler warnings and sanitizer flags shared by every memscope target.

add_library(memscope_warnings INTERFACE)
target_compile_options(memscope_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
                       $<$<BOOL:${MEMSCOPE_WERROR}>:-Werror>
                       # GCC 12 at -O3 reports std::string concatenations as overlapping
                       # memcpys (GCC bug 105329), a false positive.
                       $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)

if(MEMSCOPE_SANITIZE)
  string(REPLACE "," ";" _memscope_sanitizers "${MEMSCOPE_SANITIZE}")
  foreach(_s IN LISTS _memscope_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "MEMSCOPE_SANITIZE: unknown sanitizer '${_s}'")
    endif()
  endforeach()
  if("thread" IN_LIST _memscope_sanitizers AND "address" IN_LIST _memscope_sanitizers)
    message(FATAL_ERROR "MEMSCOPE_SANITIZE: thread and address cannot be combined")
  endif()
  # Whole-program flags: a sanitizer must see the tests and examples too, not only the library.
  add_compile_options(-fsanitize=${MEMSCOPE_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${MEMSCOPE_SANITIZE})
  if("undefined" IN_LIST _memscope_sanitizers)
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

# The fuzz build: coverage instrumentation for libFuzzer on every target, the library
# included (fuzz/CMakeLists.txt links the fuzzers themselves with -fsanitize=fuzzer).
if(MEMSCOPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MEMSCOPE_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
