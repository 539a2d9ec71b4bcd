# The fault runner (issue 7): nominee-fault-runner plays a seeded schedule
# of faults (kill -9, SIGSTOP, forced expiry, ZooKeeper leader and follower
# kills, partitions through tcp_proxy, affinity flapping, work keys added
# and removed) against real nominee-worker processes on a 3-node ensemble,
# and checks every history with fleet_history. Included from
# integration/CMakeLists.txt beside tcp_proxy.cmake and fleet_history.cmake
# (their targets are named here, resolved when the build is generated).
# (samples/ is configured after integration/: ask the option, not the target.)

# The schedule is pure logic, tested without a server.
add_library(nominee_fault_schedule STATIC ${CMAKE_CURRENT_LIST_DIR}/fault_schedule.cpp)
target_include_directories(nominee_fault_schedule PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_fault_schedule PUBLIC cxx_std_20)

add_executable(fault_schedule_test ${CMAKE_CURRENT_LIST_DIR}/fault_schedule_test.cpp)
target_link_libraries(fault_schedule_test PRIVATE nominee_fault_schedule GTest::gtest_main)
add_test(NAME fault_schedule_test COMMAND fault_schedule_test)
set_tests_properties(fault_schedule_test PROPERTIES LABELS unit TIMEOUT 120)

if(NOT NOMINEE_BUILD_SAMPLES)
  return()
endif()

add_executable(nominee-fault-runner
  ${CMAKE_CURRENT_LIST_DIR}/fault_runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fault_runner_main.cpp)
target_link_libraries(nominee-fault-runner PRIVATE
  nominee_fault_schedule nominee_fleet_history nominee_child_process nominee_tcp_proxy
  nominee_zookeeper_launcher nominee_txn_log_check nominee GTest::gtest)
target_compile_definitions(nominee-fault-runner PRIVATE NOMINEE_WORKER_PATH="$<TARGET_FILE:nominee-worker>")
add_dependencies(nominee-fault-runner nominee-worker)

# The short schedule CI plays on every change (about 3 minutes with set-up
# and checking); scripts/soak.sh plays long ones. Label `fault`: the
# sanitizer runs leave it out (five sanitized workers and three JVMs on two
# cores would test the machine's patience, not the recipes).
add_test(NAME fault_runner_short COMMAND nominee-fault-runner --seed 1 --duration-s 120)
# Alone: the timing bounds it checks are not for a machine running other tests.
set_tests_properties(fault_runner_short PROPERTIES LABELS "integration;fault" TIMEOUT 900 RUN_SERIAL TRUE)
