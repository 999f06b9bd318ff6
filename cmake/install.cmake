# `cmake --install` puts the headers, the library and a CMake package in the prefix, so another project can
#   find_package(chainrule) and target_link_libraries(app chainrule::chainrule).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS chainrule EXPORT chainruleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})  # include dirs: the target's $<INSTALL_INTERFACE:include>
install(DIRECTORY autograd nn optim teach util DESTINATION include FILES_MATCHING PATTERN "*.hpp" PATTERN distributed.hpp EXCLUDE)
install(EXPORT chainruleTargets NAMESPACE chainrule:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/chainrule)
# The optional component "mpi": find_package(chainrule COMPONENTS mpi) → chainrule::chainrule_mpi.
if(TARGET chainrule_mpi)
  install(TARGETS chainrule_mpi EXPORT chainruleMpiTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES nn/distributed.hpp DESTINATION include/nn)
  install(EXPORT chainruleMpiTargets NAMESPACE chainrule:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/chainrule)
endif()
configure_package_config_file(cmake/chainruleConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/chainrule)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/chainruleConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/chainrule)
