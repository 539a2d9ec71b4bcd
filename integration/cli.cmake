# The admin API (divider_admin, divider_watch) and the nominee CLI against a
# real ZooKeeper. Included (OPTIONAL) from CMakeLists.txt. Both suites run
# divider members in the test process and compute the assignment
# themselves (assignment.hpp, beside the library's sources).

# The CLI is a sample: build it here too when the samples are off, so the
# test always has it.
if(NOT TARGET nominee_cli AND NOT NOMINEE_BUILD_SAMPLES)
  add_subdirectory(${PROJECT_SOURCE_DIR}/samples/cli ${CMAKE_CURRENT_BINARY_DIR}/cli-sample)
endif()

add_executable(divider_admin_test ${CMAKE_CURRENT_LIST_DIR}/divider_admin_test.cpp)
target_link_libraries(divider_admin_test PRIVATE nominee_test_support GTest::gtest_main)
target_include_directories(divider_admin_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
add_test(NAME divider_admin_test COMMAND divider_admin_test)
set_tests_properties(divider_admin_test PROPERTIES LABELS integration TIMEOUT 600)

# The binary as a child process (NOMINEE_CLI in the environment overrides
# the path, e.g. for an installed build).
find_package(nlohmann_json 3.10 REQUIRED)
add_executable(cli_test ${CMAKE_CURRENT_LIST_DIR}/cli_test.cpp)
target_link_libraries(cli_test PRIVATE nominee_test_support nlohmann_json::nlohmann_json GTest::gtest_main)
target_include_directories(cli_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
target_compile_definitions(cli_test PRIVATE NOMINEE_CLI_PATH="$<TARGET_FILE:nominee_cli>")
add_dependencies(cli_test nominee_cli)
add_test(NAME cli_test COMMAND cli_test)
set_tests_properties(cli_test PROPERTIES LABELS integration TIMEOUT 600)
