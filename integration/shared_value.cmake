# Shared values against a real server. Included (OPTIONAL) from
# integration/CMakeLists.txt.
add_executable(shared_value_test ${CMAKE_CURRENT_LIST_DIR}/shared_value_test.cpp)
target_link_libraries(shared_value_test PRIVATE nominee_test_support GTest::gtest_main)
# fault_injection.hpp (a lost set reply) lives beside the library's sources.
target_include_directories(shared_value_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
add_test(NAME shared_value_test COMMAND shared_value_test)
set_tests_properties(shared_value_test PROPERTIES LABELS integration TIMEOUT 600)
