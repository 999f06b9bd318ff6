# Data-parallel training over MPI (chainrule_mpi), each ctest a 2-rank job: mpirun -np 2 --allow-run-as-root
# --oversubscribe (CI runs as root on 2 cores). Included from tests/CMakeLists.txt; without MPI one test says why
# it is skipped.
set(_mpi_cases
  "mpi: the job has two ranks"
  "mpi: fit on 2 ranks gives the weights of one process in float64 with uneven and empty shards"
  "mpi: fit on 2 ranks gives the weights of one process in float32"
  "mpi: fit broadcasts rank 0's initial weights"
  "mpi: checkpoints written by rank 0 resume a distributed and a single-process run"
  "mpi: fit with a sharded optimizer gives the unsharded weights and optimizer state bit for bit"
  "mpi: early stopping and learning-rate schedules decide alike on every rank"
  "mpi: the Fashion-MNIST recipe's network on 2 ranks equals one process to 1e-12 in float64"
  "mpi: overlapped bucketed allreduce gives the weights of one allreduce after backward bit for bit"
  "mpi: allreduce adds in rank order for every length: whole or in pieces"
  "mpi: a sharded optimizer gives the unsharded weights bit for bit and keeps state for its own parameters"
  "mpi: with a sharded optimizer* opt.step() in place of dp.step(opt) is refused at the next step")
if(NOT TARGET chainrule_mpi)
  add_test(NAME mpi.data_parallel COMMAND ${CMAKE_COMMAND} -E echo
           "skipped: chainrule_mpi not built (MPI not found at configure time: apt-get install libopenmpi-dev openmpi-bin, then reconfigure; or CHAINRULE_MPI=OFF)")
  set_tests_properties(mpi.data_parallel PROPERTIES SKIP_REGULAR_EXPRESSION "skipped:")
  return()
endif()

set(_mpirun ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --allow-run-as-root --oversubscribe)
# One BLAS thread per rank (2 ranks on 2 cores); LeakSanitizer off: Open MPI keeps allocations until exit.
set(_mpi_env "OPENBLAS_NUM_THREADS=1;ASAN_OPTIONS=detect_leaks=0")
add_executable(chainrule_mpi_tests ${CMAKE_CURRENT_LIST_DIR}/test_data_parallel_mpi.cpp)
target_link_libraries(chainrule_mpi_tests PRIVATE chainrule_mpi doctest::doctest)
target_include_directories(chainrule_mpi_tests PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_options(chainrule_mpi_tests PRIVATE ${CHAINRULE_WARNINGS} ${CHAINRULE_TEST_OPT})
foreach(tc IN LISTS _mpi_cases)
  string(REGEX REPLACE "^mpi: " "" name "${tc}")
  string(REGEX REPLACE "[^A-Za-z0-9]+" "_" name "${name}")
  add_test(NAME mpi.${name} COMMAND ${_mpirun} $<TARGET_FILE:chainrule_mpi_tests> "-tc=${tc}")
  # A filter that matches nothing (doctest splits -tc at commas) would pass silently: fail on "test cases: 0".
  set_tests_properties(mpi.${name} PROPERTIES TIMEOUT 60 PROCESSORS 2 ENVIRONMENT "${_mpi_env}"
                       FAIL_REGULAR_EXPRESSION "test cases: 0 ")
endforeach()
# The allreduce's rank order on 3 ranks, where it decides the bits (on 2, a + b = b + a).
add_test(NAME mpi.allreduce_rank_order_3_ranks
         COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 --allow-run-as-root --oversubscribe
                 $<TARGET_FILE:chainrule_mpi_tests> "-tc=mpi: allreduce adds in rank order*")
set_tests_properties(mpi.allreduce_rank_order_3_ranks PROPERTIES TIMEOUT 60 PROCESSORS 2 ENVIRONMENT "${_mpi_env}"
                     FAIL_REGULAR_EXPRESSION "test cases: 0 ")

add_executable(chainrule_mpi_faults ${CMAKE_CURRENT_LIST_DIR}/faults.cpp)
target_link_libraries(chainrule_mpi_faults PRIVATE chainrule_mpi)
target_include_directories(chainrule_mpi_faults PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_options(chainrule_mpi_faults PRIVATE ${CHAINRULE_WARNINGS} ${CHAINRULE_TEST_OPT})
function(mpi_fault_test mode expect)
  add_test(NAME mpi.fault.${mode} COMMAND ${CMAKE_COMMAND}
           -DMPIEXEC=${MPIEXEC_EXECUTABLE} -DNP_FLAG=${MPIEXEC_NUMPROC_FLAG}
           -DPROGRAM=$<TARGET_FILE:chainrule_mpi_faults> -DMODE=${mode} -DEXPECT=${expect} ${ARGN}
           -P ${CMAKE_CURRENT_LIST_DIR}/run_mpi.cmake)
  set_tests_properties(mpi.fault.${mode} PROPERTIES TIMEOUT 90 PROCESSORS 2 ENVIRONMENT "${_mpi_env}")
endfunction()
mpi_fault_test(throw nonzero "-DMATCH=chainrule: rank 1 of 2: Model::fit: injected failure in allreduce 3")
mpi_fault_test(die nonzero "-DMATCH=rank 1[^\n]*(signal 9|Killed)")
mpi_fault_test(mismatch nonzero
               "-DMATCH=chainrule: rank 1 of 2: Model::fit: rank 1 has training rows = 99, rank 0 has 100")
mpi_fault_test(print zero "-DMATCH=finished: 2 epochs" "-DCOUNT_OF=Epoch [0-9]/2" -DCOUNT=2)
