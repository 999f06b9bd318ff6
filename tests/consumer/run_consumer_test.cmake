# cmake -P script run by the ctest `install.consumer_project` (see consumer_test.cmake):
# install chainrule from BUILD_DIR into WORK_DIR/prefix, build the consumer project there with the same
# compiler, run it. Every step starts from scratch, so nothing left from an earlier run can hide a fault.
foreach(v BUILD_DIR WORK_DIR SOURCE_DIR CONFIG GENERATOR CXX_COMPILER)
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

step("install chainrule into ${prefix}"
     ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --config ${CONFIG})
step("configure the consumer project"
     ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G "${GENERATOR}"
       -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
       "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CXX_FLAGS}"
       -DCMAKE_PREFIX_PATH=${prefix})
# The package must come from our prefix, not from some other install on the machine.
file(STRINGS ${build}/CMakeCache.txt found REGEX "^chainrule_DIR:")
string(FIND "${found}" "=${prefix}/" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the consumer found chainrule elsewhere: ${found}")
endif()
step("build the consumer project" ${CMAKE_COMMAND} --build ${build} --config ${CONFIG})
find_program(app NAMES app PATHS ${build} ${build}/${CONFIG} NO_DEFAULT_PATH REQUIRED)
step("run the consumer app" ${app})
