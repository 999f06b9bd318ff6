# ctests that build tests/consumer (a separate project) and run its app, each way a user takes chainrule:
#   install.consumer_project   installs chainrule into a prefix under the build dir, then find_package(chainrule)
#   source.add_subdirectory    add_subdirectory(<this source tree>)
#   source.fetchcontent        FetchContent from a file:// archive of this source tree (no network)
# The two source ways compile the library again inside the consumer (~2.5 CPU-minutes each; label "source").
# Included from tests/CMakeLists.txt.
set(_consumer_flags "")
if(CHAINRULE_SANITIZE)  # the static library then needs the sanitizer runtimes at link time
  set(_consumer_flags "-fsanitize=address,undefined")
endif()
foreach(from package subdirectory fetchcontent)
  set(name install.consumer_project)
  if(NOT from STREQUAL "package")
    set(name source.${from})
    if(from STREQUAL "subdirectory")
      set(name source.add_subdirectory)
    endif()
  endif()
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND}
      -DFROM=${from}
      -DBUILD_DIR=${CMAKE_BINARY_DIR}
      -DWORK_DIR=${CMAKE_BINARY_DIR}/consumer_${from}
      -DSOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}
      -DCHAINRULE_SOURCE=${PROJECT_SOURCE_DIR}
      -DCONFIG=$<CONFIG>
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DCXX_FLAGS=${_consumer_flags}
      -P ${CMAKE_CURRENT_LIST_DIR}/run_consumer_test.cmake)
  set_tests_properties(${name} PROPERTIES TIMEOUT 900)
  if(NOT from STREQUAL "package")
    set_tests_properties(${name} PROPERTIES LABELS source)
  endif()
endforeach()
