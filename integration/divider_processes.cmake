# Multi-process divider tests. Included (OPTIONAL) from
# integration/CMakeLists.txt:
#   include(divider_processes.cmake OPTIONAL)
#
# nominee-divider-member is one divider member in a process of its own,
# writing a history file; divider_churn_test runs five of them on 500 keys
# against a real server, kills them, makes them leave and come back, and
# checks the histories (divider_history.hpp) for a key on two members at
# once, tokens going back, and keys left unowned.

# A real process for kill -9 (NOMINEE_DIVIDER_MEMBER in the environment
# overrides its path for the test, e.g. for an installed or sanitized build).
add_executable(nominee-divider-member ${CMAKE_CURRENT_LIST_DIR}/divider_member_main.cpp)
target_link_libraries(nominee-divider-member PRIVATE nominee)

# The fault log and history basics (nominee_election_history) and the
# child-process plumbing (nominee_child_process); defined once, whichever of
# the two process files is included first.
include(${CMAKE_CURRENT_LIST_DIR}/process_support.cmake)

# History parsing and the per-key exclusivity checker: plain C++, no ZooKeeper.
add_library(nominee_divider_history STATIC ${CMAKE_CURRENT_LIST_DIR}/divider_history.cpp)
target_include_directories(nominee_divider_history PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_divider_history PUBLIC cxx_std_20)
target_link_libraries(nominee_divider_history PUBLIC nominee_election_history)

add_executable(divider_churn_test ${CMAKE_CURRENT_LIST_DIR}/divider_churn_test.cpp)
target_link_libraries(divider_churn_test PRIVATE
  nominee_divider_history nominee_child_process nominee_test_support ZooKeeper::zookeeper_mt GTest::gtest_main)
# key_codec.hpp and work_keys.hpp (the owner nodes' paths) live beside the
# library's sources.
target_include_directories(divider_churn_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
target_compile_definitions(divider_churn_test PRIVATE
  NOMINEE_DIVIDER_MEMBER_PATH="$<TARGET_FILE:nominee-divider-member>")
add_dependencies(divider_churn_test nominee-divider-member)
add_test(NAME divider_churn_test COMMAND divider_churn_test)
set_tests_properties(divider_churn_test PROPERTIES LABELS integration TIMEOUT 600)
