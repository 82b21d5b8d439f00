# SPDX-License-Identifier: MIT
# How memscope finds each dependency. All come from Debian 12 packages (see
# scripts/install-deps.sh for the package names); nothing is downloaded at configure time.

# mimalloc (libmimalloc-dev): the allocator behind operator new. Its package ships a CMake
# config with the imported target `mimalloc` (the shared library).
if(MEMSCOPE_BACKEND_RESOLVED STREQUAL "mimalloc")
  find_package(mimalloc 2.0 CONFIG REQUIRED)
endif()

find_package(Threads REQUIRED)

# nlohmann/json (nlohmann-json3-dev): header-only; parses every JSON the library reads
# (lib/src/json_reader.cpp), so every build needs it, with or without the server.
find_package(nlohmann_json 3.10 CONFIG REQUIRED)

if(MEMSCOPE_WITH_SERVER)
  # cpp-httplib (libcpp-httplib-dev): Debian builds it as a shared library whose header
  # only declares the classes, and the class layout depends on the macros in its
  # pkg-config Cflags (OpenSSL, zlib, brotli support). Taking the flags from pkg-config is
  # what keeps our compiled view of httplib::Server identical to the library's.
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(memscope_httplib REQUIRED IMPORTED_TARGET cpp-httplib>=0.11)
  # web/server.cpp hands cpp-httplib its connections through two members that are not part
  # of its public API (Server::process_and_close_socket and the four-argument
  # process_request), which change between minor versions: only the 0.11 series (Debian
  # 12's 0.11.4) is known to fit, and any other would fail deep inside server.cpp.
  if(NOT memscope_httplib_VERSION VERSION_GREATER_EQUAL 0.11 OR
     NOT memscope_httplib_VERSION VERSION_LESS 0.12)
    message(FATAL_ERROR
      "memscope: cpp-httplib ${memscope_httplib_VERSION} is installed, but memscope's "
      "dashboard is written for cpp-httplib 0.11.x (it overrides two of its internal "
      "members). Install Debian 12's libcpp-httplib-dev (0.11.4), or build without the "
      "dashboard: -DMEMSCOPE_WITH_SERVER=OFF.")
  endif()
endif()

if(MEMSCOPE_BUILD_TESTS)
  find_package(doctest 2.4 CONFIG REQUIRED)  # doctest-dev
endif()
if(MEMSCOPE_BUILD_BENCH AND NOT MEMSCOPE_SANITIZE)
  find_package(benchmark 1.6 CONFIG REQUIRED)  # libbenchmark-dev
endif()
