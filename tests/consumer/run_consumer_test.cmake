# cmake -P script run by the ctests of consumer_test.cmake. FROM=package: install chainrule from BUILD_DIR into
# WORK_DIR/prefix and build the consumer project with find_package against it; FROM=subdirectory or fetchcontent:
# build the consumer with chainrule's source tree CHAINRULE_SOURCE inside it. Then run the app. Every step starts
# from scratch, so nothing left from an earlier run can hide a fault.
foreach(v FROM BUILD_DIR WORK_DIR SOURCE_DIR CHAINRULE_SOURCE CONFIG GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_consumer_test.cmake: -D${v}=... is required")
  endif()
endforeach()
set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})

function(step what)
  message(STATUS "==> ${what}")
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc})")
  endif()
endfunction()

set(how -DCHAINRULE_FROM=${FROM})
if(FROM STREQUAL "package")
  step("install chainrule into ${prefix}"
       ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${CONFIG})
  # Nothing but chainrule/ at the top of the installed include folder: no bare nn/, autograd/ for a consumer.
  file(GLOB top RELATIVE ${prefix}/include ${prefix}/include/*)
  if(NOT top STREQUAL "chainrule")
    message(FATAL_ERROR "installed include/ holds '${top}', expected only 'chainrule'")
  endif()
  list(APPEND how -DCMAKE_PREFIX_PATH=${prefix})
elseif(FROM STREQUAL "subdirectory")
  list(APPEND how -DCHAINRULE_SOURCE=${CHAINRULE_SOURCE})
else()
  # The archive holds what a release tarball would (the library's sources and its CMake files), not build folders.
  file(MAKE_DIRECTORY ${WORK_DIR})
  step("archive chainrule's source"
       ${CMAKE_COMMAND} -E chdir ${CHAINRULE_SOURCE} ${CMAKE_COMMAND} -E tar czf ${WORK_DIR}/chainrule.tar.gz
       CMakeLists.txt cmake include autograd nn optim teach util)
  list(APPEND how -DCHAINRULE_URL=file://${WORK_DIR}/chainrule.tar.gz)
endif()
step("configure the consumer project (${FROM})"
     ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G "${GENERATOR}"
       -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
       "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CXX_FLAGS}" ${how})
if(FROM STREQUAL "package")
  # The package must come from our prefix, not from some other install on the machine.
  file(STRINGS ${build}/CMakeCache.txt found REGEX "^chainrule_DIR:")
  string(FIND "${found}" "=${prefix}/" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the consumer found chainrule elsewhere: ${found}")
  endif()
endif()
step("build the consumer project" ${CMAKE_COMMAND} --build ${build} --config ${CONFIG} -j2)
find_program(app NAMES app PATHS ${build} ${build}/${CONFIG} NO_DEFAULT_PATH REQUIRED)
step("run the consumer app" ${app})

if(FROM STREQUAL "package")
  # pkg-config, as a Makefile user would: g++ main.cpp $(pkg-config --cflags --libs chainrule), from the prefix.
  find_program(PKG_CONFIG NAMES pkg-config)
  if(PKG_CONFIG)
    file(GLOB pc_file ${prefix}/lib*/chainrule.pc ${prefix}/lib*/*/pkgconfig/chainrule.pc ${prefix}/lib*/pkgconfig/chainrule.pc)
    get_filename_component(pc_dir "${pc_file}" DIRECTORY)
    set(ENV{PKG_CONFIG_PATH} ${pc_dir})
    execute_process(COMMAND ${PKG_CONFIG} --cflags --libs chainrule OUTPUT_VARIABLE pc_flags
                    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "pkg-config --cflags --libs chainrule failed (${rc})")
    endif()
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    separate_arguments(san UNIX_COMMAND "${CXX_FLAGS}")
    step("compile with pkg-config" ${CXX_COMPILER} -std=c++17 -O1 ${san} ${SOURCE_DIR}/main.cpp ${pc_flags} -o ${build}/app_pc)
    step("run the pkg-config app" ${build}/app_pc)
  endif()
endif()
