# The space split against a real ZooKeeper. Included (OPTIONAL) from
# integration/CMakeLists.txt. The test computes the assignment itself
# (assignment.hpp, beside the library's sources) and ends a member's session
# from outside with the C client, as divider_test does.
add_executable(space_split_test ${CMAKE_CURRENT_LIST_DIR}/space_split_test.cpp)
target_link_libraries(space_split_test PRIVATE nominee_test_support ZooKeeper::zookeeper_mt GTest::gtest_main)
target_include_directories(space_split_test PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
add_test(NAME space_split_test COMMAND space_split_test)
set_tests_properties(space_split_test PROPERTIES LABELS integration TIMEOUT 600)

# With the samples, the same binary runs the proof-of-work sample end to end
# (two nominee-pow processes, ended by PID). samples/ is configured after
# integration/: ask the option, not the target.
if(NOMINEE_BUILD_SAMPLES)
  include(${CMAKE_CURRENT_LIST_DIR}/process_support.cmake)
  target_link_libraries(space_split_test PRIVATE nominee_child_process)
  target_compile_definitions(space_split_test PRIVATE NOMINEE_POW_PATH="$<TARGET_FILE:nominee-pow>")
  add_dependencies(space_split_test nominee-pow)
endif()
