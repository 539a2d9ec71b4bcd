# The divider against a real ZooKeeper. Included (OPTIONAL) from
# CMakeLists.txt. The test computes the assignment itself (assignment.hpp)
# and the owner nodes' paths (key_codec.hpp, work_keys.hpp), which live
# beside the library's sources; it kills a session from outside with the C
# client, as session_test does.
add_executable(divider_test divider_test.cpp)
target_link_libraries(divider_test PRIVATE nominee_test_support nominee_tcp_proxy ZooKeeper::zookeeper_mt GTest::gtest_main)
target_include_directories(divider_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
add_test(NAME divider_test COMMAND divider_test)
set_tests_properties(divider_test PROPERTIES LABELS integration TIMEOUT 600)
