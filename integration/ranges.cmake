# Range leases against a real server. Included (OPTIONAL) from
# integration/CMakeLists.txt.
#
#   ranges_test             in one process: bad input, uniqueness across
#                           consumers and a session expiry, sizing, a
#                           reclaimed tail, exhaustion
#   range_churn_test        8 nominee-range-consumer processes draw values
#                           while the coordinator and a consumer are killed
#                           (kill -9); every value seen must be unique

add_executable(ranges_test ${CMAKE_CURRENT_LIST_DIR}/ranges_test.cpp)
target_link_libraries(ranges_test PRIVATE nominee_test_support GTest::gtest_main)
add_test(NAME ranges_test COMMAND ranges_test)
set_tests_properties(ranges_test PROPERTIES LABELS integration TIMEOUT 600)

# A real process for kill -9 (NOMINEE_RANGE_CONSUMER in the environment
# overrides its path for the test).
add_executable(nominee-range-consumer ${CMAKE_CURRENT_LIST_DIR}/range_consumer_main.cpp)
target_link_libraries(nominee-range-consumer PRIVATE nominee)

include(${CMAKE_CURRENT_LIST_DIR}/process_support.cmake)

add_executable(range_churn_test ${CMAKE_CURRENT_LIST_DIR}/range_churn_test.cpp)
target_link_libraries(range_churn_test PRIVATE nominee_child_process nominee_test_support GTest::gtest_main)
target_compile_definitions(range_churn_test PRIVATE
  NOMINEE_RANGE_CONSUMER_PATH="$<TARGET_FILE:nominee-range-consumer>")
add_dependencies(range_churn_test nominee-range-consumer)
add_test(NAME range_churn_test COMMAND range_churn_test)
set_tests_properties(range_churn_test PROPERTIES LABELS integration TIMEOUT 600)
