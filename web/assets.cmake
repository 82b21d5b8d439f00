# SPDX-License-Identifier: MIT
# The dashboard page, compiled into the library: every file of web/static/ and Chart.js
# become byte arrays in one generated source, ${CMAKE_CURRENT_BINARY_DIR}/generated/
# web_assets.cpp, listed in one table {path, mime type, bytes, size, etag} (assets.hpp).
# The source is generated at build time (embed_assets.cmake), never committed, and
# regenerated whenever one of the files changes; a file added to web/static/ re-runs the
# configuration (CONFIGURE_DEPENDS).

# Chart.js comes from Debian's libjs-chart.js (3.9.1): the version is pinned by the
# distribution, and building memscope, also inside a game through add_subdirectory(),
# never needs Node or the network. Any Chart.js 3.x UMD build works (-DMEMSCOPE_CHARTJS=).
find_file(MEMSCOPE_CHARTJS NAMES chart.min.js
          PATHS /usr/share/javascript/chart.js NO_DEFAULT_PATH
          DOC "Chart.js 3.x, UMD build (Debian package libjs-chart.js), embedded into the dashboard page")
if(NOT MEMSCOPE_CHARTJS OR NOT EXISTS "${MEMSCOPE_CHARTJS}")
  message(FATAL_ERROR
    "memscope: Chart.js was not found (MEMSCOPE_CHARTJS=${MEMSCOPE_CHARTJS}).\n"
    "The dashboard page embeds it. Install it with\n"
    "    sudo apt-get install libjs-chart.js\n"
    "or point -DMEMSCOPE_CHARTJS=/path/to/chart.min.js at a Chart.js 3.x UMD build, "
    "or build without the server: -DMEMSCOPE_WITH_SERVER=OFF.")
endif()
file(READ ${MEMSCOPE_CHARTJS} _memscope_chartjs_head LIMIT 200)
if(NOT _memscope_chartjs_head MATCHES "Chart\\.js v3\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "memscope: ${MEMSCOPE_CHARTJS} is not Chart.js 3.x (the page uses its "
                      "3.x API); install libjs-chart.js or set MEMSCOPE_CHARTJS")
endif()

file(GLOB _memscope_static_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/static/*)
set(_memscope_assets "")
foreach(_file IN LISTS _memscope_static_files)
  get_filename_component(_name ${_file} NAME)
  list(APPEND _memscope_assets "${_name}=${_file}")
endforeach()
list(APPEND _memscope_assets "chart.min.js=${MEMSCOPE_CHARTJS}")
# "|" rather than ";" between entries: a list would be split into several arguments.
string(REPLACE ";" "|" _memscope_asset_arg "${_memscope_assets}")

set(_memscope_assets_cpp ${CMAKE_CURRENT_BINARY_DIR}/generated/web_assets.cpp)
add_custom_command(
  OUTPUT ${_memscope_assets_cpp}
  COMMAND ${CMAKE_COMMAND} "-DASSETS=${_memscope_asset_arg}" "-DOUTPUT=${_memscope_assets_cpp}"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/embed_assets.cmake
  DEPENDS ${_memscope_static_files} ${MEMSCOPE_CHARTJS} ${CMAKE_CURRENT_SOURCE_DIR}/embed_assets.cmake
  COMMENT "Embedding the dashboard page (web/static/ and Chart.js)"
  VERBATIM)
target_sources(memscope_dashboard PRIVATE ${_memscope_assets_cpp})
