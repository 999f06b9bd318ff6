# ctest `install.consumer_project`: installs chainrule into a prefix under the build dir, then configures,
# builds and runs tests/consumer (a separate project doing find_package(chainrule)) against that prefix.
# Included from tests/CMakeLists.txt.
set(_consumer_flags "")
if(CHAINRULE_SANITIZE)  # the static library then needs the sanitizer runtimes at link time
  set(_consumer_flags "-fsanitize=address,undefined")
endif()
add_test(NAME install.consumer_project
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${CMAKE_BINARY_DIR}
    -DWORK_DIR=${CMAKE_BINARY_DIR}/consumer_test
    -DSOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}
    -DCONFIG=$<CONFIG>
    -DGENERATOR=${CMAKE_GENERATOR}
    -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DCXX_FLAGS=${_consumer_flags}
    -P ${CMAKE_CURRENT_LIST_DIR}/run_consumer_test.cmake)
set_tests_properties(install.consumer_project PROPERTIES TIMEOUT 600)
