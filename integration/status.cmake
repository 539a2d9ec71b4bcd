# The status endpoint (nominee::status) against a real ZooKeeper, and its
# dashboard rendered by a real browser. Included (OPTIONAL) from
# integration/CMakeLists.txt.
#
#   status_test     /status, /metrics (read by a strict exposition-format
#                   parser), /healthz, and hostile requests over raw sockets
#   dashboard_test  headless Chromium renders the page; the member ids must
#                   be in the DOM its script built; keeps dashboard.png
find_package(nlohmann_json 3.10 REQUIRED)

add_library(nominee_status_test_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/status_http.cpp
  ${CMAKE_CURRENT_LIST_DIR}/status_prometheus.cpp)
target_include_directories(nominee_status_test_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_status_test_support PUBLIC cxx_std_20)
target_link_libraries(nominee_status_test_support PUBLIC Boost::headers Threads::Threads)

add_executable(status_test ${CMAKE_CURRENT_LIST_DIR}/status_test.cpp)
target_link_libraries(status_test PRIVATE
  nominee_status nominee_status_test_support nominee_test_support nlohmann_json::nlohmann_json GTest::gtest_main)
add_test(NAME status_test COMMAND status_test)
set_tests_properties(status_test PROPERTIES LABELS integration TIMEOUT 600)

# Chromium runs as a child process, ended by its PID (child_process.hpp).
include(${CMAKE_CURRENT_LIST_DIR}/process_support.cmake)

add_executable(dashboard_test ${CMAKE_CURRENT_LIST_DIR}/dashboard_test.cpp)
target_link_libraries(dashboard_test PRIVATE
  nominee_status nominee_status_test_support nominee_child_process nominee_test_support GTest::gtest_main)
# The screenshot is kept beside the build's other artifacts.
target_compile_definitions(dashboard_test PRIVATE NOMINEE_STATUS_ARTIFACT_DIR="${PROJECT_BINARY_DIR}")
add_test(NAME dashboard_test COMMAND dashboard_test)
set_tests_properties(dashboard_test PROPERTIES LABELS integration TIMEOUT 600)
