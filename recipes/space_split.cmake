# The space split (a numeric space cut into ranges, processed by the members
# of a divider) and its pure unit tests. Included from
# recipes/CMakeLists.txt.
target_sources(nominee PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/range_keys.cpp
  ${CMAKE_CURRENT_LIST_DIR}/space_split.cpp
  ${CMAKE_CURRENT_LIST_DIR}/space_split_core.cpp)

if(NOMINEE_BUILD_TESTS)
  target_sources(nominee_unit_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/range_keys_test.cpp)
endif()
