# SPDX-License-Identifier: MIT
# Install rules and the package config, so that a game can use
#   find_package(memscope CONFIG REQUIRED)
#   target_link_libraries(game PRIVATE memscope::memscope)
include(CMakePackageConfigHelpers)

set(MEMSCOPE_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/memscope)

install(TARGETS memscope memscope_core memscope_dashboard EXPORT memscopeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/memscope ${PROJECT_SOURCE_DIR}/web/include/memscope
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(FILES ${MEMSCOPE_GENERATED_INCLUDE_DIR}/memscope/build_config.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/memscope)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/THIRD_PARTY_NOTICES.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(EXPORT memscopeTargets NAMESPACE memscope:: DESTINATION ${MEMSCOPE_CONFIG_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/memscopeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/memscopeConfig.cmake
                              INSTALL_DESTINATION ${MEMSCOPE_CONFIG_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/memscopeConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/memscopeConfig.cmake
              ${PROJECT_BINARY_DIR}/memscopeConfigVersion.cmake
        DESTINATION ${MEMSCOPE_CONFIG_DIR})
