# The sample worker fleet end to end: real nominee-worker processes against
# a real server, their records and histories checked from outside.
# Included (OPTIONAL) from integration/CMakeLists.txt.
# (samples/ is configured after integration/: ask the option, not the target.)
if(NOT NOMINEE_BUILD_SAMPLES)
  return()
endif()
find_package(nlohmann_json 3.10 REQUIRED)
add_executable(worker_fleet_test ${CMAKE_CURRENT_LIST_DIR}/worker_fleet_test.cpp
  ${PROJECT_SOURCE_DIR}/samples/worker/key_records.cpp)
target_link_libraries(worker_fleet_test PRIVATE
  nominee_divider_history nominee_child_process nominee_test_support nlohmann_json::nlohmann_json GTest::gtest_main)
target_include_directories(worker_fleet_test PRIVATE ${PROJECT_SOURCE_DIR}/samples/worker)
target_compile_definitions(worker_fleet_test PRIVATE NOMINEE_WORKER_PATH="$<TARGET_FILE:nominee-worker>")
add_dependencies(worker_fleet_test nominee-worker)
add_test(NAME worker_fleet_test COMMAND worker_fleet_test)
set_tests_properties(worker_fleet_test PROPERTIES LABELS integration TIMEOUT 600)
