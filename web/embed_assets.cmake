# SPDX-License-Identifier: MIT
# Build-time script of assets.cmake: writes OUTPUT, a C++ source with one unsigned char
# array per asset and the table of web/assets.hpp.
#   cmake -DASSETS="name=path|name=path..." -DOUTPUT=web_assets.cpp -P embed_assets.cmake
# The content types are chosen here, by extension: a file of another kind in web/static/
# stops the build rather than being served with a guessed type.

cmake_minimum_required(VERSION 3.25)

function(memscope_mime_type name out)
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(name MATCHES "\\.png$")
    set(type "image/png")
  else()
    message(FATAL_ERROR "embed_assets: no content type for '${name}'; add its extension to "
                        "web/embed_assets.cmake")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

if(NOT ASSETS OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DASSETS=name=path|... -DOUTPUT=file.cpp -P embed_assets.cmake")
endif()
string(REPLACE "|" ";" _assets "${ASSETS}")

set(_hex16 "")
foreach(_i RANGE 1 16)
  string(APPEND _hex16 "[0-9a-f][0-9a-f]")
endforeach()

set(_arrays "")
set(_rows "")
set(_index 0)
set(_names "")
foreach(_entry IN LISTS _assets)
  string(FIND "${_entry}" "=" _eq)
  string(SUBSTRING "${_entry}" 0 ${_eq} _name)
  math(EXPR _from "${_eq} + 1")
  string(SUBSTRING "${_entry}" ${_from} -1 _path)
  if(NOT _name MATCHES "^[A-Za-z0-9][A-Za-z0-9._-]*$")
    message(FATAL_ERROR "embed_assets: '${_name}' is not a plain file name")
  endif()
  if(_name IN_LIST _names)
    message(FATAL_ERROR "embed_assets: two assets are called '${_name}'")
  endif()
  list(APPEND _names "${_name}")
  memscope_mime_type("${_name}" _mime)

  file(SIZE "${_path}" _size)
  if(_size EQUAL 0)
    message(FATAL_ERROR "embed_assets: ${_path} is empty")
  endif()
  file(SHA256 "${_path}" _sha)
  string(SUBSTRING "${_sha}" 0 20 _etag)
  file(READ "${_path}" _hex HEX)
  # 16 bytes a line, then "0x.." per byte: byte arrays, not a giant string literal.
  string(REGEX REPLACE "(${_hex16})" "\\1\n" _hex "${_hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _hex "${_hex}")
  string(APPEND _arrays "// ${_name}, ${_size} bytes\nconst unsigned char asset_${_index}[] = {\n${_hex}\n};\n\n")
  string(APPEND _rows "    {\"${_name}\", \"${_mime}\", asset_${_index}, ${_size}, \"\\\"${_etag}\\\"\"},\n")
  math(EXPR _index "${_index} + 1")
endforeach()
if(NOT "index.html" IN_LIST _names)
  message(FATAL_ERROR "embed_assets: no index.html among the assets")
endif()

set(_source "// Generated at build time by web/embed_assets.cmake from web/static/ and Chart.js.
// Do not edit and do not commit: the build writes it again whenever an asset changes.

#include \"assets.hpp\"

namespace memscope::web {
namespace {

${_arrays}const EmbeddedAsset kAssets[] = {
${_rows}};

}  // namespace

std::span<const EmbeddedAsset> embedded_assets() noexcept {
    return kAssets;
}

}  // namespace memscope::web
")
file(WRITE "${OUTPUT}" "${_source}")
