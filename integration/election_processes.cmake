# Multi-process election tests. Included from integration/CMakeLists.txt:
#   include(election_processes.cmake)
#
# nominee-contender stands for one role in a process of its own and writes a
# history file; election_churn_test runs ten of them against a real server,
# kills, stops and expires them, and checks the histories
# (election_history.hpp) for two holders at once and tokens going back.

# A real process for kill -9 and SIGSTOP (also used by bench/election_bench).
add_executable(nominee-contender ${CMAKE_CURRENT_LIST_DIR}/contender_main.cpp)
target_link_libraries(nominee-contender PRIVATE nominee)

# History parsing and the exclusivity checker (nominee_election_history;
# plain C++, no ZooKeeper, so later fault suites can reuse it) and the
# child-process plumbing (nominee_child_process).
include(${CMAKE_CURRENT_LIST_DIR}/process_support.cmake)

add_executable(election_churn_test ${CMAKE_CURRENT_LIST_DIR}/election_churn_test.cpp)
target_link_libraries(election_churn_test PRIVATE
  nominee_election_history nominee_child_process nominee_test_support ZooKeeper::zookeeper_mt GTest::gtest_main)
# The test starts the contender by path (NOMINEE_CONTENDER in the
# environment overrides it, e.g. for an installed or sanitized build).
target_compile_definitions(election_churn_test PRIVATE
  NOMINEE_CONTENDER_PATH="$<TARGET_FILE:nominee-contender>")
add_dependencies(election_churn_test nominee-contender)
add_test(NAME election_churn_test COMMAND election_churn_test)
set_tests_properties(election_churn_test PROPERTIES LABELS integration TIMEOUT 600)
