# `cmake --install` puts the headers, the library, a CMake package and a pkg-config file in the prefix:
#   PREFIX/include/chainrule/{chainrule,autograd,nn,optim,teach,version}.hpp and .../{autograd,nn,optim,teach,util}/
#   PREFIX/lib/<multiarch>/libchainrule.a, cmake/chainrule/, pkgconfig/chainrule.pc
#   PREFIX/bin/chainrule (the command-line tool)
# so another project can find_package(chainrule) and target_link_libraries(app chainrule::chainrule), or compile
# with $(pkg-config --cflags --libs chainrule). Everything is relative to PREFIX: the tree can be moved.
include(CMakePackageConfigHelpers)
set(CHAINRULE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/chainrule)

install(TARGETS chainrule EXPORT chainruleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})  # include dirs: the target's $<INSTALL_INTERFACE:include>
set(CHAINRULE_HEADER_DEST ${CMAKE_INSTALL_INCLUDEDIR}/chainrule)
foreach(h ${CHAINRULE_UMBRELLA_HEADERS} version)
  install(FILES ${CHAINRULE_INCLUDE_DIR}/chainrule/${h}.hpp DESTINATION ${CHAINRULE_HEADER_DEST})
endforeach()
install(DIRECTORY autograd nn optim teach util DESTINATION ${CHAINRULE_HEADER_DEST}
        FILES_MATCHING PATTERN "*.hpp" PATTERN distributed.hpp EXCLUDE)
install(EXPORT chainruleTargets NAMESPACE chainrule:: DESTINATION ${CHAINRULE_CMAKE_DIR})
# The optional component "mpi": find_package(chainrule COMPONENTS mpi) → chainrule::chainrule_mpi.
if(TARGET chainrule_mpi)
  install(TARGETS chainrule_mpi EXPORT chainruleMpiTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES nn/distributed.hpp DESTINATION ${CHAINRULE_HEADER_DEST}/nn)
  install(EXPORT chainruleMpiTargets NAMESPACE chainrule:: DESTINATION ${CHAINRULE_CMAKE_DIR})
endif()
configure_package_config_file(cmake/chainruleConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfig.cmake
                              INSTALL_DESTINATION ${CHAINRULE_CMAKE_DIR})
# 0.x: SameMinorVersion. Semantic versioning lets any 0.y release break the API, so a project asking for 0.2 must
# get a 0.2.z (z >= the one asked for), never 0.3; from 1.0 on this becomes SameMajorVersion.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_chainrule_compat SameMinorVersion)
else()
  set(_chainrule_compat SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/chainruleConfigVersion.cmake
                                 COMPATIBILITY ${_chainrule_compat})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/chainruleConfigVersion.cmake
        DESTINATION ${CHAINRULE_CMAKE_DIR})

# pkg-config: chainrule.pc finds its prefix from its own place (${pcfiledir}), so it moves with the tree too.
file(RELATIVE_PATH CHAINRULE_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" CHAINRULE_PC_TO_PREFIX "${CHAINRULE_PC_TO_PREFIX}")
configure_file(cmake/chainrule.pc.in ${CMAKE_CURRENT_BINARY_DIR}/chainrule.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/chainrule.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
