# The fault runner's checker (fleet_history.hpp): the sample workers'
# histories, roles, keys, range values and key records, checked together.
# Plain C++, no ZooKeeper. Included from integration/CMakeLists.txt after
# divider_processes.cmake (nominee_divider_history).
add_library(nominee_fleet_history STATIC ${CMAKE_CURRENT_LIST_DIR}/fleet_history.cpp)
target_include_directories(nominee_fleet_history PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_fleet_history PUBLIC cxx_std_20)
target_link_libraries(nominee_fleet_history PUBLIC nominee_divider_history)

# The checker on made-up histories (scratch_dir from nominee_child_process
# for the file variant).
add_executable(fleet_history_test ${CMAKE_CURRENT_LIST_DIR}/fleet_history_test.cpp)
target_link_libraries(fleet_history_test PRIVATE nominee_fleet_history nominee_child_process GTest::gtest_main)
add_test(NAME fleet_history_test COMMAND fleet_history_test)
set_tests_properties(fleet_history_test PROPERTIES LABELS unit TIMEOUT 120)
